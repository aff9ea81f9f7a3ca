"""Model selection and early stopping: which epoch's weights a fold keeps, when it stops,
and the learning-rate schedule that follows the same validation loss.

The best model by ``optim.select`` is kept (the lowest validation loss by default; the
highest validation primary metric as an option, see :class:`OptimConfig`), and patience
counts epochs without a better one (by more than ``optim.min_delta``). A fold without
validation genes (the paper's protocol) trains exactly ``optim.epochs`` epochs and keeps
the last epoch's model. Every rank computes the same validation score, so every rank
takes the same decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import torch

from genen_scale.tasks.fold_result import EpochRecord
from genen_scale.training.config import OptimConfig
from genen_scale.training.evaluation import ValScore
from genen_scale.training.state import FoldState

log = logging.getLogger(__name__)

# A kept epoch among the last this many before the cap: validation was still improving
# when ``optim.epochs`` ended the fold (the report counts the same, per cell).
STILL_IMPROVING = 5


def record_epoch(
    state: FoldState,
    optim: OptimConfig,
    primary: str,
    val: ValScore | None,
    record: EpochRecord,
    weights: Callable[[], dict],
) -> None:
    """Book the epoch just trained into ``state``: best model, patience, history.

    ``weights`` is called (for a snapshot) only when the epoch is the best so far by
    ``optim.select`` (by more than ``optim.min_delta``); with no validation (``val`` None)
    nothing is kept: the last epoch's model is the result.
    """
    record = replace(record, epoch=state.epoch)
    if val is not None:
        score = val.criterion(optim.select)
        if score > state.best_metric + optim.min_delta:  # NaN never counts as better
            state.best_metric, state.best_epoch, state.bad_epochs = score, state.epoch, 0
            state.best_state = weights()
        else:
            state.bad_epochs += 1
        record = replace(record, primary=primary, val_metric=val.metric, val_loss=val.loss)
    state.history.append(record)
    state.epoch += 1


def warn_if_cut_short(fold: int, state: FoldState, optim: OptimConfig) -> bool:
    """Log a warning, and return True, when the epoch cap ended a fold whose validation
    score was still improving (its kept epoch is one of the last :data:`STILL_IMPROVING`):
    its model is likely under-trained, and more epochs would be chosen by validation."""
    cut = state.epoch >= optim.epochs and state.best_epoch >= optim.epochs - STILL_IMPROVING
    if cut:
        log.warning(
            "fold %d: validation %s was still improving when optim.epochs=%d ended it (kept "
            "epoch %d); the model may be under-trained: raise optim.epochs",
            fold, optim.select, optim.epochs, state.best_epoch,
        )  # fmt: skip
    return cut


def keep_training(state: FoldState, optim: OptimConfig, has_val: bool) -> bool:
    """Epochs left, and (with a validation split) patience left."""
    return state.epoch < optim.epochs and (not has_val or state.bad_epochs < optim.patience)


def make_scheduler(optimizer: torch.optim.Optimizer, optim: OptimConfig):
    """The learning-rate schedule of ``optim.scheduler`` (None: a constant rate)."""
    if optim.scheduler == "none":
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=optim.scheduler_factor, patience=optim.scheduler_patience
    )


def step_scheduler(scheduler, state: FoldState) -> None:
    """Step ``scheduler`` on the epoch just booked: its validation loss, or its training
    loss where the fold has no validation split."""
    if scheduler is not None:
        last = state.history[-1]
        scheduler.step(last.loss if last.val_loss is None else last.val_loss)
