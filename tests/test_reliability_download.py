"""The download cache trusts nothing it has not checked (local HTTP server, no internet)."""

from __future__ import annotations

import hashlib
import json

import pytest
from ingest_helpers import GAF_ROWS, gaf_text, write_text, write_tiny_sources

from genen_core.store import GraphStore
from ingest.cli import main
from ingest.download import cache_entry, download
from ingest.errors import IngestError
from ingest.formats import check_format
from ingest.sources import SourcesConfig, catalog, resolve_sources
from tests.httpserver import http_server_fixture  # noqa: F401  (registers http_server)

HTML = b"<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>\n"
FILES = catalog("12", 9606)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gets(server, name: str) -> int:
    return sum(r.method == "GET" and r.path == f"/{name}" for r in server.requests)


@pytest.fixture
def served(http_server):
    """The tiny raw files under their catalog names on the local server."""
    write_tiny_sources(http_server.root)
    return http_server


def resolve(server, tmp_path, **kwargs):
    cfg = SourcesConfig(mirror=server.url, retries=0, **kwargs)
    return resolve_sources(cfg, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("key", ["gaf", "obo", "links"])
def test_html_page_with_status_200_is_never_cached(served, tmp_path, key):
    name = FILES[key].name
    good = (served.root / name).read_bytes()
    (served.root / name).write_bytes(HTML)
    with pytest.raises(IngestError) as e:
        resolve(served, tmp_path)
    assert served.url_for(name) in str(e.value) and "<!DOCTYPE html>" in str(e.value)
    assert "Nothing was cached" in str(e.value)
    assert not cache_entry(served.url_for(name), tmp_path / "cache").parent.exists()
    # Once the server sends the real file, the next run is not stuck on the page.
    (served.root / name).write_bytes(good)
    assert resolve(served, tmp_path)[key].sha256 == sha(good)


def test_cached_bytes_changed_on_disk_are_downloaded_again(served, tmp_path):
    name = FILES["links"].name
    real = (served.root / name).read_bytes()
    first = resolve(served, tmp_path)["links"]
    tampered = bytearray(first.path.read_bytes())
    tampered[-5] ^= 0xFF  # same size; the sidecar still records the original digest
    first.path.write_bytes(bytes(tampered))
    again = resolve(served, tmp_path)["links"]
    assert gets(served, name) == 2
    assert again.sha256 == sha(real) == sha(again.path.read_bytes())


def test_cached_entry_of_the_wrong_format_is_replaced(served, tmp_path):
    """An error page cached by an older version (sidecar and all) is not used."""
    url = served.url_for(FILES["obo"].name)
    final = cache_entry(url, tmp_path / "cache")
    final.parent.mkdir(parents=True)
    final.write_bytes(HTML)
    final.with_name(final.name + ".sha256").write_text(f"{sha(HTML)}  {final.name}\n")
    got, digest = download(url, tmp_path / "cache", check=check_format("obo"))
    assert digest == sha((served.root / FILES["obo"].name).read_bytes())
    assert got.read_bytes().startswith(b"format-version:")


def test_refresh_drops_the_cache_entry(served, tmp_path):
    name = FILES["gaf"].name
    resolve(served, tmp_path)
    resolve(served, tmp_path)
    assert gets(served, name) == 1
    resolve(served, tmp_path, refresh=True)
    assert gets(served, name) == 2


def test_written_pins_are_required_by_a_later_run(served, tmp_path):
    pins = tmp_path / "pins.json"
    first = resolve(served, tmp_path, write_pins=str(pins))
    written = json.loads(pins.read_text())
    assert set(written) == {"links", "info", "obo", "gaf"}
    assert {k: v["sha256"] for k, v in written.items()} == {k: f.sha256 for k, f in first.items()}
    assert resolve(served, tmp_path, pins=str(pins)) == first
    # The remote file changes (a new "current" release): the pinned run refuses it.
    write_text(served.root / FILES["gaf"].name, gaf_text(GAF_ROWS[:-1]))
    with pytest.raises(IngestError, match=rf"sha256 mismatch for {FILES['gaf'].name}"):
        resolve(served, tmp_path, pins=str(pins), refresh=True)


def test_incomplete_pin_file_fails_before_any_download(served, tmp_path):
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps({"links": {"sha256": "0" * 64}}))
    with pytest.raises(IngestError, match=r"no digest for \['info', 'obo', 'gaf'\]"):
        resolve(served, tmp_path, pins=str(pins))
    assert not served.requests
    pins.write_text("not json")
    with pytest.raises(IngestError, match="unreadable"):
        resolve(served, tmp_path, pins=str(pins))


def test_manifest_records_the_hash_of_the_bytes_read(served, tmp_path, capsys):
    out = tmp_path / "store"
    args = ["--out", str(out), "--mirror", served.url, "--cache-dir", str(tmp_path / "cache")]
    pins = tmp_path / "pins.json"
    assert main([*args, "--write-pins", str(pins)]) == 0  # the flat form of sources.write_pins
    name = FILES["links"].name
    served_digest = sha((served.root / name).read_bytes())
    assert GraphStore(out).manifest["sources"]["links"]["sha256"] == served_digest
    assert json.loads(pins.read_text())["links"]["sha256"] == served_digest
    cached = cache_entry(served.url_for(name), tmp_path / "cache")
    cached.write_bytes(b"tampered")
    assert main([*args, "--force"]) == 0
    recorded = GraphStore(out).manifest["sources"]["links"]
    assert recorded["sha256"] == served_digest == sha(open(recorded["path"], "rb").read())
    assert main([*args, "--force", "--refresh", "--pins", str(pins)]) == 0
    assert gets(served, name) == 3


@pytest.mark.parametrize("species", [9606, 10090])
def test_catalog_urls_are_https(species):
    assert all(f.url.startswith("https://") for f in catalog("12", species).values())


def truncated(name_path) -> bytes:
    """The gzip file cut short: right magic and first line, no end-of-stream marker."""
    data = name_path.read_bytes()
    return data[: len(data) * 2 // 3]


def test_truncated_gzip_download_is_never_cached(served, tmp_path):
    path = served.root / FILES["gaf"].name
    good = path.read_bytes()
    path.write_bytes(truncated(path))  # served with its own (right) Content-Length
    with pytest.raises(IngestError, match="truncated or corrupt.*Nothing was cached"):
        resolve(served, tmp_path)
    assert not cache_entry(served.url_for(path.name), tmp_path / "cache").parent.exists()
    path.write_bytes(good)
    assert resolve(served, tmp_path)["gaf"].sha256 == sha(good)


def test_cached_download_that_fails_to_parse_names_refresh(served, tmp_path, capsys):
    """A cut-short file cached by an older version: the error says how to get past it."""
    name = FILES["links"].name
    cached = cache_entry(served.url_for(name), tmp_path / "cache")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(truncated(served.root / name))
    cached.with_name(name + ".sha256").write_text(f"{sha(cached.read_bytes())}  {name}\n")
    args = ["--out", str(tmp_path / "store"), "--mirror", served.url]
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert f"{name} is a cached download" in line and "--refresh fetches it again" in line


@pytest.mark.parametrize("where", ["folder", "missing folder"])
def test_write_pins_to_a_folder_is_one_line_before_any_download(served, tmp_path, capsys, where):
    target = tmp_path / "pins" if where == "folder" else tmp_path / "absent" / "pins.json"
    if where == "folder":
        target.mkdir()
    args = ["--out", str(tmp_path / "store"), "--mirror", served.url, "--write-pins", str(target)]
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert f"write_pins={str(target)!r} must be a file path" in line
    assert not served.requests and not list(tmp_path.glob("**/*.partial"))
    assert not (tmp_path / "store").exists()
