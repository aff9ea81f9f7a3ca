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
import sys
from dataclasses import dataclass

import pandas as pd

from genen_core.command_line import asks_for_help, help_text, parse_command_line, pop_positional
from genen_core.config import ConfigError
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


def _main(name: str, cls: type, positional: tuple[str, ...], argv, body) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = list(sys.argv[1:] if argv is None else argv)
    if asks_for_help(args):
        print(help_text(cls, __doc__))
        return 0
    try:
        given = []
        for key in positional:
            given += [f"--{key}", pop_positional(args, key.upper())]
        print(body(parse_command_line(cls, [*given, *args])))
        return 0
    except (ConfigError, PredictError, TrainError, StoreError) as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2


def predict_main(argv: list[str] | None = None) -> int:
    """``genen-predict``."""
    return _main(
        "genen-predict",
        PredictConfig,
        ("run_dir",),
        argv,
        lambda c: predict(c.run_dir, c.store, c.top, c.rank_by),
    )


def neighbors_main(argv: list[str] | None = None) -> int:
    """``genen-neighbors``."""

    def body(c: NeighborsConfig) -> str:
        run = TrainedRun.open(c.run_dir, c.store)
        nb = nearest(run, c.gene, c.k)
        cfg = run.cfg
        refined = f"refined ({cfg.model.arch} on {cfg.data.graph}, {len(run.folds)} folds)"
        return format_neighbors(nb, refined, f"text ({cfg.data.features})")

    return _main("genen-neighbors", NeighborsConfig, ("run_dir", "gene"), argv, body)
