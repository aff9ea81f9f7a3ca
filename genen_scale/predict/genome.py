"""Genome-wide predictions of a run: score every gene, write the tables, rank the unlabelled."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genen_scale.predict.calibration import calibrate
from genen_scale.predict.scoring import run_inputs, score_genome
from genen_scale.predict.tables import (
    EMBEDDINGS,
    GENOME_PREDICTIONS,
    embeddings_table,
    genome_table,
    write_atomic,
)
from genen_scale.predict.trained_run import PredictError, TrainedRun

log = logging.getLogger(__name__)


@dataclass
class PredictOutcome:
    """What :func:`predict_run` wrote."""

    predictions: Path
    embeddings: Path
    genes: int
    folds: list[int]


def predict_run(run_dir: str | Path, store: str | None = None) -> PredictOutcome:
    """Write ``genome_predictions.parquet`` and ``embeddings.parquet`` into ``run_dir``
    (:mod:`genen_scale.predict.tables`).

    Args:
        run_dir: A run directory of ``genen-train``.
        store: The store's path, when it moved since training.

    Raises:
        PredictError: Not a run directory, its store is gone, or no GNN fold finished.
    """
    run = TrainedRun.open(run_dir, store)
    inputs = run_inputs(run)
    scores = score_genome(run, inputs)
    calibrated = None
    if scores.per_fold.ndim == 2 and len(inputs.task.classes) == 2:  # P(class 1) per gene
        predictions = pd.read_parquet(run.path / "predictions.parquet")
        calibrated = calibrate(scores.per_fold, scores.folds, predictions, run.cfg.model.arch)
    table = genome_table(run, inputs, scores, calibrated)
    preds = write_atomic(table, run.path / GENOME_PREDICTIONS)
    emb = write_atomic(embeddings_table(run, inputs), run.path / EMBEDDINGS)
    log.info("%s: %d genes scored by folds %s", preds, run.store.num_genes, scores.folds)
    return PredictOutcome(preds, emb, run.store.num_genes, scores.folds)


def top_unlabelled(table: pd.DataFrame, n: int, rank_by: str | None = None) -> pd.DataFrame:
    """The ``n`` highest-scoring unlabelled genes of ``genome_predictions.parquet``.

    Single scores (binary P(class 1), regression value) rank by ``score``; class
    probabilities by the top class's probability, or by class ``rank_by``'s.

    Raises:
        PredictError: ``rank_by`` is not a class of the task.
    """
    rows = table[~table["labelled"]].copy()
    shown = ["gene", *[c for c in ("entrez", "ensembl_gene", "uniprot") if c in rows]]
    if "top_class" in rows:
        classes = [c[2:] for c in rows.columns if c.startswith("p_")]
        if rank_by is not None and rank_by not in classes:
            raise PredictError(f"--rank_by {rank_by!r} is not a class of this task: {classes}")
        if rank_by is None:
            probs = rows[[f"p_{c}" for c in classes]].to_numpy()
            sds = rows[[f"sd_{c}" for c in classes]].to_numpy()
            best = probs.argmax(axis=1)
            rows["probability"] = probs[np.arange(len(rows)), best]
            rows["sd"] = sds[np.arange(len(rows)), best]
            key, shown = "probability", [*shown, "top_class", "probability", "sd"]
        else:
            key, shown = f"p_{rank_by}", [*shown, f"p_{rank_by}", f"sd_{rank_by}", "top_class"]
    else:
        if rank_by is not None:
            raise PredictError("--rank_by names a class; this task has a single score per gene")
        key = "score"
        extra = ("probability", "probability_sd", "threshold", "positive_votes")
        shown += ["score", "score_sd"] + [c for c in extra if c in rows]
    return rows.sort_values(key, ascending=False, kind="stable").head(n)[shown]
