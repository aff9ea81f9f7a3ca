"""Tiny raw input files in the official formats, written per test in milliseconds.

The tiny dataset is small enough that every expected count is stated next to it:

* protein.info: 6 proteins of 5 genes (DDD has two proteins, P4 and P5).
* links (both directions): AAA-BBB 900, AAA-CCC 300, BBB-DDD 500 via P4 and 800 via P5
  (collapse to the max), P4-P5 700 (a self-loop of DDD), CCC-EEE 200.
* GO: a BP tree and a CC tree, one obsolete term (GO:0000009), one alt id
  (GO:0000008 -> GO:0000003).
* GAF: AAA, BBB (through the alt id), CCC (plus one NOT line), FFF (a gene found only in
  the GAF) and DDD (to the obsolete term, so dropped).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

PROTEINS = {
    "9606.ENSP00000000001": ("AAA", "Alpha protein; binds things [provided by RefSeq, Jul 2008]."),
    "9606.ENSP00000000002": ("BBB", "annotation not available"),
    "9606.ENSP00000000003": ("CCC", "Gamma protein (PubMed:12345)."),
    "9606.ENSP00000000004": ("DDD", "Delta protein, isoform 1."),
    "9606.ENSP00000000005": ("DDD", "Delta protein, isoform 2."),
    "9606.ENSP00000000006": ("EEE", "Epsilon protein."),
}
PAIRS = [  # one direction each; write_links lists both
    ("9606.ENSP00000000001", "9606.ENSP00000000002", 900),
    ("9606.ENSP00000000001", "9606.ENSP00000000003", 300),
    ("9606.ENSP00000000002", "9606.ENSP00000000004", 500),
    ("9606.ENSP00000000002", "9606.ENSP00000000005", 800),
    ("9606.ENSP00000000004", "9606.ENSP00000000005", 700),
    ("9606.ENSP00000000003", "9606.ENSP00000000006", 200),
]
LINKS_HEADER = "protein1 protein2 combined_score"
INFO_HEADER = "#string_protein_id\tpreferred_name\tprotein_size\tannotation"

OBO = """format-version: 1.2
data-version: releases/2024-01-01
ontology: go

[Term]
id: GO:0000001
name: biological_process
namespace: biological_process
def: "A biological process." [GOC:test]

[Term]
id: GO:0000002
name: membrane transport
namespace: biological_process
def: "Transport across a membrane." [GOC:test]
is_a: GO:0000001 ! biological_process

[Term]
id: GO:0000003
name: ion transport
namespace: biological_process
alt_id: GO:0000008
def: "Transport of ions." [GOC:test]
is_a: GO:0000002 ! membrane transport
relationship: part_of GO:0000001 ! biological_process

[Term]
id: GO:0000005
name: cellular_component
namespace: cellular_component
def: "A cellular component." [GOC:test]

[Term]
id: GO:0000006
name: nucleus
namespace: cellular_component
def: "The nucleus of a cell." [GOC:test]
is_a: GO:0000005 ! cellular_component

[Term]
id: GO:0000009
name: obsolete thing
namespace: biological_process
is_obsolete: true
"""

GAF_ROWS = [  # symbol, qualifier, GO id, evidence, aspect
    ("AAA", "", "GO:0000002", "IDA", "P"),
    ("BBB", "", "GO:0000008", "IEA", "P"),
    ("CCC", "", "GO:0000006", "IDA", "C"),
    ("CCC", "NOT", "GO:0000002", "IDA", "P"),
    ("FFF", "", "GO:0000003", "IMP", "P"),
    ("DDD", "", "GO:0000009", "IDA", "P"),
]

SUMMARIES = [  # id, symbol, full_name, synonyms, summary, type, organism
    ("1", "AAA", "alpha", "", "AAA is a gene. [provided by RefSeq, Jul 2008]", "protein coding"),
    ("2", "BBB", "beta", "", "", "protein coding"),
    ("6", "FFF", "phi", "", "FFF does (PMID:999) something.", "protein coding"),
]
LABELS = "gene,label\nAAA,yes\nBBB,no\nCCC,yes\nFFF,no\nZZZ,yes\n"


def write_text(path: Path, text: str) -> Path:
    """Write ``text``, gzipped when the name ends in ``.gz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def links_text(pairs=PAIRS, header: str = LINKS_HEADER, both: bool = True) -> str:
    lines = [header]
    for a, b, s in pairs:
        lines.append(f"{a} {b} {s}")
        if both:
            lines.append(f"{b} {a} {s}")
    return "\n".join(lines) + "\n"


def info_text(proteins=PROTEINS) -> str:
    rows = [INFO_HEADER] + [f"{p}\t{g}\t300\t{a}" for p, (g, a) in proteins.items()]
    return "\n".join(rows) + "\n"


def gaf_text(rows=GAF_ROWS) -> str:
    out = ["!gaf-version: 2.1", "!date-generated: 2024-01-02"]
    for i, (symbol, qualifier, go_id, evidence, aspect) in enumerate(rows):
        fields = ["UniProtKB", f"Q{i:05d}", symbol, qualifier, go_id, "PMID:1", evidence, "",
                  aspect, symbol.lower(), "", "protein", "taxon:9606", "20240101", "UniProt",
                  "", ""]  # fmt: skip
        out.append("\t".join(fields))
    return "\n".join(out) + "\n"


def summaries_text(rows=SUMMARIES) -> str:
    header = "id\tsymbol\tfull_name\tsynonyms\tsummary\ttype\torganism"
    return "\n".join([header] + ["\t".join((*r, "Homo sapiens")) for r in rows]) + "\n"


def write_tiny_sources(root: Path) -> dict[str, Path]:
    """All tiny raw files under ``root`` with their official names; returns key -> path."""
    paths = {
        "links": write_text(root / "9606.protein.links.v12.0.txt.gz", links_text()),
        "info": write_text(root / "9606.protein.info.v12.0.txt.gz", info_text()),
        "obo": write_text(root / "go-basic.obo", OBO),
        "gaf": write_text(root / "goa_human.gaf.gz", gaf_text()),
        "summaries": write_text(root / "text" / "summaries.tsv", summaries_text()),
        "labels": write_text(root / "labels" / "toy.csv", LABELS).parent,
    }
    return paths


def pandas_reference(links, info, min_score):
    """Independent recomputation: gene pairs with their max score, both directions."""
    lk = pd.read_csv(links, sep=" ")
    pi = pd.read_csv(info, sep="\t", usecols=[0, 1], names=["p", "g"], header=0, quoting=3)
    symbol = dict(zip(pi.p, pi.g, strict=True))
    lk = lk[lk.combined_score >= min_score]
    a, b = lk.protein1.map(symbol), lk.protein2.map(symbol)
    df = pd.DataFrame({"a": a, "b": b, "s": lk.combined_score})
    df = df[df.a != df.b]
    both = pd.concat([df, df.rename(columns={"a": "b", "b": "a"})])
    return both.groupby(["a", "b"]).s.max()


# --- bad links files: case -> (writer, regexes the IngestError message must match) ----


def _corrupt_gzip(path):
    raw = bytearray(gzip.compress(links_text().encode()))
    raw[len(raw) // 2 : len(raw) // 2 + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw))


def _truncated_gzip(path):
    raw = gzip.compress((links_text() * 50).encode())
    path.write_bytes(raw[: len(raw) // 2])


def _lines_with(bad_line: str) -> str:
    lines = links_text().splitlines()
    lines.insert(3, bad_line)  # becomes line 4 of the file
    return "\n".join(lines) + "\n"


A, B = "9606.ENSP00000000001", "9606.ENSP00000000002"
LINE_4 = r"[Ll]ine:? 4\b"  # DuckDB says "Line: 4", our own checks "line 4"
BAD_LINKS = {
    "wrong header": (lambda p: write_text(p, "a b c\n" + f"{A} {B} 500\n"), ["header"]),
    "detailed file": (
        lambda p: write_text(p, "protein1 protein2 neighborhood combined_score\n"),
        ["header", "protein1 protein2 combined_score"],
    ),
    "non-numeric score": (lambda p: write_text(p, _lines_with(f"{A} {B} high")), [LINE_4]),
    "score above 1000": (lambda p: write_text(p, _lines_with(f"{A} {B} 1200")), [LINE_4, "1200"]),
    "negative score": (lambda p: write_text(p, _lines_with(f"{A} {B} -5")), [LINE_4, "-5"]),
    "missing score": (lambda p: write_text(p, _lines_with(f"{A} {B}")), [LINE_4]),
    "unknown protein": (
        lambda p: write_text(p, _lines_with(f"{A} 9606.ENSP99999999999 500")),
        [LINE_4, "9606.ENSP99999999999", "info.txt.gz"],
    ),
    "truncated gzip": (_truncated_gzip, ["corrupt or truncated"]),
    "corrupt gzip": (_corrupt_gzip, []),
    "missing file": (lambda p: None, ["not found"]),
}
