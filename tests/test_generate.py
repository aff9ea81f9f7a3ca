"""The synthetic data generator: official formats, graph shape, signal, determinism."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import networkx as nx
import numpy as np
import obonet
import pandas as pd
import pytest

from genen_core.config import ConfigError
from ingest.generate import PRESETS, GenerateConfig, file_names, generate, main
from ingest.synthetic import links as sl


def _cfg(**kw) -> GenerateConfig:
    return GenerateConfig(**{**PRESETS["tiny"], **kw})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tiny")
    return out, generate(out, _cfg())


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    """Big enough for degree and homophily statistics, GO kept small for speed."""
    out = tmp_path_factory.mktemp("small")
    return out, generate(out, _cfg(proteins=2000, links=60_000, modules=18, go_terms=60))


def _links(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / file_names(9606)["links"], sep=" ")


def _info(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / file_names(9606)["info"], sep="\t")


def test_string_files_parse_and_agree(tiny):
    out, result = tiny
    info, links = _info(out), _links(out)
    assert list(info.columns) == [
        "#string_protein_id",
        "preferred_name",
        "protein_size",
        "annotation",
    ]
    assert list(links.columns) == ["protein1", "protein2", "combined_score"]
    assert info["#string_protein_id"].str.fullmatch(r"9606\.ENSP\d{11}").all()
    assert (
        info["#string_protein_id"].is_monotonic_increasing and info["#string_protein_id"].is_unique
    )
    # Some genes have two proteins, so ingest has to collapse protein pairs to genes.
    assert info["preferred_name"].duplicated().any()
    assert (info["annotation"] == "annotation not available").any()
    ids = set(info["#string_protein_id"])
    assert set(links["protein1"]) <= ids and set(links["protein2"]) <= ids
    assert links["combined_score"].between(150, 999).all()
    assert (links["protein1"] != links["protein2"]).all()
    assert links["protein1"].is_monotonic_increasing  # STRING's order
    assert len(links) == result["counts"]["link_lines"]
    assert abs(len(links) - PRESETS["tiny"]["links"]) < 0.1 * PRESETS["tiny"]["links"]


def test_links_list_every_pair_in_both_directions_once(tiny):
    links = _links(tiny[0])
    fwd = set(zip(links["protein1"], links["protein2"], links["combined_score"], strict=True))
    rev = set(zip(links["protein2"], links["protein1"], links["combined_score"], strict=True))
    assert len(fwd) == len(links)  # no duplicate lines
    assert fwd == rev  # each pair twice, with the same score


def test_obo_is_a_dag_with_obsolete_terms_and_alt_ids(tiny):
    path = tiny[0] / "go-basic.obo"
    text = path.read_text()
    assert text.startswith("format-version: 1.2\ndata-version: ")
    graph = obonet.read_obo(path)
    assert nx.is_directed_acyclic_graph(graph)
    order = [line[4:] for line in text.splitlines() if line.startswith("id: GO:")]
    position = {t: i for i, t in enumerate(order)}
    # obonet edges run child -> parent; parents always come earlier in the file.
    for child, parent, rel in graph.edges(keys=True):
        assert position[parent] < position[child], (child, rel, parent)
    rels = {rel for _, _, rel in graph.edges(keys=True)}
    assert "is_a" in rels and rels - {"is_a"}
    assert "is_obsolete: true" in text and "alt_id: GO:" in text
    assert len(order) == PRESETS["tiny"]["go_terms"]


def test_gaf_has_17_columns_and_known_ids(tiny):
    out, result = tiny
    with gzip.open(out / "goa_human.gaf.gz", "rt") as f:
        lines = f.read().splitlines()
    assert lines[0] == "!gaf-version: 2.1"
    rows = [line.split("\t") for line in lines if not line.startswith("!")]
    assert len(rows) == result["counts"]["annotations"] > 0
    assert {len(r) for r in rows} == {17}
    text = (out / "go-basic.obo").read_text()
    known = {
        line.split(": ")[1]
        for line in text.splitlines()
        if line.startswith(("id: GO:", "alt_id: "))
    }
    assert {r[4] for r in rows} <= known
    assert {r[8] for r in rows} <= {"P", "F", "C"}
    assert {r[12] for r in rows} == {"taxon:9606"}
    symbols = set(_info(out)["preferred_name"])
    assert {r[2] for r in rows} <= symbols


def test_summaries_have_empty_and_long_texts(small):
    out, _ = small
    s = pd.read_csv(out / "gene_summaries.tsv.gz", sep="\t", keep_default_na=False)
    assert list(s.columns) == [
        "id",
        "symbol",
        "full_name",
        "synonyms",
        "summary",
        "type",
        "organism",
    ]
    assert s["symbol"].is_unique and s["id"].is_unique
    coding = s[s["type"] == "protein coding"]
    words = coding["summary"].str.split().str.len().fillna(0)
    assert (words == 0).mean() > 0.02  # less-studied genes without a summary
    present = words[words > 0]
    assert present.max() > 3 * present.median()  # heavy tail: well-studied genes
    # Non-coding genes (not in STRING) are there too, mostly without a summary.
    assert (s["type"] != "protein coding").sum() > 0


def test_degree_is_heavy_tailed(small):
    links = _links(small[0])
    deg = links["protein1"].value_counts()
    assert deg.max() > 5 * deg.median()
    assert deg.min() < 0.5 * deg.median()


def _location(out: Path) -> dict[str, str]:
    loc = pd.read_csv(out / "labels/old_litgene/subcellular_location.csv")
    return dict(zip(loc["GeneSymbol"], loc["Subcellular_location"], strict=True))


def test_graph_and_text_carry_label_signal(small):
    out, _ = small
    info, links = _info(out), _links(out)
    gene = dict(zip(info["#string_protein_id"], info["preferred_name"], strict=True))
    loc = _location(out)
    a = links["protein1"].map(gene).map(loc)
    b = links["protein2"].map(gene).map(loc)
    both = a.notna() & b.notna()
    same = (a[both] == b[both]).mean()
    share = pd.Series(loc).value_counts(normalize=True)
    chance = float((share**2).sum())
    assert same > 1.3 * chance, (same, chance)
    # Membrane genes' summaries mention membranes more often than other genes'.
    s = pd.read_csv(out / "gene_summaries.tsv.gz", sep="\t", keep_default_na=False)
    s["loc"] = s["symbol"].map(loc)
    says = s["summary"].str.contains("membrane")
    assert says[s["loc"] == "Cell membrane"].mean() > 2 * says[s["loc"] == "Nucleus"].mean()


def test_label_layouts_match_the_real_files(tiny, shared_data):
    out, _ = tiny
    for rel in (
        "litgene/solubility.csv",
        "litgene/DosageSensitivity.csv",
        "old_litgene/solubility.csv",
        "old_litgene/subcellular_location.csv",
        "old_litgene/phastcons.csv",
    ):
        ours = (out / "labels" / rel).read_bytes().split(b"\n", 1)[0]
        real = (shared_data / "labels" / rel).read_bytes().split(b"\n", 1)[0]
        assert ours == real, rel  # same header and line ending
    sol = pd.read_csv(out / "labels/litgene/solubility.csv")
    assert set(zip(sol["StrLabel"], sol["Label"], strict=True)) == {("Membrane", 0), ("Soluble", 1)}
    cons = pd.read_csv(out / "labels/old_litgene/phastcons.csv")
    assert cons["Conservation"].dropna().between(0, 1).all()


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tiny, tmp_path):
    out, _ = tiny
    generate(tmp_path / "again", _cfg())
    generate(tmp_path / "other", _cfg(seed=1))
    assert _digests(out) == _digests(tmp_path / "again")
    other = _digests(tmp_path / "other")
    assert other[file_names(9606)["links"]] != _digests(out)[file_names(9606)["links"]]


def test_expected_lines_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 300
    w = sl.degree_weights(n, 0.9, 2.5, 40.0, rng)
    module = rng.integers(0, 9, n)
    a, b = sl.homophily_boosts(w, module, module % 3, 0.3, 0.6)
    model = sl.BlockModel(w, module, module % 3, a, b, 1.0)
    model = sl.BlockModel(w, module, module % 3, a, b, sl.solve_scale(model, 9_000))
    brute = model.prob_block(0, n)
    assert np.allclose(brute, brute.T)
    assert model.expected_lines() == pytest.approx(brute.sum(), rel=1e-9)
    assert model.expected_lines() == pytest.approx(9_000, rel=1e-6)
    with pytest.raises(ValueError, match="impossible"):
        sl.solve_scale(model, n * n)


def test_cli_applies_preset_then_overrides(tmp_path, capsys):
    result = main(
        ["--out", str(tmp_path), "--preset", "tiny", "--links", "2000", "--go-terms", "40"]
    )
    assert (
        result["config"]["links"] == 2000
        and result["config"]["proteins"] == PRESETS["tiny"]["proteins"]
    )
    assert result["counts"]["go_terms"] == 40
    assert '"link_lines"' in capsys.readouterr().out
    with pytest.raises(ConfigError, match="did you mean 'links'"):
        main(["--out", str(tmp_path), "--preset", "tiny", "--linkz", "10"])
    with pytest.raises(ValueError, match="even"):
        GenerateConfig(links=1001)
