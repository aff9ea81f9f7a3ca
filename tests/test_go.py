"""GO ontology parsing: real go-basic counts, alt/obsolete ids, and every validation error."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.go import ACYCLIC_RELATIONS, DEFAULT_RELATIONS, parse_obo

GO_BASIC = "go/go-basic.2022-07-01.obo.gz"
HEADER = "format-version: 1.2\ndata-version: releases/2099-01-01\nontology: go\n"


@pytest.fixture(scope="module")
def real_stanzas(shared_data) -> list[dict[str, list[str]]]:
    """An independent line-level reading of the real file: tag -> values per [Term]."""
    stanzas, current = [], None
    with gzip.open(shared_data / GO_BASIC, "rt") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("["):
                current = {} if line == "[Term]" else None
                if current is not None:
                    stanzas.append(current)
            elif current is not None and ": " in line:
                tag, value = line.split(": ", 1)
                current.setdefault(tag, []).append(value.split(" ! ")[0])
    return stanzas


def write_obo(path: Path, terms: str, header: str = HEADER) -> Path:
    path.write_text(header + "\n" + terms)
    return path


def term(go_id: str, *lines: str, obsolete: bool = False) -> str:
    body = [f"id: {go_id}", f"name: term {go_id}", "namespace: biological_process"]
    body += list(lines) + (["is_obsolete: true"] if obsolete else [])
    return "[Term]\n" + "\n".join(body) + "\n\n"


def test_real_counts_match_readme(real_go):
    # /work/shared/data/README.md: go-basic 2022-07-01.
    assert real_go.stats["terms"] == 43_558 == real_go.terms.num_rows
    assert real_go.stats["obsolete"] == 3_910 == len(real_go.obsolete)
    assert real_go.stats["edges"] == {
        "is_a": 70_058,
        "part_of": 6_997,
        "regulates": 3_184,
        "positively_regulates": 2_732,
        "negatively_regulates": 2_742,
    }
    assert real_go.edges.num_rows == 85_713
    assert real_go.release == "2022-07-01"


def test_real_counts_match_independent_reading(real_go, real_stanzas):
    live = [s for s in real_stanzas if s.get("is_obsolete") != ["true"]]
    assert real_go.terms["id"].to_pylist() == sorted(s["id"][0] for s in live)
    assert real_go.obsolete == {s["id"][0] for s in real_stanzas} - {s["id"][0] for s in live}
    rels = Counter("is_a" for s in live for _ in s.get("is_a", []))
    rels.update(r.split()[0] for s in live for r in s.get("relationship", []))
    assert real_go.stats["edges"] == {r: rels[r] for r in DEFAULT_RELATIONS}
    alt = {a: s["id"][0] for s in real_stanzas for a in s.get("alt_id", [])}
    assert real_go.alt_ids == alt and real_go.stats["alt_ids"] == len(alt)


def test_real_terms_edges_and_definitions(real_go, real_stanzas):
    live_ids = set(real_go.terms["id"].to_pylist())
    assert set(real_go.edges["src"].to_pylist()) <= live_ids
    assert set(real_go.edges["dst"].to_pylist()) <= live_ids
    assert not live_ids & real_go.obsolete and not live_ids & set(real_go.alt_ids)
    assert set(real_go.alt_ids.values()) <= live_ids | real_go.obsolete
    rows = real_go.edges.to_pylist()
    assert rows == sorted(rows, key=lambda r: (r["src"], r["dst"], r["relation"]))
    # Definitions lose their quotes and [xrefs] and nothing else.
    raw = {s["id"][0]: s["def"][0] for s in real_stanzas if "def" in s}
    got = dict(
        zip(real_go.terms["id"].to_pylist(), real_go.terms["definition"].to_pylist(), strict=True)
    )
    for go_id in list(got)[::997]:
        expected = re.fullmatch(r'"(.*)" \[.*\]', raw[go_id]).group(1) if go_id in raw else None
        assert got[go_id] == expected
    # This conversion of GO.db has terms without a def: those have a null definition.
    assert sum(d is None for d in got.values()) == len(got.keys() - raw.keys()) > 0
    assert set(real_go.terms["namespace"].to_pylist()) == {
        "biological_process",
        "molecular_function",
        "cellular_component",
    }


def test_relations_subset_and_release_fallback(tmp_path):
    obo = write_obo(
        tmp_path / "g.obo",
        term("GO:0000001")
        + term("GO:0000002", "is_a: GO:0000001", "relationship: part_of GO:0000001")
        + term("GO:0000003", "relationship: regulates GO:0000002"),
        header="format-version: 1.2\ndate: 01:02:2020 10:00\n",
    )
    go = parse_obo(obo, relations=("is_a", "regulates"))
    assert go.edges.to_pylist() == [
        {"src": "GO:0000002", "dst": "GO:0000001", "relation": "is_a"},
        {"src": "GO:0000003", "dst": "GO:0000002", "relation": "regulates"},
    ]
    assert go.stats["edges"] == {"is_a": 1, "regulates": 1}
    assert go.release == "01:02:2020 10:00"


def test_obsolete_and_alt_ids(tmp_path):
    obo = write_obo(
        tmp_path / "g.obo",
        term("GO:0000001", "alt_id: GO:0000010", 'def: "Root \\"one\\"." [GOC:x, PMID:1]')
        + term("GO:0000002", "is_a: GO:0000001")
        + term("GO:0000003", "alt_id: GO:0000011", obsolete=True),
    )
    go = parse_obo(obo)
    assert go.terms["id"].to_pylist() == ["GO:0000001", "GO:0000002"]
    assert go.terms["definition"].to_pylist() == ['Root "one".', None]
    assert go.obsolete == {"GO:0000003"}
    assert go.alt_ids == {"GO:0000010": "GO:0000001", "GO:0000011": "GO:0000003"}
    assert go.stats == {
        "terms": 2,
        "obsolete": 1,
        "edges": {**dict.fromkeys(DEFAULT_RELATIONS, 0), "is_a": 1},
        "alt_ids": 2,
    }


@pytest.mark.parametrize("relation", ACYCLIC_RELATIONS)
def test_cycle_names_its_terms(tmp_path, relation):
    link = "is_a: {}" if relation == "is_a" else "relationship: part_of {}"
    # GO:0000009 sits above the cycle and GO:0000004 below it: only the three on it are named.
    obo = write_obo(
        tmp_path / "cycle.obo",
        term("GO:0000009")
        + term("GO:0000001", link.format("GO:0000002"), "is_a: GO:0000009")
        + term("GO:0000002", link.format("GO:0000003"))
        + term("GO:0000003", link.format("GO:0000001"))
        + term("GO:0000004", "is_a: GO:0000001"),
    )
    with pytest.raises(IngestError, match="cycle") as err:
        parse_obo(obo)
    message = str(err.value)
    assert str(obo) in message
    named = re.search(r"through (.*?) \(", message).group(1).split(" -> ")
    assert set(named) == {"GO:0000001", "GO:0000002", "GO:0000003"} and named[0] == named[-1]
    assert "GO:0000004" not in message and "GO:0000009 " not in message


def test_cycle_through_regulates_is_allowed(tmp_path):
    obo = write_obo(
        tmp_path / "reg.obo",
        term("GO:0000001", "relationship: regulates GO:0000002")
        + term("GO:0000002", "relationship: regulates GO:0000001"),
    )
    assert parse_obo(obo).stats["edges"]["regulates"] == 2


@pytest.mark.parametrize(
    ("parent", "why"),
    [
        ("GO:0000404", "not defined"),
        ("GO:0000003", "obsolete"),
        ("GO:0000010", "an alt id of GO:0000001"),
    ],
)
def test_dangling_parent_is_named(tmp_path, parent, why):
    obo = write_obo(
        tmp_path / "dangling.obo",
        term("GO:0000001", "alt_id: GO:0000010")
        + term("GO:0000002", f"relationship: part_of {parent}")
        + term("GO:0000003", obsolete=True),
    )
    with pytest.raises(IngestError, match="not a live term") as err:
        parse_obo(obo)
    assert str(obo) in str(err.value)
    assert f"GO:0000002 part_of {parent} ({why}" in str(err.value)


def test_dangling_parent_of_a_dropped_relation_is_ignored(tmp_path):
    obo = write_obo(tmp_path / "g.obo", term("GO:0000001", "relationship: has_part CHEBI:1"))
    assert parse_obo(obo).edges.num_rows == 0


def test_duplicate_term_ids(tmp_path):
    obo = write_obo(
        tmp_path / "dup.obo", term("GO:0000001") + term("GO:0000002") + term("GO:0000001")
    )
    with pytest.raises(IngestError, match=r"GO:0000001") as err:
        parse_obo(obo)
    assert "GO:0000002" not in str(err.value) and str(obo) in str(err.value)


def test_alt_id_that_is_a_term_id(tmp_path):
    obo = write_obo(
        tmp_path / "alt.obo", term("GO:0000001", "alt_id: GO:0000002") + term("GO:0000002")
    )
    with pytest.raises(IngestError, match=r"GO:0000002 \(alt id of GO:0000001 and a term id\)"):
        parse_obo(obo)


@pytest.mark.parametrize(
    "terms", ["", term("GO:0000001", obsolete=True), "[Typedef]\nid: part_of\n\n"]
)
def test_ontology_without_terms(tmp_path, terms):
    obo = write_obo(tmp_path / "empty.obo", terms)
    with pytest.raises(IngestError, match="has no terms") as err:
        parse_obo(obo)
    assert str(obo) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("labels.csv", b"gene,label\nTP53,1\n", "not an OBO file"),
        ("noheader.obo", term("GO:0000001").encode(), "format-version"),
        ("binary.obo", bytes(range(256)) * 4, "not an OBO file"),
        ("broken.obo.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 40, "corrupt or truncated"),
    ],
)
def test_not_an_obo_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=expected) as err:
        parse_obo(path)
    assert str(path) in str(err.value)


def test_truncated_gzip(shared_data, tmp_path):
    data = (shared_data / GO_BASIC).read_bytes()
    path = tmp_path / "go-basic.obo.gz"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(IngestError, match="corrupt or truncated"):
        parse_obo(path)


def test_gzip_is_detected_by_content(tmp_path):
    plain = write_obo(
        tmp_path / "g.obo", term("GO:0000001") + term("GO:0000002", "is_a: GO:0000001")
    )
    packed = tmp_path / "ontology.download"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert parse_obo(packed).edges.equals(parse_obo(plain).edges)
