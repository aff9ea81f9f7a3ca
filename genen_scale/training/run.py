"""A whole training run on the driver: inputs → results dir → Ray Train → baselines → outputs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from genen_scale.tasks.baselines import run_baseline
from genen_scale.training import results
from genen_scale.training.checkpoint import initial_weights, load_fold, verify_checkpoints
from genen_scale.training.config import TrainConfig
from genen_scale.training.distributed import fit
from genen_scale.training.inputs import RunInputs, TrainError, load_inputs

log = logging.getLogger(__name__)


def prepare(cfg: TrainConfig) -> tuple[TrainConfig, RunInputs, Path]:
    """The driver's first steps of any run: the inputs, and the results directory with
    its provenance.

    Returns:
        ``cfg``, the run's inputs and its results directory.

    Raises:
        TrainError: ``cfg.data.store`` is unset (only ``genen-train`` fills it in, with the
            demo store of :mod:`genen_scale.demo`).
    """
    if cfg.data.store is None:
        raise TrainError(
            "data.store is not set; give a store built by genen-ingest (genen-train "
            "without --data.store trains on the demo store, genen_scale.demo.demo_store)"
        )
    # The driver reads the inputs first so that a wrong task, graph or feature name fails
    # here in one line, before any worker starts; baselines reuse them.
    inputs = load_inputs(cfg.data.store, cfg.data, cfg.eval, cfg.seed)
    for fold in inputs.folds if cfg.init_from else ():  # a warm start's weights, likewise
        initial_weights(cfg.init_from, fold.index)
    run_dir = results.prepare_run_dir(cfg)
    results.write_provenance(run_dir, cfg, inputs.store)
    return cfg, inputs, run_dir


def run(cfg: TrainConfig, callbacks: Sequence = ()) -> tuple[Path, pd.DataFrame]:
    """Train and evaluate ``cfg`` end to end; returns the results directory and summary.

    Ray must already be connected when ``cfg.scaling.num_workers > 0``
    (:func:`genen_scale.training.distributed.connect`).

    Args:
        cfg: The run's config.
        callbacks: ``ray.train.UserCallback`` objects passed to Ray Train.

    Raises:
        TrainError: Task, features or folds do not fit the store, or the results
            directory clashes with an existing run.
    """
    cfg, inputs, run_dir = prepare(cfg)
    if cfg.resume:
        verify_checkpoints(run_dir)
    log.info(
        "run %s: %s on %s, %d fold(s), results in %s",
        run_dir.name,
        cfg.model.arch,
        cfg.data.graph,
        len(inputs.folds),
        run_dir,
    )
    fit(cfg, cfg.data.store, run_dir, callbacks)
    folds = [load_fold(run_dir, f.index) for f in inputs.folds]
    for name in cfg.eval.baselines:
        folds += run_baseline(
            name, inputs.task, inputs.x.numpy(), inputs.folds, cfg.seed, groups=inputs.study_group
        )
    table = results.metrics_table(cfg, inputs.task, folds)
    summ = results.write_outputs(run_dir, table, inputs.task.kind, folds, cfg.model.arch)
    return run_dir, summ
