"""Model selection (``optim.select``), calibrated binary thresholds and the learning-rate
schedule: the rules on constructed epochs, and what a real run on the tiny store keeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from train_helpers import small_config, train_store

from genen_scale.report.selection import Replay, replay
from genen_scale.tasks.fold_result import EpochRecord, Predictions
from genen_scale.tasks.metrics import choose_threshold, evaluate
from genen_scale.training import run
from genen_scale.training.config import OptimConfig
from genen_scale.training.evaluation import ValScore
from genen_scale.training.results import read_history
from genen_scale.training.selection import (
    keep_training,
    make_scheduler,
    record_epoch,
    step_scheduler,
    warn_if_cut_short,
)
from genen_scale.training.state import FoldState


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("selection") / "store")


def _stats(loss: float = 1.0) -> EpochRecord:
    return EpochRecord(
        epoch=0,
        loss=loss,
        seeds_per_s=1.0,
        loading_share=0.0,
        peak_mem_mb=0.0,
        epoch_s=0.0,
        lr=0.01,
    )


def _train(select: str, scores: list[ValScore], patience: int = 3) -> FoldState:
    optim = OptimConfig(epochs=len(scores), patience=patience, select=select)
    state = FoldState()
    for val in scores:
        if not keep_training(state, optim, has_val=True):
            break
        record_epoch(state, optim, "auc", val, _stats(), lambda: {"epoch": state.epoch})
    return state


def test_saturated_auc_with_a_falling_loss_keeps_training_under_val_loss():
    # Validation AUC is 1.0 from epoch 0 (11 genes, easily ranked) while the loss falls.
    scores = [ValScore(metric=1.0, loss=1.0 - 0.05 * e) for e in range(10)]
    by_loss = _train("val_loss", scores)
    assert by_loss.epoch == 10 and by_loss.best_epoch == 9 and by_loss.bad_epochs == 0
    assert by_loss.best_state == {"epoch": 9}
    # The old rule keeps epoch 0 and stops when patience runs out.
    by_metric = _train("val_metric", scores)
    assert by_metric.best_epoch == 0 and by_metric.epoch == 4
    assert [e.val_loss for e in by_loss.history] == [s.loss for s in scores]


def test_min_delta_and_nan_do_not_count_as_progress():
    optim = OptimConfig(epochs=10, patience=10, min_delta=0.1)
    state = FoldState()
    for loss in (1.0, 0.95, float("nan"), 0.85):
        record_epoch(state, optim, "auc", ValScore(0.5, loss), _stats(), dict)
    # 0.95 and NaN are not better than 1.0 by 0.1; 0.85 is.
    assert state.best_epoch == 3 and state.bad_epochs == 0


def test_plateau_schedule_steps_on_the_validation_loss_else_the_training_loss():
    weights = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([weights], lr=1.0)
    optim = OptimConfig(scheduler="plateau", scheduler_factor=0.5, scheduler_patience=0)
    scheduler = make_scheduler(optimizer, optim)
    with_val, no_val = FoldState(), FoldState()
    # Validation loss stalls while the training loss falls: the rate drops.
    for e in range(3):
        record_epoch(with_val, optim, "auc", ValScore(0.5, 1.0), _stats(1.0 - e), dict)
        step_scheduler(scheduler, with_val)
    assert optimizer.param_groups[0]["lr"] == 0.25
    optimizer.param_groups[0]["lr"] = 1.0
    scheduler = make_scheduler(optimizer, optim)
    # No validation split: the falling training loss keeps the rate.
    for e in range(3):
        record_epoch(no_val, optim, "auc", None, _stats(1.0 - e), dict)
        step_scheduler(scheduler, no_val)
    assert optimizer.param_groups[0]["lr"] == 1.0
    assert make_scheduler(optimizer, OptimConfig()) is None


def test_a_run_keeps_the_epoch_of_the_lowest_validation_loss(store, tmp_path, caplog):
    cfg = small_config(store, tmp_path, "--optim.epochs", "8", "--optim.patience", "8")
    with caplog.at_level("WARNING", logger="genen_scale.training.selection"):
        run_dir, _ = run(cfg)
    history = json.loads((run_dir / "history.json").read_text())
    table = pd.read_parquet(run_dir / "metrics.parquet")
    gnn = table[table["model"] == cfg.model.arch]
    cut = set()
    for fold, epochs in history.items():
        losses = [e["val_loss"] for e in epochs]
        row = gnn[gnn["fold"] == int(fold)].iloc[0]
        assert row["best_epoch"] == int(np.argmin(losses)) and row["selection"] == "val_loss"
        assert 0 < row["threshold"] < 1 and row["f1_05"] >= 0
        if row["best_epoch"] >= 8 - 5:  # the cap ended it while validation improved
            cut.add(int(fold))
    warned = {int(m.split()[1].rstrip(":")) for m in caplog.messages if "still improving" in m}
    assert warned == cut and cut  # 8 epochs are too few here: some fold is cut short


def test_a_fold_the_epoch_cap_cut_short_is_named():
    falling = [ValScore(0.8, loss) for loss in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2)]
    assert warn_if_cut_short(3, _train("val_loss", falling), OptimConfig(epochs=8, patience=3))
    # Patience stopped it (kept epoch 1 of 8 allowed): not cut short.
    early = falling[:2] + [ValScore(0.8, 0.9)] * 6
    assert not warn_if_cut_short(3, _train("val_loss", early), OptimConfig(epochs=8, patience=3))


def test_the_gnn_threshold_comes_from_validation_never_from_test_labels(store, tmp_path):
    """Recompute each fold's chosen threshold from its validation predictions, and check
    the test F1 was read at it: flipping test labels could not have moved it."""
    run_dir, _ = run(small_config(store, tmp_path, "--eval.baselines", "[]"))
    table = pd.read_parquet(run_dir / "metrics.parquet")
    for row in table.itertuples():
        path = run_dir / "folds" / f"predictions_fold{row.fold}.parquet"
        preds = Predictions.from_table(pq.read_table(path))
        val, test = preds.split == "val", preds.split == "test"
        t = choose_threshold("binary", preds.label[val], preds.score[val])
        assert row.threshold == pytest.approx(t)
        flipped = 1 - preds.label[test]
        # The same threshold reads flipped test labels: F1 changes, the threshold cannot.
        at_t = evaluate("binary", preds.label[test], preds.score[test], t)
        assert at_t["f1"] == pytest.approx(row.f1)
        assert evaluate("binary", flipped, preds.score[test], t)["threshold"] == t


def test_paper_protocol_keeps_the_last_epoch_and_calibrates_on_training_genes(store, tmp_path):
    cfg = small_config(store, tmp_path, "--eval.protocol", "paper", "--eval.baselines", "[]")
    run_dir, _ = run(cfg)
    table = pd.read_parquet(run_dir / "metrics.parquet")
    assert (table["selection"] == "last_epoch").all()
    assert (table["best_epoch"] == cfg.optim.epochs - 1).all()
    assert table["threshold"].between(0, 1).all()


def test_replay_keeps_what_the_rule_kept_and_flags_a_history_that_ends_first():
    auc, loss = [1.0, 1.0, 0.9], [0.9, 0.7, 0.6]
    # AUC: epoch 0 and never strictly better; patience 2 runs out at epoch 2.
    assert replay(auc, True, patience=2, epochs=10) == Replay(0, True)
    # Loss: still falling when the history ends, before patience or epochs: incomplete.
    assert replay(loss, False, patience=2, epochs=10) == Replay(2, False)
    assert replay(loss, False, patience=2, epochs=3) == Replay(2, True)


def test_committed_histories_read_as_typed_records_and_write_back_byte_for_byte(tmp_path):
    """The trials' ``history.json`` files under docs/ (read by the selection report) load
    into :class:`EpochRecord` and serialise to the very text a run wrote."""
    paths = sorted(Path(__file__).resolve().parents[1].glob("docs/*/trials/*/history.json"))
    assert len(paths) >= 20  # the selection, experiments and recipe sweeps
    for path in paths:
        history = read_history(path)
        # The paper protocol has no validation split (the authors' 80/20 splits), so its
        # epochs carry no validation figures; every other trial's epochs carry both.
        validated = (
            json.loads((path.parent / "trial.json").read_text())["keys"]["protocol"] != "paper"
        )
        assert all((e.val_loss is not None and e.primary in ("auc", "pearson")) == validated
                   for epochs in history.values() for e in epochs), path  # fmt: skip
        text = json.dumps({str(k): [e.to_json() for e in v] for k, v in history.items()}, indent=2)
        assert text == path.read_text(), path
    misspelt = tmp_path / "history.json"
    misspelt.write_text('{"0": [{"epoch": 0, "loss": 1.0, "los": 2.0}]}')
    with pytest.raises(ValueError, match=f"{misspelt}: not a history entry"):
        read_history(misspelt)
