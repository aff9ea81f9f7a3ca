"""``genen-predict RUN_DIR`` and ``genen-neighbors RUN_DIR GENE``: use a trained run.

Usage::

    genen-predict RUN_DIR [--top N] [--rank_by CLASS] [--store PATH]
    genen-neighbors RUN_DIR GENE [--k 20] [--store PATH]

``genen-predict`` scores every gene node of the run's store with the run's fold models
and writes ``RUN_DIR/genome_predictions.parquet`` and ``RUN_DIR/embeddings.parquet``
(columns in ``genen_scale/predict/tables.py``); ``--top N`` prints the N highest-scoring
unlabelled genes. ``genen-neighbors`` prints the nearest genes of GENE (a symbol or an
Entrez, Ensembl or UniProt id) by cosine in the refined and in the text space, side by
side. Exit status 2 for a bad run directory or an unknown gene.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from genen_core.command_line import run_entry_point
from genen_core.store import StoreError
from genen_scale.predict.genome import predict_run, top_unlabelled
from genen_scale.predict.neighbors import format_neighbors, nearest
from genen_scale.predict.trained_run import PredictError, TrainedRun
from genen_scale.training.inputs import TrainError

log = logging.getLogger("genen_scale.predict")


@dataclass
class PredictConfig:
    """Genome-wide predictions of a trained run."""

    run_dir: str = ""
    """The run directory ``genen-train`` printed after ``results:``."""
    store: str | None = None
    """The store the run trained on, if it moved; None: the one in ``provenance.json``."""
    top: int = 0
    """Print the N highest-scoring unlabelled genes (0: none)."""
    rank_by: str | None = None
    """Class whose probability ranks ``--top`` (tasks with class probabilities); None:
    the score, or the top class's probability."""

    def __post_init__(self) -> None:
        if self.top < 0:
            raise ValueError(f"top={self.top} must be >= 0")


@dataclass
class NeighborsConfig:
    """Nearest genes of a gene in a trained run's spaces."""

    run_dir: str = ""
    """The run directory (``genen-predict`` has written ``embeddings.parquet`` into it)."""
    gene: str = ""
    """Symbol or id of the gene."""
    k: int = 20
    """How many neighbours per space."""
    store: str | None = None
    """The store the run trained on, if it moved."""

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k={self.k} must be >= 1")


def predict(run_dir: str, store: str | None = None, top: int = 0, rank_by=None) -> str:
    """Run :func:`~genen_scale.predict.genome.predict_run`; the lines to print."""
    out = predict_run(run_dir, store)
    lines = [
        f"{out.genes} genes scored by folds {out.folds}: {out.predictions}",
        f"embeddings: {out.embeddings}",
    ]
    if top:
        table = pd.read_parquet(out.predictions)
        best = top_unlabelled(table, top, rank_by)
        lines += [f"top {len(best)} unlabelled genes:", best.to_string(index=False)]
    return "\n".join(lines)


# What the entry points turn into one line and exit code 2 (besides ConfigError).
ERRORS = (PredictError, TrainError, StoreError)


def predict_main(argv: list[str] | None = None) -> int:
    """``genen-predict``."""
    return run_entry_point(
        "genen-predict",
        PredictConfig,
        __doc__,
        argv,
        ("run_dir",),
        lambda c: predict(c.run_dir, c.store, c.top, c.rank_by),
        ERRORS,
    )


def neighbors_main(argv: list[str] | None = None) -> int:
    """``genen-neighbors``."""

    def body(c: NeighborsConfig) -> str:
        run = TrainedRun.open(c.run_dir, c.store)
        nb = nearest(run, c.gene, c.k)
        cfg = run.cfg
        refined = f"refined ({cfg.model.arch} on {cfg.data.graph}, {len(run.folds)} folds)"
        return format_neighbors(nb, refined, f"text ({cfg.data.features})")

    return run_entry_point(
        "genen-neighbors", NeighborsConfig, __doc__, argv, ("run_dir", "gene"), body, ERRORS
    )
