"""One name for the masking share, ``mask_rate``, from the command line to the report.

The training config's field was ``data.mask_fraction``: that key still loads (with a
warning) and is hashed under its old name, so the trials committed under docs/ keep
their ids and their ``trial.json`` files still load.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from genen_core.config import ConfigError, load_config
from genen_scale.report.run_report import metric_summary
from genen_scale.sweep.cli import parse_args
from genen_scale.sweep.grid import TrialSpec, config_hash, expand
from genen_scale.sweep.trial import _rows
from genen_scale.training.config import TrainConfig
from genen_scale.training.results import config_hash as run_hash

REPO = Path(__file__).resolve().parents[1]
OLD_KEY = "config key 'data.mask_fraction' is now 'data.mask_rate'"


@pytest.mark.parametrize("sweep", ["selection", "experiments", "reproduction"])
def test_committed_trials_keep_their_ids(sweep):
    """The committed grid expands to the ids of its committed trials, and each trial's
    ``trial.json`` (most written with ``data.mask_fraction``, trials resumed since the
    rename with ``data.mask_rate``) loads and hashes to its own id."""
    trials = REPO / "docs" / f"{sweep}-results" / "trials"
    committed = sorted(p.name for p in trials.iterdir())
    expanded = {s.id: s for s in expand(parse_args([str(REPO / "docs" / f"{sweep}.toml")]))}
    assert set(committed) <= set(expanded)
    # The experiments and reproduction grids mask (mask_rates up to 0.9): the renamed
    # field is in the hash.
    masked = [i for i in committed if expanded[i].keys["mask_rate"] > 0]
    assert (sweep != "selection") == bool(masked)
    old_key = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for trial in committed:
            spec = json.loads((trials / trial / "trial.json").read_text())
            old_key += "mask_fraction" in spec["train"]["data"]
            assert {"mask_fraction", "mask_rate"} & spec["train"]["data"].keys()
            assert config_hash(spec["keys"]["model"], spec["train"]) == trial
            rate = TrialSpec.from_dict(spec).config(Path("out")).data.mask_rate
            assert rate == spec["keys"]["mask_rate"]
    # The old name's path is what this checks: most of the first two sweeps' trials
    # were written before the rename (the reproduction grid's new trials after it).
    assert old_key > (0 if sweep == "reproduction" else len(committed) // 2)


def test_the_old_key_loads_with_a_warning_and_the_same_hash(tmp_path):
    new = load_config(TrainConfig, overrides=["--data.mask_rate", "0.5"])
    with pytest.warns(FutureWarning, match=OLD_KEY):
        old = load_config(TrainConfig, overrides=["--data.mask_fraction", "0.5"])
    path = tmp_path / "train.yaml"
    path.write_text("data:\n  mask_fraction: 0.5\n")
    with pytest.warns(FutureWarning, match=OLD_KEY):
        from_file = load_config(TrainConfig, path)
    assert new == old == from_file and new.data.mask_rate == 0.5
    assert run_hash(new) == run_hash(old) != run_hash(TrainConfig())


def test_both_keys_are_one_clear_error():
    with pytest.raises(
        ConfigError, match="'data.mask_fraction' is the old name of 'data.mask_rate'"
    ):
        load_config(
            TrainConfig, overrides=["--data.mask_rate", "0.5", "--data.mask_fraction", "0.5"]
        )


def test_a_trial_row_has_one_mask_rate_column():
    """The run's metrics table carries ``mask_rate``; the trial's rows take it from the grid
    keys and drop the run's copy."""
    keys = {"task": "t", "graph": "go", "model": "gcn", "mask_rate": 0.5, "seed": 0}
    spec = TrialSpec("abc", keys, {})
    table = pd.DataFrame(
        {"task": ["t"], "features": ["f"], "mask_rate": [0.5], "model": ["gcn"], "graph": ["go"]}
        | {"fold": [0], "auc": [0.7]}
    )
    rows = _rows(spec, TrainConfig(), table, 1.0, 1.0, 1, 0)
    assert list(rows.columns).count("mask_rate") == 1 and rows["mask_rate"].tolist() == [0.5]


def test_run_report_leaves_the_masking_share_out_of_the_metrics():
    # mask_fraction: a run written before the rename
    for column in ("mask_rate", "mask_fraction"):
        metrics = pd.DataFrame(
            {"model": ["gcn"] * 2, "graph": ["go"] * 2, "fold": [0, 1], "auc": [0.7, 0.8]}
            | {column: [0.5, 0.5]}
        )
        assert "mask" not in metric_summary(metrics, "auc")
