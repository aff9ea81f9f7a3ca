"""build_store end to end: the real files once per module, tiny files for each rule."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from ingest_helpers import BAD_LINKS, pandas_reference, write_text, write_tiny_sources

from genen_core.config import to_dict
from genen_core.store import STORED_GRAPHS, VARIANTS, GraphStore, check_csr
from ingest.build import build_store
from ingest.config import EDGE_TYPES, IngestConfig
from ingest.errors import IngestError
from ingest.sources import SourcesConfig
from ingest.texts import clean_text
from tests.httpserver import http_server_fixture  # noqa: F401  (registers http_server)

SUMMARIES = "text/ncbi_gene_summaries_human.2022-10-27.tsv.gz"
MIN_SCORE = 700


def csr_rows(csr) -> np.ndarray:
    return np.repeat(np.arange(csr.num_nodes), np.diff(csr.indptr))


@pytest.fixture(scope="module")
def real(shared_data, tmp_path_factory):
    """The real files ingested once (GO parsing dominates: a few seconds)."""
    cfg = IngestConfig(
        out=str(tmp_path_factory.mktemp("real") / "store"),
        min_score=MIN_SCORE,
        summaries=str(shared_data / SUMMARIES),
        labels=str(shared_data / "labels"),
        threads=2,
        sources=SourcesConfig(source_dir=str(shared_data)),
    )
    return cfg, GraphStore(build_store(cfg))


def test_real_graphs_hold_the_store_invariants(real):
    _, store = real
    n_genes = store.num_genes
    for name in STORED_GRAPHS:
        check_csr(store.csr(name), name, symmetric=True)
    for variant, parts in VARIANTS.items():
        assert store.csr(variant).nnz == sum(store.csr(p).nnz for p in parts)
    kinds = {  # relation -> (row is gene, column is gene) for every edge
        "ppi": (True, True),
        "go_go": (False, False),
    }
    for name, (row_gene, col_gene) in kinds.items():
        csr = store.csr(name)
        assert np.all((csr_rows(csr) < n_genes) == row_gene)
        assert np.all((np.asarray(csr.indices) < n_genes) == col_gene)
    gene_go = store.csr("gene_go")
    assert np.all((csr_rows(gene_go) < n_genes) != (np.asarray(gene_go.indices) < n_genes))
    assert set(np.unique(store.csr("ppi").etype)) == {EDGE_TYPES["ppi"]}
    assert set(np.unique(gene_go.etype)) == {EDGE_TYPES["gene_go"]}
    go_codes = {EDGE_TYPES[r] for r in store.manifest["params"]["go_relations"]}
    assert set(np.unique(store.csr("go_go").etype)) == go_codes
    assert store.manifest["counts"]["edges"] == {n: store.csr(n).nnz for n in STORED_GRAPHS}


def test_real_composed_graph_equals_the_stored_variant(real):
    _, store = real
    composed, stored = store.graph("gene_go+go_go+ppi"), store.csr("go_ppi")
    for field in ("indptr", "indices", "weight", "etype"):
        assert np.array_equal(getattr(composed, field), getattr(stored, field)), field


def test_real_store_labels_renamed_genes(real):
    """The label files say BMAL1 / GBA1 / CEP43; STRING v12 and the store say ARNTL / GBA /
    FGFR1OP (ingest.idmap, from the summaries file's symbols and synonyms)."""
    _, store = real
    labels = store.labels.to_pandas()
    for gene in ("ARNTL", "GBA", "FGFR1OP"):
        assert (labels[labels.gene == gene].node >= 0).any(), gene
    assert store.tasks["dosage_sensitivity"]["ids"]["alias"] >= 1
    assert store.manifest["counts"]["gaf"]["genes_by_alias"] > 0


def test_real_ppi_matches_pandas(real, shared_data):
    cfg, store = real
    links, info = store.manifest["sources"]["links"], store.manifest["sources"]["info"]
    ref = pandas_reference(links["path"], info["path"], MIN_SCORE)
    ppi = store.csr("ppi")
    keys = store.nodes.column("key").to_pylist()
    got = {
        (keys[r], keys[c]): w
        for r, c, w in zip(csr_rows(ppi), ppi.indices, ppi.weight, strict=True)
    }
    assert got.keys() == set(ref.index)
    np.testing.assert_array_equal(
        np.array([got[k] for k in ref.index], np.float32),
        (ref.to_numpy() / 1000).astype(np.float32),
    )


def test_real_nodes(real, shared_data):
    _, store = real
    nodes = store.nodes.to_pandas()
    genes = nodes[nodes.kind == "gene"]
    terms = nodes[nodes.kind == "go"]
    assert list(nodes.node) == list(range(len(nodes)))
    assert list(genes.key) == sorted(genes.key) and list(terms.key) == sorted(terms.key)
    assert genes.node.max() < terms.node.min()
    info = pd.read_csv(shared_data / "string/9606.protein.info.v12.0.txt.gz", sep="\t", quoting=3)
    gaf = pd.read_csv(
        shared_data / "go/goa_human.2019-01-14.gaf.gz", sep="\t", comment="!", header=None,
        usecols=[2], quoting=3,
    )  # fmt: skip
    gene_set = set(genes.key)
    assert set(info.preferred_name) <= gene_set <= set(info.preferred_name) | set(gaf[2])
    # A gene known only from the GAF is there because of an annotation.
    gaf_only = genes.node[~genes.key.isin(set(info.preferred_name))].to_numpy()
    assert len(gaf_only) > 0 and np.all(store.csr("gene_go").degree()[gaf_only] > 0)
    # README: 43,558 live terms in go-basic 2022-07-01; 85,713 edges over five relations.
    assert len(terms) == 43_558 == store.manifest["counts"]["go_terms"]
    go_go = store.manifest["counts"]["go_go"]
    assert go_go["pairs"] + go_go["collapsed"] == 85_713
    assert (nodes.text.str.len() > 0).all()
    assert (nodes.word_count == nodes.text.str.split().str.len()).all()
    assert not nodes.text.str.contains(r"\[provided by", regex=True).any()


def test_real_gene_text_starts_with_its_summary(real, shared_data):
    _, store = real
    summaries = pd.read_csv(shared_data / SUMMARIES, sep="\t", quoting=3, dtype=str)
    row = summaries[summaries.symbol == "A2M"].iloc[0]
    text = store.nodes.column("text")[store.gene_index["A2M"]].as_py()
    assert text.startswith(row.summary[:80])
    assert "alpha-2-macroglobulin" in text.lower()  # the protein.info annotation follows


def test_real_labels_point_at_their_genes(real):
    _, store = real
    labels = store.labels.to_pandas()
    keys = store.nodes.column("key").to_pylist()
    known = labels.node >= 0
    assert (labels.gene[known] == [keys[i] for i in labels.node[known]]).all()
    assert not labels.gene[~known].isin(store.gene_index).any()
    for task, info in store.tasks.items():
        rows = labels[labels.task == task]
        assert info["unknown_rows"] == int((rows.node < 0).sum())
        assert info["genes_in_graph"] == rows.gene[rows.node >= 0].nunique()


def test_real_manifest_has_provenance(real):
    cfg, store = real
    mf = store.manifest
    assert set(mf["sources"]) == {"links", "info", "obo", "gaf"}
    for entry in mf["sources"].values():
        assert len(entry["sha256"]) == 64 and entry["url"].startswith("file://")
    assert mf["params"] == json.loads(json.dumps(to_dict(cfg)))
    assert mf["counts"]["go"]["release"] == "2022-07-01"
    assert mf["edge_types"] == EDGE_TYPES
    assert set(mf["timings_s"]) == {"sources", "ppi+go", "gaf", "ids", "nodes", "graphs", "labels"}


# --- tiny inputs ---------------------------------------------------------------------


def tiny_cfg(tmp_path, **kw) -> IngestConfig:
    raw = write_tiny_sources(tmp_path / "raw")
    base = {
        "out": str(tmp_path / "store"),
        "min_score": 400,
        "summaries": str(raw["summaries"]),
        "labels": str(raw["labels"]),
        "sources": SourcesConfig(source_dir=str(tmp_path / "raw")),
    }
    return IngestConfig(**{**base, **kw})


def edge_keys(store: GraphStore, name: str) -> set[tuple[str, str]]:
    keys = store.nodes.column("key").to_pylist()
    csr = store.csr(name)
    return {(keys[r], keys[c]) for r, c in zip(csr_rows(csr), csr.indices, strict=True)}


def test_tiny_store_contents(tmp_path):
    store = GraphStore(build_store(tiny_cfg(tmp_path)))
    keys = store.nodes.column("key").to_pylist()
    # genes: protein.info (AAA..EEE) plus FFF, known only from the GAF.
    assert keys[: store.num_genes] == ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
    assert keys[store.num_genes :] == [f"GO:000000{i}" for i in (1, 2, 3, 5, 6)]
    assert edge_keys(store, "ppi") == {
        ("AAA", "BBB"),
        ("BBB", "AAA"),
        ("BBB", "DDD"),
        ("DDD", "BBB"),
    }
    gene_go = {(g, t) for g, t in edge_keys(store, "gene_go") if not g.startswith("GO:")}
    # BBB through the alt id; CCC's NOT line and DDD's obsolete term are dropped.
    assert gene_go == {
        ("AAA", "GO:0000002"), ("BBB", "GO:0000003"), ("CCC", "GO:0000006"), ("FFF", "GO:0000003")
    }  # fmt: skip
    csr = store.csr("go_go")
    codes = {
        (keys[r], keys[c]): int(t)
        for r, c, t in zip(csr_rows(csr), csr.indices, csr.etype, strict=True)
    }
    assert codes[("GO:0000003", "GO:0000001")] == EDGE_TYPES["part_of"]
    assert codes[("GO:0000001", "GO:0000003")] == EDGE_TYPES["part_of"]
    assert codes[("GO:0000003", "GO:0000002")] == EDGE_TYPES["is_a"]
    texts = dict(zip(keys, store.nodes.column("text").to_pylist(), strict=True))
    assert texts["AAA"] == "AAA is a gene. Alpha protein; binds things."
    assert texts["BBB"] == "BBB"  # no summary, "annotation not available"
    assert texts["GO:0000006"] == "nucleus. The nucleus of a cell."
    assert texts["CCC"] == "Gamma protein."  # "(PubMed:12345)" removed
    assert texts["FFF"] == "FFF does something."  # "(PMID:999)" removed
    labels = store.labels.to_pandas().set_index("gene")
    assert labels.node.to_dict() == {"AAA": 0, "BBB": 1, "CCC": 2, "FFF": 5, "ZZZ": -1}
    assert store.tasks["toy"]["unknown_genes"] == 1


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Binds DNA. [provided by RefSeq, Jul 2008]", "Binds DNA."),
        ("A kinase [PubMed 8356058]. [supplied by OMIM, Dec 2010]", "A kinase."),
        ("Binds X (PubMed:1, PubMed:22) and Y (PMID:18089847).", "Binds X and Y."),
        (
            "Kept: (see PMID 20833636) and [inv(16)(p13q22)]",
            "Kept: (see PMID 20833636) and [inv(16)(p13q22)]",
        ),
        ("  spaced \t out  ", "spaced out"),
        (None, ""),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_summaries_from_mygene(tmp_path, http_server, monkeypatch):
    monkeypatch.setenv("GENEN_CACHE", str(tmp_path / "cache"))  # the MyGene answer cache
    summary = "Fetched summary. [provided by RefSeq, May 2020]"
    http_server.mygene = {"BBB": [{"_id": "2", "symbol": "BBB", "summary": summary}]}
    cfg = tiny_cfg(tmp_path, summaries="mygene", mygene_url=f"{http_server.url}/v3")
    store = GraphStore(build_store(cfg))
    texts = store.nodes.column("text").to_pylist()
    assert texts[store.gene_index["BBB"]] == "Fetched summary."
    assert texts[store.gene_index["AAA"]] == "Alpha protein; binds things."  # no summary
    (query,) = [r for r in http_server.requests if r.method == "POST"]
    assert query.form["q"].split(",") == store.nodes.column("key").to_pylist()[:6]
    assert query.form["species"] == "9606"
    assert any((tmp_path / "cache").rglob("*.json"))


def test_exclusions_keep_the_gene_space(tmp_path):
    full = GraphStore(build_store(tiny_cfg(tmp_path / "a")))
    cut = GraphStore(
        build_store(
            tiny_cfg(
                tmp_path / "b",
                exclude_go_namespace=["cellular_component"],
                exclude_go_terms="MEMBRANE",  # case-insensitive, matches name and definition
            )
        )
    )
    genes = full.nodes.column("key").to_pylist()[: full.num_genes]
    assert cut.nodes.column("key").to_pylist()[: cut.num_genes] == genes
    assert cut.nodes.column("key").to_pylist()[cut.num_genes :] == ["GO:0000001", "GO:0000003"]
    assert cut.manifest["counts"]["go"]["excluded_terms"] == {"namespace": 2, "pattern": 1}
    gene_go = {(g, t) for g, t in edge_keys(cut, "gene_go") if not g.startswith("GO:")}
    assert gene_go == {("BBB", "GO:0000003"), ("FFF", "GO:0000003")}
    assert edge_keys(cut, "go_go") == {("GO:0000003", "GO:0000001"), ("GO:0000001", "GO:0000003")}
    assert edge_keys(cut, "ppi") == edge_keys(full, "ppi")
    for name in STORED_GRAPHS:
        check_csr(cut.csr(name), name, symmetric=True)


@pytest.mark.parametrize("case", sorted(BAD_LINKS))
def test_failed_build_leaves_existing_store_intact(tmp_path, case):
    cfg = tiny_cfg(tmp_path)
    store = build_store(cfg)
    before = (store / "manifest.json").read_text()
    links = tmp_path / "raw" / "9606.protein.links.v12.0.txt.gz"
    links.unlink()
    BAD_LINKS[case][0](links)
    with pytest.raises(IngestError):
        build_store(dataclasses.replace(cfg, force=True))
    assert (store / "manifest.json").read_text() == before
    assert sorted(p.name for p in store.parent.iterdir()) == ["raw", "store"]


def test_existing_store_needs_force(tmp_path):
    cfg = tiny_cfg(tmp_path)
    build_store(cfg)
    with pytest.raises(FileExistsError, match="--force"):
        build_store(cfg)


def test_failed_first_build_writes_nothing(tmp_path):
    cfg = tiny_cfg(tmp_path)
    write_text(tmp_path / "raw" / "9606.protein.info.v12.0.txt.gz", "not\ta\theader\n")
    with pytest.raises(IngestError, match="header"):
        build_store(cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
