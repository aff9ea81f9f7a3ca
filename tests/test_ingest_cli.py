"""genen-ingest: a thin entry point; success prints a summary, bad input exits 2 in one line."""

from __future__ import annotations

import json

import pytest
from ingest_helpers import write_text, write_tiny_sources

from genen_core.store import GraphStore
from ingest.cli import main


@pytest.fixture
def raw(tmp_path):
    return write_tiny_sources(tmp_path / "raw")


def args(raw, out, *extra) -> list[str]:
    return [
        "--out", str(out), "--string-version", "12", "--species", "9606",
        "--min-score", "400", "--sources.source_dir", str(raw["links"].parent),
        "--labels", str(raw["labels"]), "--summaries", str(raw["summaries"]), *extra,
    ]  # fmt: skip


def test_builds_and_prints_summary(raw, tmp_path, capsys):
    out = tmp_path / "store"
    assert main(args(raw, out)) == 0
    summary = json.loads(capsys.readouterr().out)
    store = GraphStore(out)
    assert summary["nodes"] == store.num_nodes and summary["genes"] == store.num_genes
    assert summary["edges"]["ppi"] == store.csr("ppi").nnz
    assert summary["tasks"] == {"toy": store.tasks["toy"]["genes_in_graph"]}
    assert store.manifest["params"]["min_score"] == 400


def test_config_file_then_overrides(raw, tmp_path, capsys):
    config = write_text(
        tmp_path / "ingest.yaml",
        f"min_score: 950\nsources:\n  source_dir: {raw['links'].parent}\n",
    )
    out = tmp_path / "store"
    assert main(["--config", str(config), "--out", str(out), "--min-score", "850"]) == 0
    store = GraphStore(out)
    assert store.manifest["params"]["min_score"] == 850
    assert store.manifest["counts"]["ppi"]["gene_pairs"] == 1  # only AAA-BBB (900)
    assert store.manifest["params"]["sources"]["source_dir"] == str(raw["links"].parent)


def test_bad_input_is_one_line_and_exit_2(raw, tmp_path, capsys):
    write_text(raw["links"], "protein1 protein2 combined_score\nP1 P2 oops\n")
    out = tmp_path / "store"
    assert main(args(raw, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genen-ingest: error:")
    assert str(raw["links"]) in err[0] and "Traceback" not in err[0]
    assert not out.exists()


def test_existing_store_needs_force(raw, tmp_path, capsys):
    out = tmp_path / "store"
    assert main(args(raw, out)) == 0
    capsys.readouterr()
    assert main(args(raw, out)) == 2
    assert "--force" in capsys.readouterr().err
    assert main(args(raw, out, "--force")) == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--min-scor", "3", "--out", "x"], "did you mean 'min_score'"),
        (["--min-score", "2000", "--out", "x"], "min_score=2000"),
        (["--min-score", "400"], "--out"),
        (["--config"], "--config needs a file"),
    ],
)
def test_bad_config_exits_2(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_source_fields_are_accepted_flat():
    from ingest.cli import _lift_source_flags

    assert _lift_source_flags(
        ["--source-dir", "d", "--mirror=http://127.0.0.1:1/", "--out", "s"]
    ) == [
        "--sources.source_dir",
        "d",
        "--sources.mirror=http://127.0.0.1:1/",
        "--out",
        "s",
    ]
