"""GAF reading: the real 2019 GOA file against a pandas recount, fates, filters, errors."""

from __future__ import annotations

import gzip

import duckdb
import pandas as pd
import pytest

from ingest.errors import IngestError
from ingest.gaf import read_gaf
from ingest.go import parse_obo

GAF = "go/goa_human.2019-01-14.gaf.gz"
HEADER = "!gaf-version: 2.2\n!date-generated: 2024-05-01T10:00\n!generated-by: test\n"


@pytest.fixture(scope="module")
def tiny_go(tmp_path_factory):
    """GO:1 (alt GO:10) <- GO:2, and obsolete GO:3 (alt GO:11)."""
    path = tmp_path_factory.mktemp("go") / "tiny.obo"
    path.write_text(
        "format-version: 1.2\ndata-version: releases/2024-01-01\n\n"
        "[Term]\nid: GO:0000001\nname: root\nnamespace: biological_process\nalt_id: GO:0000010\n\n"
        "[Term]\nid: GO:0000002\nname: child\nnamespace: biological_process\nis_a: GO:0000001\n\n"
        "[Term]\nid: GO:0000003\nname: old\nnamespace: biological_process\nalt_id: GO:0000011\n"
        "is_obsolete: true\n"
    )
    return parse_obo(path)


def line(symbol, go_id, qualifier="", evidence="IDA", aspect="P", columns=17):
    fields = ["UniProtKB", f"P{symbol}", symbol, qualifier, go_id, "PMID:1", evidence, ""]
    fields += [
        aspect,
        "protein name",
        symbol,
        "protein",
        "taxon:9606",
        "20240101",
        "UniProt",
        "",
        "",
    ]
    return "\t".join(fields[:columns]) + "\n"


# (line, fate) for the tiny ontology; the fates are what the module docstring defines.
LINES = [
    (line("A", "GO:0000001"), "kept"),
    (line("A", "GO:0000001", evidence="IEA"), "duplicate"),
    (line("A", "GO:0000010"), "alt_mapped"),
    (line("B", "GO:0000002", qualifier="NOT"), "not_qualified"),
    (line("B", "GO:0000002", qualifier="NOT|enables", aspect="F"), "not_qualified"),
    (line("B", "GO:0000003"), "obsolete_dropped"),
    (line("B", "GO:0000011"), "obsolete_dropped"),  # alt id of an obsolete term
    (line("C", "GO:9999999"), "unknown_dropped"),
    (line("C", "GO:0000002", evidence="IEA", aspect="C"), "kept"),
    (line("B", "GO:0000002", qualifier="contributes_to", aspect="F", columns=15), "kept"),
]


@pytest.fixture
def tiny_gaf(tmp_path):
    path = tmp_path / "tiny.gaf"
    path.write_text(HEADER + "".join(text for text, _ in LINES))
    return path


def test_fates_and_stats(tiny_go, tiny_gaf):
    pairs, stats = read_gaf(tiny_gaf, tiny_go)
    assert pairs.to_pylist() == [
        {"gene": "A", "go_id": "GO:0000001"},
        {"gene": "B", "go_id": "GO:0000002"},
        {"gene": "C", "go_id": "GO:0000002"},
    ]
    fates = [fate for _, fate in LINES]
    assert stats == {
        "rows": len(LINES),
        "kept": 3,
        "aspect_dropped": 0,
        "evidence_dropped": 0,
        "not_qualified": fates.count("not_qualified"),
        "obsolete_dropped": fates.count("obsolete_dropped"),
        "unknown_dropped": fates.count("unknown_dropped"),
        "alt_mapped": fates.count("alt_mapped"),
        # lines kept: A-1 three times (one via alt id), B-2 once, C-2 once.
        "duplicates": 2,
        "genes": 3,
        "release": "2024-05-01T10:00",
    }


def test_evidence_and_aspect_filters(tiny_go, tiny_gaf):
    no_iea, stats = read_gaf(tiny_gaf, tiny_go, evidence_drop=["IEA"])
    assert stats["evidence_dropped"] == 2
    assert no_iea.to_pylist() == [
        {"gene": "A", "go_id": "GO:0000001"},
        {"gene": "B", "go_id": "GO:0000002"},
    ]
    only_ida, stats_keep = read_gaf(tiny_gaf, tiny_go, evidence_keep=["IDA"])
    assert only_ida.equals(no_iea) and stats_keep == stats
    process, stats = read_gaf(tiny_gaf, tiny_go, aspects=["P"])
    assert process["gene"].to_pylist() == ["A"]
    # Aspect is tested first, so the F-aspect NOT line counts as aspect_dropped.
    assert (stats["aspect_dropped"], stats["not_qualified"]) == (3, 1)
    with pytest.raises(ValueError, match="X"):
        read_gaf(tiny_gaf, tiny_go, aspects=["P", "X"])


def test_gzip_detected_by_content_and_connection_left_clean(tiny_go, tiny_gaf, tmp_path):
    packed = tmp_path / "annotations.txt"  # gzip without a .gz name
    packed.write_bytes(gzip.compress(tiny_gaf.read_bytes()))
    con = duckdb.connect()
    con.execute("CREATE TABLE mine AS SELECT 1 AS x")
    pairs, _ = read_gaf(packed, tiny_go, con=con)
    assert pairs.equals(read_gaf(tiny_gaf, tiny_go)[0])
    assert [
        t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    ] == ["mine"]


def test_real_gaf_matches_pandas_recount(shared_data, real_go):
    pairs, stats = read_gaf(shared_data / GAF, real_go)
    with gzip.open(shared_data / GAF, "rt") as f:
        # Columns 3-5: symbol, qualifier, GO id.
        rows = [r.split("\t", 5)[2:5] for r in f if not r.startswith("!")]
    df = pd.DataFrame(rows, columns=["symbol", "qualifier", "go_id"])
    # README: 475,402 annotations on 19,684 gene symbols.
    assert len(df) == stats["rows"] == 475_402
    assert df["symbol"].nunique() == 19_684
    negated = df["qualifier"].str.contains(r"(?:^|\|)NOT(?:\||$)")
    primary = df["go_id"].map(real_go.alt_ids).fillna(df["go_id"])
    live = set(real_go.terms["id"].to_pylist())
    kept = ~negated & primary.isin(live)
    expected = sorted(set(zip(df["symbol"][kept], primary[kept], strict=True)))
    assert list(zip(pairs["gene"].to_pylist(), pairs["go_id"].to_pylist(), strict=True)) == expected
    assert stats["not_qualified"] == negated.sum() > 0
    assert stats["obsolete_dropped"] == (~negated & primary.isin(real_go.obsolete)).sum() > 0
    assert stats["alt_mapped"] == (kept & df["go_id"].isin(real_go.alt_ids.keys())).sum() > 0
    assert stats["unknown_dropped"] == (~negated & ~primary.isin(live | real_go.obsolete)).sum()
    assert stats["duplicates"] == kept.sum() - len(expected)
    assert stats["genes"] == len({g for g, _ in expected})
    assert stats["release"] == "2019-01-14 09:47"


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (line("D", "GO:0000001", columns=14), "fewer than 15 columns"),
        (line("D", "PMID:12345"), "PMID:12345"),
        (line("", "GO:0000001"), "empty DB object symbol"),
    ],
)
def test_malformed_line_names_file_and_line(tiny_go, tmp_path, bad_line, expected):
    path = tmp_path / "bad.gaf"
    texts = [text for text, _ in LINES]
    path.write_text(HEADER + "".join(texts[:4] + [bad_line] + texts[4:]))
    with pytest.raises(IngestError, match=expected) as err:
        read_gaf(path, tiny_go)
    bad_line_number = HEADER.count("\n") + 5
    assert str(path) in str(err.value)
    assert f"first bad line(s): {bad_line_number})" in str(err.value)


def test_too_many_columns(tiny_go, tmp_path):
    path = tmp_path / "wide.gaf"
    path.write_text(HEADER + LINES[0][0] + LINES[1][0].rstrip("\n") + "\textra\n")
    with pytest.raises(IngestError, match="Line: 5") as err:
        read_gaf(path, tiny_go)
    assert str(path) in str(err.value) and "Possible fixes" not in str(err.value)


def test_unsupported_version_and_missing_file(tiny_go, tmp_path):
    path = tmp_path / "old.gaf"
    path.write_text("!gaf-version: 1.0\n" + LINES[0][0])
    with pytest.raises(IngestError, match="gaf-version '1.0'"):
        read_gaf(path, tiny_go)
    with pytest.raises(IngestError, match="not found"):
        read_gaf(tmp_path / "absent.gaf", tiny_go)


@pytest.mark.parametrize("keep", [1 / 2, 0.001])
def test_truncated_gzip(shared_data, tiny_go, tmp_path, keep):
    data = (shared_data / GAF).read_bytes()
    path = tmp_path / "goa_human.gaf.gz"
    path.write_bytes(data[: int(len(data) * keep)])
    con = duckdb.connect()
    with pytest.raises(IngestError, match="corrupt or truncated") as err:
        read_gaf(path, tiny_go, con=con)
    assert str(path) in str(err.value)
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchone() == (0,)


@pytest.mark.parametrize("gzipped", [False, True])
def test_header_only_gaf_is_refused_like_a_header_only_links_file(tiny_go, tmp_path, gzipped):
    path = tmp_path / ("empty.gaf.gz" if gzipped else "empty.gaf")
    data = HEADER.encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(IngestError, match="has a header but no annotation lines") as err:
        read_gaf(path, tiny_go)
    assert str(path) in str(err.value)
