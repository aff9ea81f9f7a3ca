"""One trial of a sweep: a GNN training run or a text-only baseline, as per-fold result rows.

A trial directory ``<sweep>/trials/<id>/`` holds ``trial.json`` (the spec), ``run/`` (the
training run's results directory, :mod:`genen_scale.training.results`), and, once the
trial has finished, ``rows.parquet`` (written atomically: its presence means done) or,
after a failure, ``error.txt``. A GNN trial that is started again resumes its own partial
``run/`` from the run's last checkpoint when the config is the same (resume is exact:
the rows equal an uninterrupted run's), else discards it and starts afresh; a long trial
cut off with its session then loses at most an epoch. ``elapsed.json`` keeps the time the
trial's attempts have spent (written every :data:`CLOCK_EVERY_S` seconds), so a resumed
trial's ``wall_s``/``cpu_s`` count every attempt (up to that interval).

GNN trials call :func:`genen_scale.training.run.run` (in process with
``scaling.num_workers = 0``, or Ray Train workers inside the trial); baseline trials
read the same inputs and folds (:func:`~genen_scale.training.inputs.load_inputs`) and
run :func:`~genen_scale.tasks.baselines.run_baseline`. On ``paper``-protocol splits, which have
no validation genes, a baseline carves its model-selection split from the training genes.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from genen_core.files import atomic_path
from genen_core.provenance import git_revision
from genen_scale.sweep.grid import TrialSpec
from genen_scale.sweep.layout import ERROR, HISTORY, ROWS, SPEC, TRIALS_DIR, trial_dir
from genen_scale.tasks.baselines import run_baseline
from genen_scale.tasks.fold_result import predictions_table
from genen_scale.tasks.folds import with_validation
from genen_scale.tasks.metrics import primary_metric
from genen_scale.training import results
from genen_scale.training.config import TrainConfig
from genen_scale.training.run import prepare, run

log = logging.getLogger(__name__)

# Columns that differ between two runs of the same trial (time, memory, machine); a
# resumed sweep equals an uninterrupted one in every other column.
VOLATILE_COLUMNS = ("wall_s", "cpu_s", "peak_mem_mb", "host")
# How often a running trial writes the time its attempts have spent (elapsed.json).
CLOCK_EVERY_S = 30.0
ELAPSED = "elapsed.json"
# Columns of a run's metrics table that the grid keys already carry.
RUN_KEY_COLUMNS = ("task", "mask_rate", "model", "graph")


def run_trial(spec: TrialSpec, sweep_dir: Path, cpus: float, gpus: float) -> pd.DataFrame:
    """Run ``spec`` (unless finished) and write its rows; returns them.

    Args:
        spec: The trial.
        sweep_dir: The sweep's output directory.
        cpus, gpus: What the trial reserved (recorded in its rows).

    Raises:
        Exception: Whatever the run raised; ``error.txt`` then holds the traceback.
    """
    d = trial_dir(sweep_dir, spec.id)
    if (d / ROWS).is_symlink():
        raise RuntimeError(f"{d / ROWS} is a link; a trial's rows are a plain file: remove it")
    if (d / ROWS).is_file():
        return pd.read_parquet(d / ROWS)
    if (d / "run").exists() or (d / "run").is_symlink():
        # Only a run this sweep started (its trial.json is written first) is discarded.
        if not (d / SPEC).is_file() or (d / "run").is_symlink():
            raise RuntimeError(
                f"{d / 'run'} was not written by this sweep (no {SPEC} beside it); "
                "move it away, it is never deleted"
            )
    cfg = spec.config(d)
    resume = not spec.is_baseline and results.resumable(d / "run", cfg)
    if resume:
        log.info("trial %s: resuming the partial run of an earlier attempt", spec.id)
        cfg = replace(cfg, resume=True)
    elif (d / "run").exists():
        log.info("trial %s: discarding the partial run of an earlier attempt", spec.id)
        shutil.rmtree(d / "run")
    d.mkdir(parents=True, exist_ok=True)
    (d / ERROR).unlink(missing_ok=True)
    (d / SPEC).write_text(json.dumps(spec.to_dict(), indent=2))
    log.info("trial %s: %s", spec.id, ", ".join(f"{k}={v}" for k, v in spec.keys.items()))
    clock = _Clock(d / ELAPSED, resume)
    try:
        table = _baseline(spec.model, cfg) if spec.is_baseline else _gnn(cfg)
    except Exception:
        (d / ERROR).write_text(traceback.format_exc())
        raise
    finally:
        wall_s, cpu_s = clock.stop()
    if not spec.is_baseline:  # before the rows, which mark the trial finished
        shutil.copyfile(Path(cfg.output_dir) / cfg.run_name / HISTORY, d / HISTORY)
    rows = _rows(spec, cfg, table, wall_s, cpu_s, cpus, gpus)
    with atomic_path(d / ROWS) as tmp:
        rows.to_parquet(tmp, index=False)
    return rows


class _Clock:
    """Wall and CPU seconds of a trial's attempts: earlier attempts' (from ``path``,
    when resuming) plus this one's, written to ``path`` every :data:`CLOCK_EVERY_S`."""

    def __init__(self, path: Path, resume: bool):
        before = json.loads(path.read_text()) if resume and path.is_file() else {}
        self.path, self.before = path, (before.get("wall_s", 0.0), before.get("cpu_s", 0.0))
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def now(self) -> tuple[float, float]:
        return (
            self.before[0] + time.perf_counter() - self.start,
            self.before[1] + time.process_time() - self.cpu_start,
        )

    def _tick(self) -> None:
        while not self.done.wait(CLOCK_EVERY_S):
            wall_s, cpu_s = self.now()
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps({"wall_s": wall_s, "cpu_s": cpu_s}))

    def stop(self) -> tuple[float, float]:
        self.done.set()
        self.thread.join()
        return self.now()


def _gnn(cfg: TrainConfig) -> pd.DataFrame:
    run_dir, _ = run(cfg)
    table = pd.read_parquet(run_dir / "metrics.parquet")
    table = table[table["model"] == cfg.model.arch].reset_index(drop=True)
    history = results.read_history(run_dir / HISTORY)
    if "epochs" not in table:
        table["epochs"] = [len(history[k]) for k in table["fold"]]
    table["peak_mem_mb"] = [
        max((e.peak_mem_mb for e in history[k]), default=np.nan) for k in table["fold"]
    ]
    return table


def _baseline(name: str, cfg: TrainConfig) -> pd.DataFrame:
    cfg, inputs, run_dir = prepare(cfg)
    folds = inputs.folds
    if any(len(f.val) == 0 for f in folds):
        folds = with_validation(inputs.task, folds, cfg.eval.val_fraction, cfg.eval.seed)
    per_fold = run_baseline(
        name, inputs.task, inputs.x.numpy(), folds, cfg.seed, groups=inputs.study_group
    )
    table = results.metrics_table(cfg, inputs.task, per_fold)
    table.to_parquet(run_dir / "metrics.parquet", index=False)
    pq.write_table(predictions_table(per_fold), run_dir / "predictions.parquet")
    return table


def _rows(
    spec: TrialSpec,
    cfg: TrainConfig,
    table: pd.DataFrame,
    wall_s: float,
    cpu_s: float,
    cpus: float,
    gpus: float,
) -> pd.DataFrame:
    """Per-fold rows: grid keys, trial id, metrics, epochs, wall and CPU time (of the whole
    trial), resources and the code revision that ran the trial."""
    metrics = table.drop(columns=[c for c in RUN_KEY_COLUMNS if c in table])
    # Every classification kind is scored by AUC, regression by Pearson r.
    primary = primary_metric("regression" if "pearson" in metrics else "binary")
    head = pd.DataFrame(
        {
            "trial": spec.id,
            **{k: [v] * len(table) for k, v in spec.keys.items()},
            "metric": primary,
        },
        index=range(len(table)),
    )
    tail = pd.DataFrame(
        {
            "wall_s": wall_s,
            # This process's CPU time, all threads: unlike wall time it excludes time the
            # trial waited (a loaded or paused machine). A multi-worker trial computes in
            # its Ray Train workers, which this does not see.
            "cpu_s": cpu_s if cfg.scaling.num_workers == 0 else np.nan,
            "cpus": float(cpus),
            "gpus": float(gpus),
            "workers": cfg.scaling.num_workers,
            "threads": cfg.scaling.threads_per_worker,
            "host": platform.node(),
            # A sweep resumed across sessions mixes code revisions; each row says its own.
            "revision": git_revision(),
            "run_dir": f"{TRIALS_DIR}/{spec.id}/run",
            "store": str(cfg.data.store),
        },
        index=range(len(table)),
    )
    return pd.concat([head, metrics.reset_index(drop=True), tail], axis=1)
