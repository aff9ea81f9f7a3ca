"""User edge lists and the identifier map: tiny official-format files, checked by hand."""

from __future__ import annotations

import gc
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from ingest_helpers import PROTEINS, write_text, write_tiny_sources

from genen_core.store import GraphStore, check_csr
from ingest.build import build_store
from ingest.cli import main
from ingest.config import EDGE_TYPES, IngestConfig
from ingest.edges import lift_edge_flags
from ingest.errors import IngestError
from ingest.idmap import Match, build_idmap, detect_id_type
from ingest.sources import SourcesConfig
from ingest.string_db import read_protein_info

P = sorted(PROTEINS)  # P[0] AAA, P[1] BBB, P[2] CCC, P[3] + P[4] DDD, P[5] EEE
ALIASES = [  # protein, alias, source: the official protein.aliases layout, one source a row
    (P[0], "ENSG00000000101", "Ensembl_gene"),
    (P[1], "ENSG00000000102", "Ensembl_gene"),
    (P[2], "ENSG00000000103", "Ensembl_gene"),
    (P[3], "ENSG00000000104", "Ensembl_gene"),
    (P[4], "ENSG00000000104", "Ensembl_gene"),  # both DDD proteins: one gene id
    (P[5], "ENSG00000000105", "Ensembl_gene"),
    (P[0], "P10001", "UniProt_AC"),
    (P[1], "Q20002", "UniProt_AC"),
    (P[2], "O30003", "UniProt_AC"),
    (P[3], "P40004", "UniProt_AC"),
    (P[5], "Q60006", "UniProt_AC"),
    (P[1], "OLDB", "Ensembl_HGNC_prev_symbol"),
    (P[2], "OLDC", "Ensembl_HGNC_prev_symbol"),
    (P[3], "OLDC", "Ensembl_HGNC_alias_symbol"),  # prev symbol of CCC wins over this
    (P[0], "SHARED", "Ensembl_HGNC_alias_symbol"),  # two genes claim it: ambiguous
    (P[1], "SHARED", "Ensembl_HGNC_alias_symbol"),
    (P[0], "Alpha protein", "UniProt_DE_RecName_Full"),  # not an id source: ignored
    (P[0], "1ABC", "Ensembl_PDB"),
]
ALIASES_FILE = "9606.protein.aliases.v12.0.txt.gz"
# Ensembl-keyed list (HuRI style: no header, versions); the independent mapping below
# must agree with the store.
ENSEMBL_EDGES = [
    ("ENSG00000000101.4", "ENSG00000000102.1"),
    ("ENSG00000000102", "ENSG00000000101"),  # the same pair, reversed
    ("ENSG00000000103", "ENSG00000000104"),
    ("ENSG00000000104", "ENSG00000000104"),  # self-loop
    ("ENSG00000000105", "ENSG00000000199"),  # unknown id
    ("ENSG00000000101", "ENSG00000000105"),
]
UNIPROT_EDGES = "uniprot_a,uniprot_b,score\nP10001-2,O30003,0.9\nQ20002,P40004,0.2\nQ60006,P10001,0.7\nQ60006,P10001,0.8\nA0A000,P10001,0.9\n"
SUMMARIES = "id\tsymbol\tfull_name\tsynonyms\tsummary\ttype\torganism\n" + "\n".join(
    [
        "1\tAAA\talpha\tSHARED\tAAA is a gene.\tprotein coding\tHomo sapiens",
        "2\tBBB\tbeta\t\t\tprotein coding\tHomo sapiens",
        "5\tEEE2\tepsilon\tEEE\tEEE2 was renamed from EEE.\tprotein coding\tHomo sapiens",
        "7\tGGG\tgamma-gamma\tGG1\tGGG binds AAA in screens.\tprotein coding\tHomo sapiens",
    ]
)


def aliases_text(rows=ALIASES) -> str:
    return "\n".join(["#string_protein_id\talias\tsource", *("\t".join(r) for r in rows)]) + "\n"


@pytest.fixture
def raw(tmp_path):
    paths = write_tiny_sources(tmp_path / "raw")
    paths["aliases"] = write_text(tmp_path / "raw" / ALIASES_FILE, aliases_text())
    paths["summaries"] = write_text(tmp_path / "raw" / "text" / "summaries.tsv", SUMMARIES)
    edges = "\n".join("\t".join(pair) for pair in ENSEMBL_EDGES) + "\n"
    paths["ensembl"] = write_text(tmp_path / "huri.tsv.gz", edges)
    paths["uniprot"] = write_text(tmp_path / "screen.csv", UNIPROT_EDGES)
    paths["symbols"] = write_text(tmp_path / "sym.tsv", "a\tb\nAAA\tGGG\nGG1\tBBB\nOLDC\tSHARED\n")
    return paths


def build(tmp_path, raw, edges, **kw) -> GraphStore:
    cfg = IngestConfig(
        out=str(tmp_path / "store"),
        min_score=400,
        summaries=str(raw["summaries"]),
        labels=str(raw["labels"]),
        edges=edges,
        sources=SourcesConfig(source_dir=str(tmp_path / "raw"), with_aliases=True),
        **kw,
    )
    return GraphStore(build_store(cfg))


def pairs(store: GraphStore, name: str) -> dict[tuple[str, str], float]:
    keys = store.nodes.column("key").to_pylist()
    csr = store.csr(name)
    rows = np.repeat(np.arange(csr.num_nodes), np.diff(csr.indptr))
    return {
        (keys[r], keys[c]): float(w) for r, c, w in zip(rows, csr.indices, csr.weight, strict=True)
    }


def expected_pairs(edges: pd.DataFrame, source: str, raw, strip) -> set[tuple[str, str]]:
    """Independent mapping: pandas over the aliases and info files."""
    al = pd.read_csv(raw["aliases"], sep="\t")
    info = pd.read_csv(raw["info"], sep="\t", usecols=[0, 1], quoting=3)
    symbol = dict(zip(info["#string_protein_id"], info["preferred_name"], strict=True))
    al = al[al.source == source]
    gene = al.groupby("alias")["#string_protein_id"].agg(lambda p: {symbol[x] for x in p})
    gene = {a: next(iter(g)) for a, g in gene.items() if len(g) == 1}
    a, b = edges.iloc[:, 0].map(strip).map(gene), edges.iloc[:, 1].map(strip).map(gene)
    ok = a.notna() & b.notna() & (a != b)
    return {(x, y) for x, y in zip(a[ok], b[ok], strict=True)} | {
        (y, x) for x, y in zip(a[ok], b[ok], strict=True)
    }


def test_ensembl_and_uniprot_edge_lists_become_relations(tmp_path, raw):
    store = build(
        tmp_path,
        raw,
        {
            "huri": str(raw["ensembl"]),
            "screen": {"path": str(raw["uniprot"]), "weight": "score", "threshold": 0.5},
        },
    )
    huri = pd.DataFrame(ENSEMBL_EDGES)
    want = expected_pairs(huri, "Ensembl_gene", raw, lambda s: s.split(".")[0])
    assert set(pairs(store, "huri")) == want
    assert want == {(a, b) for x, y in [("AAA", "BBB"), ("CCC", "DDD"), ("AAA", "EEE")]
                    for a, b in [(x, y), (y, x)]}  # fmt: skip

    screen = pd.read_csv(raw["uniprot"])
    screen = screen[screen.score >= 0.5]
    want = expected_pairs(screen, "UniProt_AC", raw, lambda s: s.split("-")[0])
    got = pairs(store, "screen")
    assert set(got) == want
    assert got[("AAA", "EEE")] == pytest.approx(0.8)  # duplicate rows keep the largest

    for name in ("huri", "screen"):
        check_csr(store.csr(name), name, symmetric=True)
    mf = store.manifest
    assert mf["relations"] == ["ppi", "gene_go", "go_go", "huri", "screen"]
    assert {mf["edge_types"][n] for n in ("huri", "screen")} == {
        max(EDGE_TYPES.values()) + 1,
        max(EDGE_TYPES.values()) + 2,
    }
    stats = mf["counts"]["edge_lists"]
    assert stats["huri"]["id_type"] == "ensembl_gene"
    assert stats["huri"]["unmapped_examples"] == ["ENSG00000000199"]
    assert (stats["huri"]["self_loops"], stats["huri"]["gene_pairs"]) == (1, 3)
    assert stats["screen"]["id_type"] == "uniprot"
    assert stats["screen"]["below_threshold"] == 1
    assert stats["screen"]["unmapped_examples"] == ["A0A000"]
    assert mf["counts"]["edges"]["huri"] == 6
    # The built-in graphs are untouched by user relations.
    assert store.csr("go_ppi").nnz == sum(store.csr(r).nnz for r in ("ppi", "gene_go", "go_go"))


def test_symbol_edge_list_adds_genes_with_their_text(tmp_path, raw):
    store = build(tmp_path, raw, {"sym": str(raw["symbols"])})
    keys = store.nodes.column("key").to_pylist()
    # GGG is an NCBI gene STRING lacks: a new gene node (sorted among the genes) with its
    # summary; GG1 is its synonym. OLDC is CCC's previous symbol; SHARED is ambiguous.
    assert keys[: store.num_genes] == ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"]
    assert set(pairs(store, "sym")) == {("AAA", "GGG"), ("GGG", "AAA"), ("GGG", "BBB"),
                                        ("BBB", "GGG")}  # fmt: skip
    text = store.nodes.column("text").to_pylist()[keys.index("GGG")]
    assert text == "GGG binds AAA in screens."
    stats = store.manifest["counts"]["edge_lists"]["sym"]
    assert (stats["new_genes"], stats["new_gene_examples"]) == (1, ["GGG"])
    assert stats["matched"]["ambiguous"] == 1 and stats["unmapped_examples"] == ["SHARED"]
    # EEE's summary is filed under its new NCBI symbol EEE2: found through the map.
    assert text_of(store, "EEE").startswith("EEE2 was renamed from EEE.")


def text_of(store: GraphStore, key: str) -> str:
    keys = store.nodes.column("key").to_pylist()
    return store.nodes.column("text").to_pylist()[keys.index(key)]


def test_label_file_with_previous_symbols_and_ids(tmp_path, raw):
    write_text(
        raw["labels"] / "renamed.csv",
        "gene,label\nOLDB,yes\nOLDC,no\nSHARED,yes\nAAA,no\nEEE2,yes\nNOPE,no\n",
    )
    write_text(raw["labels"] / "by_uniprot.csv", "gene,label\nP10001,1.5\nQ20002,2.5\nQ99999,3\n")
    store = build(tmp_path, raw, {})
    labels = store.labels.to_pandas()
    renamed = labels[labels.task == "renamed"].set_index("gene")
    assert renamed.node.to_dict() == {
        "AAA": 0,
        "BBB": 1,
        "CCC": 2,
        "EEE": 4,
        "NOPE": -1,
        "SHARED": -1,
    }
    ids = store.tasks["renamed"]["ids"]
    assert (ids["exact"], ids["alias"], ids["dropped"]) == (1, 3, 2)
    assert ids["examples"]["ambiguous"] == ["SHARED"]
    by_uniprot = labels[labels.task == "by_uniprot"].set_index("gene")
    assert by_uniprot.node.to_dict() == {"AAA": 0, "BBB": 1, "Q99999": -1}
    assert store.tasks["by_uniprot"]["ids"]["id_type"] == "uniprot"


def test_idmap_precedence_and_detection(tmp_path, raw):
    info = read_protein_info(raw["info"])
    genes = sorted(set(info.column("symbol").to_pylist()))
    idmap = build_idmap(genes, info, aliases=raw["aliases"], summaries=raw["summaries"])
    found = idmap.resolve(["AAA", "OLDC", "SHARED", "EEE2", "GGG", "XYZ"], "symbol")
    assert found.genes == ["AAA", "CCC", None, "EEE", "GGG", None]
    assert found.match == [Match.EXACT, Match.ALIAS, Match.AMBIGUOUS, Match.ALIAS,
                           Match.OUTSIDE, Match.UNKNOWN]  # fmt: skip
    assert idmap.resolve(["9606.ENSP00000000005", "ENSP00000000004.2"]).genes == ["DDD", "DDD"]
    assert idmap.resolve(["1", "5"]).genes == ["AAA", "EEE"]  # Entrez via the summaries
    assert detect_id_type(["ENSG00000000101", "ENSG00000000102.3", "TP53"]) == "ensembl_gene"
    assert detect_id_type(["P10001", "Q9Y6K9-2"]) == "uniprot"
    assert detect_id_type(["TP53", "GBA1", "7157"]) == "symbol"


def test_cli_edges_flag(tmp_path, raw, capsys):
    args = ["--out", str(tmp_path / "store"), "--source-dir", str(tmp_path / "raw"),
            "--with-aliases", "--summaries", str(raw["summaries"]), "--min-score", "400",
            "--edges", f"huri={raw['ensembl']}", "--edges=sym=" + str(raw["symbols"])]  # fmt: skip
    assert main(args) == 0
    store = GraphStore(tmp_path / "store")
    assert store.relations[-2:] == ["huri", "sym"]
    assert lift_edge_flags(["--edges", "a=b.tsv", "--x", "1"]) == [
        "--edges.a.path",
        "b.tsv",
        "--x",
        "1",
    ]
    capsys.readouterr()
    bad = [*args[:-3], "--edges", "go=" + str(raw["symbols"])]
    assert main(bad) == 2
    assert "built-in graphs" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "spec", "message"),
    [
        ("a\tb\nAAA\tBBB\n", {"weight": "w"}, r"no column\(s\) \['w'\]"),
        ("a,b,w\nAAA,BBB,x\n", {"weight": "w"}, r"screen.csv:2: weight 'x'"),
        ("a,b\nAAA,\n", {}, r"screen.csv:2: a gene id is empty"),
        ("a,b\nX1,X2\n", {"new_genes": False}, "no edge left"),
    ],
)
def test_bad_edge_lists_fail_with_the_line(tmp_path, raw, text, spec, message):
    path = write_text(tmp_path / "screen.csv", text)
    with pytest.raises(IngestError, match=message):
        build(tmp_path, raw, {"screen": {"path": str(path), **spec}})
    assert not (tmp_path / "store").exists()


def test_real_labels_recover_renamed_genes(shared_data):
    """STRING v12 keeps ARNTL / GBA / FGFR1OP; the label files say BMAL1 / GBA1 / CEP43."""
    from ingest.labels import load_label_dir

    info = read_protein_info(shared_data / "string" / "9606.protein.info.v12.0.txt.gz")
    genes = frozenset(info.column("symbol").to_pylist())
    summaries = shared_data / "text" / "ncbi_gene_summaries_human.2022-10-27.tsv.gz"
    idmap = build_idmap(genes, info, summaries=summaries)
    table, tasks = load_label_dir(
        shared_data / "labels", lambda ids: idmap.resolve(ids, "auto", genes)
    )
    raw_genes = set(
        pd.read_csv(shared_data / "labels" / "litgene" / "DosageSensitivity.csv")["Gene name"]
    )
    labelled = set(table.column("gene").to_pylist())
    for new, old in [("BMAL1", "ARNTL"), ("GBA1", "GBA"), ("CEP43", "FGFR1OP")]:
        assert old in labelled and new not in labelled
    assert {"BMAL1", "GBA1"} & raw_genes  # the published file uses the new names
    assert tasks["dosage_sensitivity"]["ids"]["alias"] >= 1
    assert sum(info["ids"]["alias"] for info in tasks.values()) >= 50
    # An old name of a gene the file also lists under its key never adds a conflict.
    assert tasks["conservation"]["conflicts"] == 0 and tasks["conservation"]["ids"]["shadowed"] > 0


def test_user_label_file_at_train_time_uses_the_store_aliases(tmp_path, raw):
    from genen_scale.tasks.task import load_user_task

    store = build(tmp_path, raw, {})
    aliases = store.aliases.to_pandas().set_index("alias")
    assert aliases.loc["OLDB"].tolist() == ["symbol", 1]
    assert aliases.loc["Q60006"].tolist() == ["uniprot", 4]
    assert "SHARED" not in aliases.index and "AAA" not in aliases.index
    path = write_text(
        tmp_path / "mine.csv", "gene,label\nOLDB,a\nQ60006,b\nAAA,a\nP10001,b\nZZZ,a\n"
    )
    task = load_user_task(path, store)
    keys = store.nodes.column("key").to_pylist()
    got = {keys[n]: task.classes[y] for n, y in zip(task.nodes, task.y, strict=True)}
    # P10001 is AAA's accession: AAA's own row wins over it.
    assert got == {"AAA": "a", "BBB": "a", "EEE": "b"}
    assert task.missing_genes == ["ZZZ"]


def test_config_table_with_named_columns(tmp_path, raw):
    from genen_core.config import load_config

    edges = write_text(tmp_path / "biogrid.txt", "#ID\tEntrez A\tEntrez B\nx1\t1\t2\nx2\t5\t7\n")
    toml = tmp_path / "ingest.toml"
    toml.write_text(
        f'[edges.biogrid]\npath = "{edges}"\nid_type = "entrez"\n'
        'columns = ["Entrez A", "Entrez B"]\n'
    )
    cfg = load_config(
        IngestConfig,
        toml,
        [
            "--out",
            str(tmp_path / "store"),
            "--summaries",
            str(raw["summaries"]),
            "--min-score",
            "400",
            "--sources.source_dir",
            str(tmp_path / "raw"),
        ],  # fmt: skip
    )
    assert cfg.edges["biogrid"].columns == ["Entrez A", "Entrez B"]
    store = GraphStore(build_store(cfg))
    # Entrez 5 is EEE (NCBI calls it EEE2), 7 is GGG, an NCBI gene STRING lacks.
    assert set(pairs(store, "biogrid")) == {("AAA", "BBB"), ("BBB", "AAA"), ("EEE", "GGG"),
                                            ("GGG", "EEE")}  # fmt: skip
    with pytest.raises(ValueError, match="unknown keys \\['colums'\\]"):
        IngestConfig(out="x", edges={"b": {"path": str(edges), "colums": ["a", "b"]}})


def test_real_string_links_as_an_edge_list(shared_data):
    """The real STRING subset read as a user edge list (ENSP ids with taxon prefixes, a
    space-separated file, a weight and a threshold) gives the pairs pandas computes."""
    import duckdb
    from ingest_helpers import pandas_reference

    from ingest.edges import EdgeListConfig, read_edge_list

    links = shared_data / "string" / "9606.protein.links.v12.0.hc-subset.txt.gz"
    info_path = shared_data / "string" / "9606.protein.info.v12.0.txt.gz"
    info = read_protein_info(info_path)
    idmap = build_idmap(info.column("symbol").to_pylist(), info)
    cfg = EdgeListConfig(
        path=str(links), weight="combined_score", threshold=700, weight_scale=0.001
    )
    with duckdb.connect() as con:
        edges = read_edge_list("string", cfg, idmap, con)
    assert edges.stats["id_type"] == "ensembl_protein" and edges.stats["unmapped_ids"] == 0
    index = pd.MultiIndex.from_arrays([edges.src.to_pylist(), edges.dst.to_pylist()])
    got = pd.Series(edges.weight, index=index)
    got = got.groupby(level=[0, 1]).max()
    want = pandas_reference(links, info_path, 700)
    assert got.index.sort_values().equals(want.index.sort_values())
    assert np.allclose(got.sort_index().to_numpy(), want.sort_index().to_numpy() / 1000)


def test_gaf_genes_under_an_old_symbol_join_their_string_gene(tmp_path, raw):
    from ingest_helpers import GAF_ROWS, gaf_text

    write_text(raw["gaf"], gaf_text([*GAF_ROWS, ("OLDB", "", "GO:0000006", "IDA", "C")]))
    store = build(tmp_path, raw, {})
    keys = store.nodes.column("key").to_pylist()
    assert "OLDB" not in keys
    gene_go = store.csr("gene_go")
    bbb = keys.index("BBB")
    row = gene_go.indices[gene_go.indptr[bbb] : gene_go.indptr[bbb + 1]]
    assert {keys[c] for c in row} == {"GO:0000003", "GO:0000006"}
    assert store.manifest["counts"]["gaf"]["genes_by_alias"] == 1


def test_mixed_id_types_resolve_each_id_and_invent_no_gene(tmp_path, raw):
    """A symbol file that also holds a STRING protein id and an Entrez number (AAA is 1)."""
    text = f"a\tb\nAAA\tGGG\n{P[1]}\tCCC\n1\tCCC\n424242\tBBB\nOLDB\tCCC\n"
    mixed = write_text(tmp_path / "mixed.tsv", text)
    store = build(tmp_path, raw, {"mixed": str(mixed)})
    keys = store.nodes.column("key").to_pylist()
    assert keys[: store.num_genes] == ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG"]
    assert set(pairs(store, "mixed")) == {
        (x, y) for a, b in [("AAA", "GGG"), ("BBB", "CCC"), ("AAA", "CCC")]
        for x, y in [(a, b), (b, a)]
    }  # fmt: skip
    stats = store.manifest["counts"]["edge_lists"]["mixed"]
    assert stats["id_type"] == "mixed" and stats["new_gene_examples"] == ["GGG"]
    assert stats["ids_by_type"] == {"ensembl_protein": 1, "entrez": 2, "symbol": 5}
    assert stats["unmapped_examples"] == ["424242"]


@pytest.mark.parametrize(
    ("weight", "scale", "shown"), [("1e39", 1.0, "1e+39"), ("1e300", 1.0, "1e+300"),
                                   ("5", 1e38, "5e+38")]
)  # fmt: skip
def test_weights_beyond_float32_fail_with_the_row(tmp_path, raw, weight, scale, shown):
    path = write_text(tmp_path / "screen.csv", f"a,b,w\nAAA,BBB,0.5\nBBB,CCC,{weight}\n")
    spec = {"path": str(path), "weight": "w", "weight_scale": scale}
    with pytest.raises(
        IngestError, match=rf"screen.csv:3: weight .* = {re.escape(shown)} does not fit"
    ):
        build(tmp_path, raw, {"screen": spec})
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a\tb\nAAA\tBBB\nCCC\n", r"line 3 has 1 field\(s\), the first line has 2"),
        ("a\tb\nAAA\tBBB\nCCC\tDDD\tEEE\n", r"line 3 has 3 field\(s\), the first line has 2"),
        ("a,b\n", "no gene pairs were read .only a header"),
    ],
)
def test_ragged_or_header_only_edge_lists_are_one_line(tmp_path, raw, capsys, text, message):
    path = write_text(tmp_path / "screen.tsv", text)
    args = ["--out", str(tmp_path / "store"), "--source-dir", str(tmp_path / "raw")]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        assert main([*args, "--edges", f"screen={path}"]) == 2
        gc.collect()
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert re.search(rf"{path}: .*{message}", line), line
    # Every read of the edge list (first line, ragged-line scan) closes its file.
    unclosed = [w for w in seen if w.category is ResourceWarning and str(path) in str(w.message)]
    assert not unclosed, unclosed[0].message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--edges", "mine=a.tsv", "--edges", "mine=b.tsv"], "--edges mine is given twice"),
        (["--edges", "../x=a.tsv"], "the name '../x' is invalid; it names the relation"),
        (["--edges=Big=a.tsv"], "the name 'Big' is invalid"),
    ],
)
def test_edges_flags_refuse_duplicate_and_invalid_names(argv, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        lift_edge_flags(argv)


def test_out_null_says_how_to_name_a_folder_null(tmp_path, capsys):
    assert main(["--out", "null", "--source-dir", str(tmp_path)]) == 2
    assert "a folder of that name is ./null" in capsys.readouterr().err
