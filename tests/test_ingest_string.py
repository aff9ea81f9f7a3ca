"""STRING links -> PPI CSR: the real subset against pandas, each rule on tiny files, bad input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from ingest_helpers import (
    BAD_LINKS,
    INFO_HEADER,
    PAIRS,
    PROTEINS,
    A,
    info_text,
    links_text,
    pandas_reference,
    write_text,
)

from genen_core.store import check_csr
from ingest.errors import IngestError
from ingest.string_db import links_to_csr, read_protein_info

REAL_LINKS = "string/9606.protein.links.v12.0.hc-subset.txt.gz"
REAL_INFO = "string/9606.protein.info.v12.0.txt.gz"


def edges_of(csr, genes) -> dict[tuple[str, str], float]:
    rows = np.repeat(np.arange(csr.num_nodes), np.diff(csr.indptr))
    return {
        (genes[r], genes[c]): float(w)
        for r, c, w in zip(rows, csr.indices, csr.weight, strict=True)
    }


@pytest.fixture
def tiny(tmp_path):
    links = write_text(tmp_path / "links.txt.gz", links_text())
    info = write_text(tmp_path / "info.txt.gz", info_text())
    return links, info


@pytest.mark.parametrize("min_score", [400, 700])
def test_real_subset_matches_pandas(shared_data, min_score):
    links, info = shared_data / REAL_LINKS, shared_data / REAL_INFO
    csr, genes, stats = links_to_csr(links, info, min_score=min_score, threads=2)
    check_csr(csr, "ppi", symmetric=True)
    ref = pandas_reference(links, info, min_score)
    got = edges_of(csr, genes)
    assert len(got) == len(ref) == csr.nnz == 2 * stats["gene_pairs"]
    assert got.keys() == set(ref.index)
    ref_w = (ref.to_numpy() / 1000).astype(np.float32)
    got_w = np.array([got[k] for k in ref.index], dtype=np.float32)
    np.testing.assert_array_equal(got_w, ref_w)
    raw = pd.read_csv(links, sep=" ")
    assert stats["lines"] == len(raw)
    assert stats["kept"] == int((raw.combined_score >= min_score).sum())
    assert stats["below_threshold"] == stats["lines"] - stats["kept"]
    # Default node space: the sorted distinct symbols of protein.info.
    symbols = pd.read_csv(info, sep="\t", usecols=[1]).iloc[:, 0]
    assert genes == sorted(symbols.unique())
    assert np.all(csr.etype == 0)


def test_collapses_proteins_to_genes_with_max_score(tiny):
    csr, genes, stats = links_to_csr(*tiny, min_score=400)
    check_csr(csr, symmetric=True)
    assert genes == ["AAA", "BBB", "CCC", "DDD", "EEE"]
    expected = {("AAA", "BBB"): 0.9, ("BBB", "DDD"): 0.8}
    expected |= {(b, a): w for (a, b), w in expected.items()}
    assert edges_of(csr, genes) == pytest.approx(expected)
    assert stats["lines"] == 2 * len(PAIRS)
    below = sum(2 for *_, s in PAIRS if s < 400)
    assert stats["below_threshold"] == below
    assert stats["self_loops"] == 2  # P4-P5 are both DDD, listed in both directions
    assert stats["collapsed"] == 2  # BBB-DDD via P4 (500) merged into P5 (800), both ways
    assert stats["gene_pairs"] == 2 and stats["one_direction"] == 0


def test_threshold_zero_keeps_every_pair(tiny):
    csr, genes, stats = links_to_csr(*tiny, min_score=0)
    assert stats["below_threshold"] == 0
    got = edges_of(csr, genes)
    assert ("CCC", "EEE") in got and ("EEE", "CCC") in got
    assert ("DDD", "DDD") not in got


def test_one_direction_file_is_symmetrised(tmp_path):
    links = write_text(tmp_path / "l.txt", links_text(both=False))
    info = write_text(tmp_path / "i.txt", info_text())
    csr, genes, stats = links_to_csr(links, info, min_score=400)
    check_csr(csr, symmetric=True)
    assert stats["one_direction"] == csr.nnz // 2
    assert edges_of(csr, genes)[("DDD", "BBB")] == pytest.approx(0.8)


def test_conflicting_directions_keep_higher_score(tmp_path):
    a, b = "9606.ENSP00000000001", "9606.ENSP00000000002"
    text = f"protein1 protein2 combined_score\n{a} {b} 400\n{b} {a} 650\n"
    links = write_text(tmp_path / "l.txt", text)
    info = write_text(tmp_path / "i.txt", info_text())
    csr, genes, _ = links_to_csr(links, info)
    assert edges_of(csr, genes) == pytest.approx({("AAA", "BBB"): 0.65, ("BBB", "AAA"): 0.65})


def test_given_gene_space_and_extra_nodes(tiny):
    genes = ["AAA", "BBB", "CCC", "XXX"]  # DDD and EEE are outside
    csr, out_genes, stats = links_to_csr(*tiny, min_score=400, genes=genes, num_nodes=7)
    assert out_genes == genes and csr.num_nodes == 7
    check_csr(csr, symmetric=True)
    assert edges_of(csr, genes + ["GO1", "GO2", "GO3"]) == pytest.approx(
        {("AAA", "BBB"): 0.9, ("BBB", "AAA"): 0.9}
    )
    # BBB-DDD (4 lines) and DDD-DDD (2 lines) touch DDD; CCC-EEE is below the threshold.
    assert stats["outside_genes"] == 6


def test_plain_text_and_renamed_gzip_are_read(tmp_path):
    plain = write_text(tmp_path / "links.txt", links_text())
    renamed = tmp_path / "links.dat"  # gzip without a .gz suffix: detected by content
    write_text(tmp_path / "tmp.gz", links_text()).rename(renamed)
    info = write_text(tmp_path / "info.tsv", info_text())
    a, _, _ = links_to_csr(plain, info)
    b, _, _ = links_to_csr(renamed, info)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.weight, b.weight)


def test_read_protein_info_keeps_annotations(tiny):
    info = read_protein_info(tiny[1])
    assert info.column("protein_id").to_pylist() == list(PROTEINS)
    assert info.column("annotation").to_pylist()[1] == "annotation not available"


# --- bad input: exactly one IngestError naming the file (and line where known) --------


@pytest.mark.parametrize("case", sorted(BAD_LINKS))
def test_bad_links_raise_one_ingest_error(tmp_path, case):
    write, needles = BAD_LINKS[case]
    links = tmp_path / "links.txt.gz"
    write(links)
    info = write_text(tmp_path / "info.txt.gz", info_text())
    with pytest.raises(IngestError) as err:
        links_to_csr(links, info)
    message = str(err.value)
    assert str(links) in message
    for needle in needles:
        assert re.search(needle, message), (needle, message)


def test_bad_protein_info(tmp_path, tiny):
    dup = dict(PROTEINS)
    text = info_text(dup) + "9606.ENSP00000000001\tZZZ\t10\tdup\n"
    info = write_text(tmp_path / "dup.txt", text)
    with pytest.raises(IngestError, match="duplicate protein id.*9606.ENSP00000000001"):
        links_to_csr(tiny[0], info)
    header = write_text(tmp_path / "hdr.txt", info_text().replace(INFO_HEADER, "id\tname"))
    with pytest.raises(IngestError, match=f"{header}:1: header"):
        read_protein_info(header)


def test_many_bad_lines_are_summarised(tmp_path):
    text = links_text() + "".join(f"{A} 9606.ENSP0000000099{i} 500\n" for i in range(8))
    links = write_text(tmp_path / "links.txt", text)
    info = write_text(tmp_path / "info.txt", info_text())
    with pytest.raises(IngestError, match=r"8 bad line\(s\).*and 3 more"):
        links_to_csr(links, info)


def test_argument_checks(tiny):
    with pytest.raises(ValueError, match="min_score=1001"):
        links_to_csr(*tiny, min_score=1001)
    with pytest.raises(ValueError, match=r"repeated: \['AAA'\]"):
        links_to_csr(*tiny, genes=["AAA", "BBB", "AAA"])
    with pytest.raises(ValueError, match="num_nodes=2 is smaller"):
        links_to_csr(*tiny, genes=["AAA", "BBB", "CCC"], num_nodes=2)


def test_block_boundaries_do_not_matter(tiny, monkeypatch):
    """The NumPy passes run in blocks; a block size of 3 must give the same CSR."""
    import ingest.packed_edges as packed_edges

    want, genes, _ = links_to_csr(*tiny, min_score=0)
    monkeypatch.setattr(packed_edges, "BLOCK", 3)
    got, _, _ = links_to_csr(*tiny, min_score=0)
    for field in ("indptr", "indices", "weight"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
