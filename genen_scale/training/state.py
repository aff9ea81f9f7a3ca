"""Where a run stands, typed: a fold's progress and a checkpoint's contents.

A checkpoint (:mod:`.checkpoint` writes and reads it) is a :class:`RunState`: the folds in
progress with their :class:`FoldState`, the finished folds, and the model's, optimiser's
and schedule's states. No RNG state: every epoch's randomness is derived from (seed,
fold, epoch, rank), so the epoch count is the position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import Tensor

from genen_scale.tasks.fold_result import EpochRecord


@dataclass
class FoldState:
    """Progress of a fold: what a checkpoint must hold to continue it exactly."""

    epoch: int = 0
    """Epochs trained so far (the next epoch's number)."""
    best_metric: float = -math.inf
    """The best selection criterion so far (``ValScore.criterion``)."""
    best_epoch: int = -1
    """The epoch whose weights are kept (-1: none yet)."""
    bad_epochs: int = 0
    """Epochs since the best one: patience spent."""
    best_state: dict[str, Tensor] | None = None
    """The kept weights (a CPU copy); they travel in ``run_state.pt``, not in the JSON."""
    history: list[EpochRecord] = field(default_factory=list)
    """One record per epoch trained."""

    def to_json(self) -> dict:
        """The fold's entry of ``run_state.json`` (all but ``best_state``)."""
        return {
            "epoch": self.epoch,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
            "history": [e.to_json() for e in self.history],
        }

    @classmethod
    def from_json(cls, doc: dict, best_state: dict[str, Tensor] | None) -> FoldState:
        """:meth:`to_json`'s inverse, with the kept weights from ``run_state.pt``."""
        history = [EpochRecord.from_json(e) for e in doc["history"]]
        return cls(**{**doc, "history": history}, best_state=best_state)


@dataclass
class RunState:
    """What a checkpoint holds: enough to continue the run exactly where it stood."""

    done: list[int]
    """Indices of the finished folds (their outputs are in the run directory)."""
    folds: list[int] = field(default_factory=list)
    """Indices of the folds in progress: one, or several trained stacked; none between
    folds."""
    fold_states: list[FoldState] = field(default_factory=list)
    """The progress of each fold in ``folds``, in the same order."""
    stacked: bool = False
    """``model`` is a :class:`~genen_scale.models.stacked.StackedGCN` of ``folds``."""
    model: dict[str, Tensor] | None = None
    """The model's ``state_dict`` (None between folds)."""
    optim: dict | None = None
    """The optimiser's ``state_dict`` (None between folds)."""
    sched: dict | None = None
    """The learning-rate schedule's ``state_dict`` (None without ``optim.scheduler``)."""

    def resumes(self, folds: list[int], stacked: bool) -> bool:
        """Whether this checkpoint continues training ``folds`` (stacked or not)."""
        return self.folds == folds and self.stacked == stacked
