"""Checkpoints that cannot run code, resume that picks only our runs, predictions, no-val folds."""

from __future__ import annotations

import json
import math
import os
import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from train_helpers import small_config, train_store

from genen_scale.tasks.fold_result import EpochRecord
from genen_scale.tasks.metrics import evaluate
from genen_scale.training import TrainError, run
from genen_scale.training.checkpoint import STATE_JSON, STATE_TENSORS, load_state, save_state
from genen_scale.training.state import FoldState, RunState

ONE_FOLD = ("--eval.folds_to_run", "[0]", "--optim.epochs", "2", "--eval.baselines", "[]")


class Payload:
    """Unpickling this creates a file: what a planted checkpoint would do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("ckpt") / "store")


def test_planted_checkpoint_is_refused_and_never_run(store, tmp_path):
    run_dir, _ = run(small_config(store, tmp_path, "--run_name", "r", *ONE_FOLD))
    target = tmp_path / "pwned"
    ckpt = run_dir / "checkpoint"
    assert (ckpt / STATE_JSON).is_file() and (ckpt / STATE_TENSORS).is_file()
    # Control: plain pickle would run it.
    pickle.loads(pickle.dumps(Payload(target)))
    assert target.exists()
    target.unlink()
    with open(ckpt / STATE_TENSORS, "wb") as f:
        pickle.dump({"model": Payload(target)}, f)
    with pytest.raises(TrainError, match="not one this tool wrote") as err:
        run(small_config(store, tmp_path, "--run_name", "r", "--resume", *ONE_FOLD))
    assert not target.exists()
    # It says what the file holds, never torch's advice to load it unsafely.
    assert "holds pickled objects other than tensors" in str(err.value)
    assert "weights_only=False" not in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("damaged", "data", "message"),
    [
        ("checkpoint/run_state.json", b"\x00garbage{", "not one this tool wrote"),
        ("checkpoint/run_state.json", b'{"format": 1}', "not one this tool wrote.*KeyError"),
        ("folds/fold0.json", b"\x00garbage{", "finished fold 0 .* cannot be read"),
        ("folds/fold0.json", b'{"fold": 0}', "finished fold 0 .* cannot be read"),
        ("folds/predictions_fold0.parquet", b"PAR1", "finished fold 0 .* cannot be read"),
    ],
)
def test_resume_with_damaged_files_is_one_line(store, tmp_path, damaged, data, message):
    run_dir, _ = run(small_config(store, tmp_path, "--run_name", "r", *ONE_FOLD))
    (run_dir / damaged).write_bytes(data)
    with pytest.raises(TrainError, match=message) as err:
        run(small_config(store, tmp_path, "--run_name", "r", "--resume", *ONE_FOLD))
    assert "\n" not in str(err.value)


def test_resume_picks_only_runs_this_tool_wrote(store, tmp_path):
    ours, _ = run(small_config(store, tmp_path, "--run_name", "toy_binary-gcn-ppi-1", *ONE_FOLD))
    # Lexicographically last, with a checkpoint that would run code: never chosen.
    planted = tmp_path / "toy_binary-gcn-ppi-zzz" / "checkpoint"
    planted.mkdir(parents=True)
    target = tmp_path / "pwned"
    (planted / STATE_TENSORS).write_bytes(pickle.dumps(Payload(target)))
    (planted.parent / "run.json").write_text(json.dumps({"tool": "someone else"}))
    resumed, _ = run(small_config(store, tmp_path, "--resume", *ONE_FOLD))
    assert resumed == ours and not target.exists()
    with pytest.raises(TrainError, match="not a run this tool wrote"):
        run(small_config(store, tmp_path, "--run_name", planted.parent.name, "--resume"))
    with pytest.raises(TrainError, match="another config"):
        run(small_config(store, tmp_path, "--run_name", ours.name, "--resume", "--seed", "1"))


def test_predictions_reproduce_the_metrics(store, tmp_path):
    cfg = small_config(store, tmp_path, "--optim.epochs", "2")
    run_dir, _ = run(cfg)
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    table = pd.read_parquet(run_dir / "metrics.parquet")
    assert set(zip(preds.model, preds.fold, strict=True)) == {
        ("gcn", 0),
        ("gcn", 1),
        ("logreg", 0),
        ("logreg", 1),
    }
    for row in table.itertuples():
        p = preds[(preds.model == row.model) & (preds.fold == row.fold)]
        test = p[p.split == "test"]
        assert test.node.is_unique and len(p[p.split == "val"]) > 0
        got = evaluate("binary", test.label.to_numpy(), test.score.to_numpy())["auc"]
        assert got == pytest.approx(row.auc, rel=1e-9)


def test_folds_without_validation_train_all_epochs(store, tmp_path):
    """The paper protocol: no early stopping, the last epoch's model is tested."""
    cfg = small_config(
        store, tmp_path, "--eval.val_fraction", "0", "--optim.epochs", "4", "--optim.patience", "1"
    )
    run_dir, summary = run(cfg)
    for k in ("0", "1"):
        fold = json.loads((run_dir / "folds" / f"fold{k}.json").read_text())
        assert fold["epochs"] == 4 and fold["best_epoch"] == 3 and fold["val"] == {}
        assert len(fold["history"]) == 4
    assert set(pd.read_parquet(run_dir / "predictions.parquet").split) == {"test"}
    assert summary["mean"].notna().all()


def test_checkpoints_every_n_epochs_hold_no_fold_outputs(store, tmp_path, monkeypatch):
    from genen_scale.training import checkpoint

    saved = []
    real = checkpoint.save_state

    def spy(directory, state):
        epoch = state.fold_states[0].epoch if state.folds else 0
        tensors = [k for k in ("model", "optim", "sched") if getattr(state, k) is not None]
        saved.append((state.folds, epoch, sorted(tensors)))
        return real(directory, state)

    monkeypatch.setattr("genen_scale.training.ray_worker.save_state", spy)
    cfg = small_config(
        store, tmp_path, "--scaling.checkpoint_every", "2", "--optim.epochs", "5",
        "--optim.patience", "5", "--eval.folds_to_run", "[0]", "--eval.baselines", "[]",
    )  # fmt: skip
    run_dir, _ = run(cfg)
    assert saved == [([0], 2, ["model", "optim"]), ([0], 4, ["model", "optim"]), ([], 0, [])]
    doc = json.loads((run_dir / "checkpoint" / STATE_JSON).read_text())
    assert doc["done"] == [0] and os.path.getsize(run_dir / "checkpoint" / STATE_TENSORS) < 2000
    assert np.load(run_dir / "embeddings_fold0.npy").shape[1] == cfg.model.hidden


def test_checkpoint_state_round_trips_typed(tmp_path):
    """A stacked group's :class:`RunState` (two folds, one without kept weights yet, a
    schedule) reads back field for field; between folds only the finished folds are kept."""
    record = EpochRecord(
        epoch=0, loss=0.5, seeds_per_s=10.0, loading_share=0.1, peak_mem_mb=100.0,
        epoch_s=0.2, lr=0.01, stacked_folds=2, primary="auc", val_metric=0.75, val_loss=0.6,
        checkpoint_s=0.01,
    )  # fmt: skip
    states = [
        FoldState(1, -0.6, 0, 0, {"w": torch.arange(3.0)}, [record]),
        FoldState(1, -math.inf, -1, 1, None, [replace(record, checkpoint_s=None)]),
    ]
    optim = {
        "state": {0: {"step": torch.tensor(1.0)}},
        "param_groups": [{"lr": 0.01, "params": [0]}],
    }
    state = RunState(
        done=[3], folds=[0, 1], fold_states=states, stacked=True,
        model={"w": torch.ones(2)}, optim=optim, sched={"best": 0.6, "num_bad_epochs": 0},
    )  # fmt: skip
    save_state(tmp_path, state)
    back = load_state(tmp_path)
    assert (back.done, back.folds, back.stacked, back.sched) == ([3], [0, 1], True, state.sched)
    assert torch.equal(back.model["w"], torch.ones(2))
    assert back.optim["param_groups"] == optim["param_groups"]
    assert torch.equal(back.optim["state"][0]["step"], torch.tensor(1.0))
    for got, want in zip(back.fold_states, states, strict=True):
        assert (got.epoch, got.best_metric, got.best_epoch, got.bad_epochs, got.history) == (
            want.epoch, want.best_metric, want.best_epoch, want.bad_epochs, want.history,
        )  # fmt: skip
    assert torch.equal(back.fold_states[0].best_state["w"], torch.arange(3.0))
    assert back.fold_states[1].best_state is None
    save_state(tmp_path, replace(state, folds=[], done=[0, 1, 3]))
    between = load_state(tmp_path)
    assert between.done == [0, 1, 3] and between.folds == between.fold_states == []
    assert between.model is None and between.optim is None
