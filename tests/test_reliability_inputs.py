"""Bad input ends in one clear line and exit code 2, never a traceback or a silent guess."""

from __future__ import annotations

import logging

import pytest
from ingest_helpers import (
    LINKS_HEADER,
    PAIRS,
    info_text,
    links_text,
    write_text,
    write_tiny_sources,
)
from train_helpers import small_args, train_store

from genen_core.config import load_config
from genen_core.store import GraphStore, StoreError
from genen_scale.train import main as train_main
from ingest.cli import main as ingest_main
from ingest.config import IngestConfig
from ingest.string_db import links_to_csr


@pytest.fixture
def raw(tmp_path):
    return write_tiny_sources(tmp_path / "raw")


def ingest(raw, out, *extra) -> list[str]:
    return ["--out", str(out), "--sources.source_dir", str(raw["links"].parent), *extra]


def error_line(capsys, prog: str = "genen-ingest") -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error:"), err
    assert "Traceback" not in err[0]
    return err[0]


def test_non_numeric_protein_size(raw, tmp_path, capsys):
    write_text(raw["info"], info_text().replace("\t300\t", "\tbig\t", 1))
    assert ingest_main(ingest(raw, tmp_path / "store")) == 2
    line = error_line(capsys)
    assert str(raw["info"]) in line and "protein_size" in line and "Line: 2" in line
    assert not (tmp_path / "store").exists()


def test_fractional_score_is_rejected(raw, tmp_path, capsys):
    (a, b, _), rest = PAIRS[0], PAIRS[1:]
    write_text(raw["links"], links_text([(a, b, "900.5"), *rest]))
    assert ingest_main(ingest(raw, tmp_path / "store")) == 2
    line = error_line(capsys)
    assert "line 2: combined_score 900.5 is not an integer" in line


def test_header_only_links_file(raw, tmp_path, capsys):
    write_text(raw["links"], LINKS_HEADER + "\n")
    assert ingest_main(ingest(raw, tmp_path / "store")) == 2
    assert "header but no protein pairs" in error_line(capsys)


def test_ontology_without_terms(raw, tmp_path, capsys):
    write_text(raw["obo"], "format-version: 1.2\ndata-version: releases/2024-01-01\n")
    assert ingest_main(ingest(raw, tmp_path / "store")) == 2
    assert str(raw["obo"]) in error_line(capsys)
    assert not (tmp_path / "store").exists()


def test_asymmetric_scores_warning_counts_what_it_says(raw, caplog):
    (a, b, s), rest = PAIRS[0], PAIRS[1:]
    # AAA-BBB with a different score each way; AAA-CCC listed one way only.
    lines = links_text(rest[1:]).splitlines() + [f"{a} {b} {s}", f"{b} {a} {s - 100}"]
    lines.append(f"{rest[0][0]} {rest[0][1]} {rest[0][2]}")
    write_text(raw["links"], "\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="ingest.string_db"):
        _, _, stats = links_to_csr(raw["links"], raw["info"], min_score=0)
    assert "1 gene pair(s) listed in one direction only, 1 with a different score" in caplog.text
    assert stats["one_direction"] == 1 and stats["score_mismatch"] == 1


@pytest.mark.parametrize("value", ["0123", "1e3", "true", "[a]", "a: b", "it's"])
def test_string_fields_keep_the_text_given(value, tmp_path):
    """``--out 0123`` is the directory "0123"; YAML never re-types a str field."""
    cfg = load_config(IngestConfig, None, ["--out", value, "--mygene-url", value])
    assert cfg.out == value and cfg.mygene_url == value


def test_quoted_strings_lose_their_quotes():
    cfg = load_config(IngestConfig, None, ["--out", '"0123"', "--mygene-url", "'x'"])
    assert cfg.out == "0123" and cfg.mygene_url == "x"


def test_str_list_items_keep_their_text():
    cfg = load_config(IngestConfig, None, ["--out", "s", "--evidence-drop", "[007, IEA]"])
    assert cfg.evidence_drop == ["007", "IEA"]


def test_null_unsets_only_optional_fields():
    cfg = load_config(
        IngestConfig, None, ["--out", "s", "--mygene-url", "null", "--labels", "null"]
    )
    assert cfg.mygene_url == "null" and cfg.labels is None


def test_typed_fields_still_parse(tmp_path):
    cfg = load_config(
        IngestConfig,
        None,
        ["--out", "s", "--min-score", "400", "--go-relations", "[is_a]", "--summaries", "null"],
    )
    assert cfg.min_score == 400 and cfg.go_relations == ["is_a"] and cfg.summaries is None


def test_out_0123_builds_a_store_named_0123(raw, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert ingest_main(ingest(raw, "0123")) == 0
    assert GraphStore(tmp_path / "0123").num_genes > 0 and not (tmp_path / "83").exists()


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_truncated_feature_file_is_a_store_error(tmp_path):
    store = train_store(tmp_path / "store")
    f = store.feature_path("test")
    truncate(f)
    with pytest.raises(StoreError, match=rf"{f}.*truncated"):
        store.features("test")


def test_truncated_graph_file_is_a_store_error(tmp_path):
    store = train_store(tmp_path / "store")
    f = store.path / "graph" / "ppi" / "indices.npy"
    truncate(f)
    with pytest.raises(StoreError, match=rf"{f}.*truncated"):
        store.csr("ppi")


def test_train_on_truncated_features_exits_2(tmp_path, capsys):
    store = train_store(tmp_path / "store")
    truncate(store.feature_path("test"))
    assert train_main(small_args(store, tmp_path / "runs")) == 2
    line = error_line(capsys, "genen-train")
    assert str(store.feature_path("test")) in line
