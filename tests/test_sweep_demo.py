"""genen-sweep with no config file: the shipped demo sweep, its template, and a re-run with
nothing left to do that starts no Ray."""

from __future__ import annotations

import pandas as pd
import pytest
import ray
from train_helpers import FEATURES, bag_of_words

from genen_core.command_line import parse_command_line
from genen_core.store import GraphStore
from genen_scale.demo import demo_store
from genen_scale.sweep import cli
from genen_scale.sweep import demo as sweep_demo
from genen_scale.sweep.config import SweepConfig
from genen_scale.sweep.grid import expand


@pytest.fixture(scope="module")
def small_demo_store(tmp_path_factory):
    """The demo bootstrap's store at the generator's ``tiny`` preset, bag-of-words features."""
    path = demo_store(tmp_path_factory.mktemp("demo"), preset="tiny", encode=False)
    return bag_of_words(GraphStore.open(path)).path


def fast(store, out) -> list[str]:
    """The demo sweep's file with fast settings on the small store."""
    return [
        "--output_dir", str(out),
        "--train.data.store", str(store),
        "--train.data.features", FEATURES,
        "--train.optim.epochs", "3",
        "--train.model.hidden", "16",
    ]  # fmt: skip


def test_demo_sweep_runs_then_a_rerun_starts_no_ray(
    small_demo_store, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "sweep"
    assert cli.main([*fast(small_demo_store, out), "--local", "true"]) == 0
    rows = pd.read_parquet(out / "results.parquet")
    trials = rows.groupby(["model", "mask_rate"]).size()
    assert trials.to_dict() == {(m, r): 3 for m in ("gcn", "logreg") for r in (0.0, 0.5)}
    assert set(rows["task"]) == {"solubility"}
    assert f"report: genen-report {out}" in capsys.readouterr().out

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray was started with nothing left to do")

    monkeypatch.setattr(cli, "join_or_start", no_ray)
    assert cli.main(fast(small_demo_store, out)) == 0  # not --local: Ray if anything ran
    assert not ray.is_initialized()
    assert "4 of 4 trials finished" in capsys.readouterr().out


def test_sweep_without_a_store_runs_on_the_demo_store(tmp_path, monkeypatch):
    built = []

    def fake_demo_store(root):
        built.append(root)
        return tmp_path / "demo_store"

    monkeypatch.setattr(sweep_demo, "demo_store", fake_demo_store)
    cfg = cli.parse_args(["--output_dir", str(tmp_path)])
    assert cfg.train["data"]["store"] == str(tmp_path / "demo_store")
    assert built == ["~/.cache/genen_scale/demo"]
    given = cli.parse_args(["--train.data.store", str(tmp_path / "mine")])
    assert given.train["data"]["store"] == str(tmp_path / "mine") and len(built) == 1


def test_shipped_demo_and_template_are_valid_sweeps():
    for path in (sweep_demo.DEMO_SWEEP, sweep_demo.TEMPLATE):
        cfg = parse_command_line(SweepConfig, ["--config", str(path)])
        assert len(expand(cfg)) >= 2
    demo = parse_command_line(SweepConfig, ["--config", str(sweep_demo.DEMO_SWEEP)])
    assert demo.output_dir == "sweeps/demo" and "store" not in demo.train.get("data", {})
