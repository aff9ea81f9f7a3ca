"""Source resolution and downloads against a local HTTP server (no internet)."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from genen_core.config import load_config
from ingest.download import cache_entry, download
from ingest.errors import IngestError
from ingest.sources import SourcesConfig, catalog, resolve_sources
from tests.httpserver import http_server_fixture  # noqa: F401  (registers http_server)


def write_catalog_files(root: Path, species: int = 9606, version: str = "12", seed: int = 0):
    """Small generated files under their catalog names; returns key -> bytes."""
    rng = np.random.default_rng(seed)
    ids = [f"{species}.ENSP{n:011d}" for n in rng.choice(10**6, 400, replace=False)]
    a, b = rng.integers(0, len(ids), (2, 20_000))
    links = "protein1 protein2 combined_score\n" + "".join(
        f"{ids[i]} {ids[j]} {s}\n"
        for i, j, s in zip(a, b, rng.integers(150, 1000, len(a)), strict=True)
    )
    info = "#string_protein_id\tpreferred_name\tprotein_size\tannotation\n" + "".join(
        f"{p}\tG{k}\t{rng.integers(50, 3000)}\tProtein {k}.\n" for k, p in enumerate(ids)
    )
    aliases = "#string_protein_id\talias\tsource\n" + "".join(
        f"{p}\tG{k}\tEnsembl\n" for k, p in enumerate(ids)
    )
    obo = "format-version: 1.2\ndata-version: releases/2024-01-01\n\n" + "".join(
        f"[Term]\nid: GO:{k:07d}\nname: term {k}\nnamespace: biological_process\n\n"
        for k in range(300)
    )
    gaf_rows = (
        ["UniProtKB", f"P{k:05d}", f"G{k % len(ids)}", "", f"GO:{k % 300:07d}", "PMID:1", "IDA"]
        + ["", "P", "", "", "protein", f"taxon:{species}", "20200101", "UniProt", "", ""]
        for k in range(2000)
    )
    gaf = "!gaf-version: 2.1\n" + "".join("\t".join(row) + "\n" for row in gaf_rows)
    files = catalog(version, species)
    content = {
        "links": gzip.compress(links.encode()),
        "info": gzip.compress(info.encode()),
        "aliases": gzip.compress(aliases.encode()),
        "obo": obo.encode(),
        "gaf": gzip.compress(gaf.encode()),
    }
    root.mkdir(parents=True, exist_ok=True)
    for key, data in content.items():
        (root / files[key].name).write_bytes(data)
    return content


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gets(server, name: str):
    return [r for r in server.requests if r.method == "GET" and r.path == f"/{name}"]


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.fixture
def mirror(http_server):
    """The server with the catalog files; returns (server, key -> bytes, catalog)."""
    content = write_catalog_files(http_server.root)
    return http_server, content, catalog("12", 9606)


def test_mirror_end_to_end(mirror, tmp_path):
    server, content, files = mirror
    cfg = SourcesConfig(mirror=server.url, with_aliases=True, retry_wait=0)
    got = resolve_sources(cfg, cache_dir=tmp_path / "cache")
    assert list(got) == ["links", "info", "aliases", "obo", "gaf"]
    for key, f in got.items():
        assert f.key == key
        assert f.path.read_bytes() == content[key]
        assert f.sha256 == sha(content[key])
        assert f.url == server.url_for(files[key].name)
        assert f.path.is_relative_to(tmp_path / "cache")
        assert len(gets(server, files[key].name)) == 1
        sidecar = f.path.with_name(f.path.name + ".sha256")
        assert sidecar.read_text() == f"{f.sha256}  {f.path.name}\n"
    assert got["links"].release == "12.0"
    assert got["obo"].release == "current"
    assert not [p for p in files_under(tmp_path / "cache") if p.name.endswith(".part")]


def test_aliases_only_on_request(mirror, tmp_path):
    server, _, _ = mirror
    got = resolve_sources(SourcesConfig(mirror=server.url), cache_dir=tmp_path / "cache")
    assert sorted(got) == ["gaf", "info", "links", "obo"]


def test_cached_rerun_makes_no_request(mirror, tmp_path):
    server, content, _ = mirror
    cfg = SourcesConfig(mirror=server.url, sha256={"links": sha(content["links"])})
    first = resolve_sources(cfg, cache_dir=tmp_path / "cache")
    sent = len(server.requests)
    assert sent == 4
    second = resolve_sources(cfg, cache_dir=tmp_path / "cache")
    assert len(server.requests) == sent
    assert second == first


def test_dropped_connection_resumes_with_range(mirror, tmp_path):
    server, content, files = mirror
    name = files["links"].name
    server.drop_after = len(content["links"]) // 2
    path, digest = download(server.url_for(name), tmp_path / "cache", retries=2, retry_wait=0)
    first, second = gets(server, name)
    assert "Range" not in first.headers
    start = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= len(content["links"]) // 2
    assert digest == sha(content["links"])
    assert path.read_bytes() == content["links"]


def test_killed_run_leaves_part_and_next_run_resumes(mirror, tmp_path):
    server, content, files = mirror
    name = files["links"].name
    url = server.url_for(name)
    server.drop_after = len(content["links"]) // 3
    with pytest.raises(IngestError, match=url):
        download(url, tmp_path / "cache", retries=0)
    final = cache_entry(url, tmp_path / "cache")
    part = final.with_name(final.name + ".part")
    # Nothing that looks finished: no final file, no sidecar, only the partial bytes.
    assert files_under(tmp_path / "cache") == [part]
    have = part.stat().st_size
    assert 0 < have <= len(content["links"]) // 3
    path, digest = download(url, tmp_path / "cache", retries=0)
    assert gets(server, name)[-1].headers["Range"] == f"bytes={have}-"
    assert digest == sha(content["links"]) and path.read_bytes() == content["links"]
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(mirror, tmp_path):
    server, content, files = mirror
    name = files["info"].name
    server.drop_after = len(content["info"]) // 2
    server.ignore_range = True
    path, digest = download(server.url_for(name), tmp_path / "cache", retries=1, retry_wait=0)
    assert "Range" in gets(server, name)[1].headers
    assert digest == sha(content["info"])
    assert path.read_bytes() == content["info"]


def test_unusable_part_is_discarded(mirror, tmp_path):
    """A .part longer than the remote file (the remote changed): 416, then a clean restart."""
    server, content, files = mirror
    url = server.url_for(files["gaf"].name)
    final = cache_entry(url, tmp_path / "cache")
    final.parent.mkdir(parents=True)
    final.with_name(final.name + ".part").write_bytes(b"x" * (len(content["gaf"]) + 10))
    path, digest = download(url, tmp_path / "cache", retries=0)
    assert digest == sha(content["gaf"]) and path.read_bytes() == content["gaf"]


def test_checksum_mismatch_fails_and_keeps_nothing(mirror, tmp_path):
    server, content, files = mirror
    wrong = sha(b"another release")
    cfg = SourcesConfig(mirror=server.url, sha256={"obo": wrong})
    with pytest.raises(IngestError) as e:
        resolve_sources(cfg, cache_dir=tmp_path / "cache")
    msg = str(e.value)
    assert files["obo"].name in msg and wrong in msg and sha(content["obo"]) in msg
    cached_obo = [p for p in files_under(tmp_path / "cache") if p.name.startswith("go-basic")]
    assert cached_obo == []


def test_cached_file_with_other_pin_is_fetched_again(mirror, tmp_path):
    server, content, files = mirror
    url = server.url_for(files["obo"].name)
    download(url, tmp_path / "cache")
    (server.root / files["obo"].name).write_bytes(b"format-version: 1.2\n")
    path, digest = download(url, tmp_path / "cache", sha256=sha(b"format-version: 1.2\n"))
    assert len(gets(server, files["obo"].name)) == 2
    assert path.read_bytes() == b"format-version: 1.2\n"


@pytest.mark.parametrize("code", [404, 403])
def test_http_error_names_url_and_status(mirror, tmp_path, code):
    server, _, files = mirror
    server.status[f"/{files['links'].name}"] = code
    with pytest.raises(IngestError, match=rf"{server.url_for(files['links'].name)}.*{code}"):
        resolve_sources(SourcesConfig(mirror=server.url, retries=3), cache_dir=tmp_path / "c")
    assert len(gets(server, files["links"].name)) == 1  # a 4xx is not retried


def test_server_errors_are_retried(mirror, tmp_path):
    server, content, files = mirror
    url = server.url_for(files["info"].name)
    server.fail_next = [503, 502]
    path, digest = download(url, tmp_path / "cache", retries=2, retry_wait=0)
    assert len(gets(server, files["info"].name)) == 3 and digest == sha(content["info"])
    server.fail_next = [503, 503]
    with pytest.raises(IngestError, match="503"):
        download(url + "?v=2", tmp_path / "cache", retries=1, retry_wait=0)


def test_source_dir_finds_catalog_names_recursively(tmp_path):
    content = write_catalog_files(tmp_path / "data" / "string")
    files = catalog("12", 9606)
    (tmp_path / "data" / "string" / files["obo"].name).rename(tmp_path / "data" / files["obo"].name)
    cfg = SourcesConfig(source_dir=str(tmp_path / "data"))
    got = resolve_sources(cfg, cache_dir=tmp_path / "cache")
    assert got["obo"].path == (tmp_path / "data" / files["obo"].name).resolve()
    for key, f in got.items():
        assert f.sha256 == sha(content[key]) and f.url == f.path.as_uri()
    assert got["links"].release == "12.0"
    assert not (tmp_path / "cache").exists()  # offline: nothing downloaded, nothing cached


def test_source_dir_tagged_names_and_ambiguity(tmp_path):
    data = tmp_path / "data"
    write_catalog_files(data)
    (data / "go-basic.obo").rename(data / "go-basic.2022-07-01.obo")
    got = resolve_sources(SourcesConfig(source_dir=str(data)), cache_dir=tmp_path / "c")
    assert got["obo"].path.name == "go-basic.2022-07-01.obo"
    assert got["obo"].release == "2022-07-01"
    (data / "sub").mkdir()
    (data / "sub" / "go-basic.2023-01-01.obo.gz").write_bytes(b"")
    with pytest.raises(IngestError, match="several candidates.*go-basic.2022-07-01.obo"):
        resolve_sources(SourcesConfig(source_dir=str(data)), cache_dir=tmp_path / "c")
    got = resolve_sources(
        SourcesConfig(source_dir=str(data), obo=str(data / "sub" / "go-basic.2023-01-01.obo.gz")),
        cache_dir=tmp_path / "c",
    )
    assert got["obo"].release == "2023-01-01"


def test_source_dir_missing_file_names_it(tmp_path):
    write_catalog_files(tmp_path / "data")
    (tmp_path / "data" / "goa_human.gaf.gz").unlink()
    with pytest.raises(IngestError, match=r"gaf: no file named goa_human\.gaf\.gz"):
        resolve_sources(SourcesConfig(source_dir=str(tmp_path / "data")), cache_dir=tmp_path / "c")


def test_source_dir_real_shared_data(shared_data, tmp_path):
    got = resolve_sources(SourcesConfig(source_dir=str(shared_data)), cache_dir=tmp_path / "c")
    assert got["links"].path.name == "9606.protein.links.v12.0.hc-subset.txt.gz"
    assert got["info"].path.name == "9606.protein.info.v12.0.txt.gz"
    assert got["obo"].release == "2022-07-01" and got["gaf"].release == "2019-01-14"
    assert got["gaf"].sha256 == sha(got["gaf"].path.read_bytes())


def test_explicit_beats_source_dir_beats_mirror(mirror, tmp_path):
    server, content, files = mirror
    local = tmp_path / "local"
    local_content = write_catalog_files(local, seed=1)
    own_info = tmp_path / "my_info.tsv"
    own_info.write_text("#string_protein_id\tpreferred_name\tprotein_size\tannotation\n")
    cfg = SourcesConfig(
        mirror=server.url,
        source_dir=str(local),
        info=str(own_info),
        gaf=server.url_for(files["gaf"].name),
    )
    got = resolve_sources(cfg, cache_dir=tmp_path / "cache")
    assert got["info"].path == own_info.resolve() and got["info"].release == "12.0"
    assert got["links"].sha256 == sha(local_content["links"])  # source_dir over mirror
    assert got["gaf"].sha256 == sha(content["gaf"]) and got["gaf"].release == "current"
    assert [r.path for r in server.requests] == [f"/{files['gaf'].name}"]


def test_file_mirror_reads_in_place(tmp_path):
    content = write_catalog_files(tmp_path / "mirror dir")
    cfg = SourcesConfig(mirror=(tmp_path / "mirror dir").as_uri())
    got = resolve_sources(cfg, cache_dir=tmp_path / "cache")
    assert got["gaf"].path == (tmp_path / "mirror dir" / "goa_human.gaf.gz").resolve()
    assert {k: f.sha256 for k, f in got.items()} == {k: sha(content[k]) for k in got}
    assert not (tmp_path / "cache").exists()


def test_local_pin_mismatch_keeps_user_file(tmp_path):
    write_catalog_files(tmp_path / "data")
    wrong = sha(b"x")
    cfg = SourcesConfig(source_dir=str(tmp_path / "data"), sha256={"info": wrong})
    with pytest.raises(IngestError, match=f"info file .*9606.protein.info.v12.0.txt.gz.*{wrong}"):
        resolve_sources(cfg, cache_dir=tmp_path / "c")
    assert (tmp_path / "data" / "9606.protein.info.v12.0.txt.gz").is_file()


def test_missing_explicit_path(tmp_path):
    cfg = SourcesConfig(source_dir=str(tmp_path), links=str(tmp_path / "nope.txt.gz"))
    with pytest.raises(IngestError, match=r"links: .*nope\.txt\.gz .*does not exist"):
        resolve_sources(cfg, cache_dir=tmp_path / "c")


def test_catalog_urls():
    v12 = catalog("12", 9606)
    assert v12["links"].url == (
        "https://stringdb-downloads.org/download/protein.links.v12.0/9606.protein.links.v12.0.txt.gz"
    )
    assert v12["gaf"].url.endswith("/goa_human.gaf.gz")
    mouse = catalog("11.5", 10090)
    assert mouse["info"].url == (
        "https://stringdb-static.org/download/protein.info.v11.5/10090.protein.info.v11.5.txt.gz"
    )
    assert mouse["gaf"].name == "mgi.gaf.gz"
    assert catalog("11.0", 9606)["aliases"].name == "9606.protein.aliases.v11.0.txt.gz"
    assert "gaf" not in catalog("12", 511145)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"string_version": "13"}, r"string_version='13'.*12\.0, 11\.5, 11\.0"),
        ({"species": 511145}, r"species=511145 has no GO annotation.*9606 \(goa_human\)"),
        ({"species": -1}, "species=-1"),
        ({"mirror": "/some/dir"}, "use source_dir"),
        ({"sha256": {"link": "0" * 64}}, r"unknown keys \['link'\]"),
        ({"sha256": {"links": "abc"}}, "sha256.links='abc'"),
        ({"retries": -1}, "retries=-1"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SourcesConfig(**kwargs)


def test_config_loads_from_overrides():
    pin = "a" * 64
    cfg = load_config(
        SourcesConfig,
        overrides=["--string-version", "11.5", "--species", "10090", f"--sha256.links={pin}"],
    )
    assert (cfg.string_version, cfg.species, cfg.sha256) == ("11.5", 10090, {"links": pin})
    assert load_config(SourcesConfig, overrides=["--string_version", "12"]).string_version == "12.0"
    assert SourcesConfig(species=511145, gaf="x.gaf").gaf == "x.gaf"
