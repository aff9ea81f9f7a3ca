"""The per-worker training loop of one fold: train, validate, stop early, test once, embed.

Transductive, as in the paper: every gene stays in the graph with its features in every
fold; a fold hides only the labels of its validation and test genes. Each epoch:

1. the training genes are shuffled (the same permutation on every rank), padded by
   wrapping around to a multiple of the world size and dealt out, so that every rank
   runs the same number of steps and DDP never waits for a batch that does not come;
2. each step samples the seeds' neighbourhoods (``data.fanouts``) and updates the model;
3. the validation genes are scored (:mod:`.evaluation`: one forward pass of the whole
   graph in full batch, a fixed sample otherwise), scores are gathered from all ranks
   and every rank computes the same metric, so all ranks take the same early-stopping
   decision.

The best model by ``optim.select`` is kept (the lowest validation loss by default; the
highest validation primary metric as an option, see :class:`OptimConfig`), and patience
counts epochs without a better one; ``optim.scheduler`` may lower the learning rate on a
plateau of the same loss. At the end one more pass scores validation and test genes
together and embeds all genes (the last hidden layer: the refined gene embeddings). A fold
without validation genes (the paper's protocol) trains exactly ``optim.epochs`` epochs and
keeps the last epoch's model.

This module knows nothing of Ray: the caller hands it a prepared (maybe DDP-wrapped)
model and an ``on_epoch`` hook that checkpoints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from genen_scale.tasks.folds import Fold
from genen_scale.tasks.metrics import primary_metric
from genen_scale.training.batches import GraphBatches
from genen_scale.training.config import OptimConfig
from genen_scale.training.evaluation import FoldOutputs, ValScore, finish_fold, validate
from genen_scale.training.inputs import RunInputs
from genen_scale.training.worker import (
    INIT_STREAM,
    FoldState,
    WorkerEnv,
    derive_seed,
    snapshot,
)

__all__ = ["INIT_STREAM", "FoldState", "WorkerEnv", "derive_seed", "train_fold"]

log = logging.getLogger(__name__)


def shard_seeds(positions: np.ndarray, env: WorkerEnv, seed: int) -> np.ndarray:
    """This rank's share of a shuffled, wrap-padded permutation of ``positions``.

    Every rank gets ``ceil(n / world_size)`` items (a few genes appear twice per epoch
    when ``n`` does not divide), so every rank runs the same number of steps.
    """
    perm = np.random.default_rng(seed).permutation(positions)
    per_rank = -(-len(perm) // env.world_size)
    padded = np.resize(perm, per_rank * env.world_size)  # np.resize repeats from the start
    return padded[env.rank :: env.world_size]


@dataclass(frozen=True)
class EpochStats:
    """What one training epoch of a fold measured; with its epoch number and validation
    score it is one entry of the fold's ``history`` (``history.json``)."""

    loss: float
    """Mean training loss over the epoch's batches (and ranks)."""
    seeds_per_s: float
    """Training seeds per second, all ranks together."""
    loading_share: float
    """Share of the epoch spent waiting for batches (sampling, loading)."""
    peak_mem_mb: float
    """Peak memory of the busiest rank."""
    epoch_s: float
    """Wall seconds of the epoch (of this fold's share, when folds train stacked)."""
    lr: float
    """The learning rate of the epoch (``optim.scheduler`` may lower it)."""
    stacked_folds: int | None = None
    """How many folds trained together in one stacked model; None: one fold alone."""

    def record(self) -> dict[str, float]:
        """The history entry's fields (``stacked_folds`` only when stacked)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def train_epoch(
    model,
    optimizer,
    batches: GraphBatches,
    inputs: RunInputs,
    seeds: np.ndarray,
    seed: int,
    env: WorkerEnv,
) -> EpochStats:
    """One pass over this rank's seeds; returns loss, seeds/s and the data-loading share."""
    task = inputs.task
    y = torch.as_tensor(task.y)
    model.train()
    torch.manual_seed(seed)  # GAT's attention dropout: a resumed epoch draws the same
    generator = torch.Generator(env.device).manual_seed(seed)  # the feature dropout masks
    total_loss, steps, wait = 0.0, 0, 0.0
    start = time.perf_counter()
    it = iter(batches(torch.from_numpy(task.nodes[seeds]), seed=seed))
    bar = tqdm(
        total=-(-len(seeds) // batches.batch_size),
        desc="train",
        unit="batch",
        leave=False,
        disable=env.rank != 0 or batches.full_batch,
    )
    while True:
        t0 = time.perf_counter()
        b = next(it, None)
        wait += time.perf_counter() - t0
        if b is None:
            break
        rows = inputs.node_row[b.seeds]
        logits = model(**b.inputs(), generator=generator)[b.seed_pos]
        loss = task.loss(logits, y[rows].to(env.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += float(loss.detach())
        steps += 1
        bar.update()
    bar.close()
    if env.device.type == "cuda":
        torch.cuda.synchronize(env.device)  # so the clock below sees the GPU's work
    elapsed = time.perf_counter() - start
    return EpochStats(
        loss=env.mean(total_loss / max(steps, 1)),
        seeds_per_s=len(seeds) * env.world_size / elapsed,
        loading_share=env.mean(wait / elapsed),
        peak_mem_mb=max(env.gather(env.peak_memory_mb())),
        epoch_s=elapsed,
        lr=optimizer.param_groups[0]["lr"],
    )


def epoch_seeds(fold: Fold, seed: int, epoch: int, env: WorkerEnv) -> tuple[np.ndarray, int]:
    """This rank's training seeds of an epoch and the epoch's randomness seed."""
    order = shard_seeds(fold.train, env, derive_seed(seed, fold.index, epoch))
    return order, derive_seed(seed, fold.index, epoch, env.rank + 1)


def record_epoch(
    state: FoldState,
    optim: OptimConfig,
    primary: str,
    val: ValScore | None,
    stats: EpochStats,
    weights: Callable[[], dict],
) -> None:
    """Book an epoch into ``state``: best model, patience, history.

    ``weights`` is called (for a snapshot) only when the epoch is the best so far by
    ``optim.select`` (by more than ``optim.min_delta``); with no validation (``val`` None)
    nothing is kept: the last epoch's model is the result.
    """
    entry = {"epoch": state.epoch, **stats.record()}
    if val is not None:
        score = val.criterion(optim.select)
        if score > state.best_metric + optim.min_delta:  # NaN never counts as better
            state.best_metric, state.best_epoch, state.bad_epochs = score, state.epoch, 0
            state.best_state = weights()
        else:
            state.bad_epochs += 1
        entry[f"val_{primary}"] = val.metric
        entry["val_loss"] = val.loss
    state.history.append(entry)
    state.epoch += 1


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
        scheduler.step(last.get("val_loss", last["loss"]))


def train_fold(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: RunInputs,
    fold: Fold,
    batches: GraphBatches,
    optim: OptimConfig,
    seed: int,
    env: WorkerEnv,
    state: FoldState,
    on_epoch: Callable[[FoldState], None] = lambda state: None,
    model_name: str = "gnn",
    scheduler=None,
) -> FoldOutputs:
    """Train one fold from ``state`` (fresh or restored) to early stop; test and embed.

    Args:
        model: The model, wrapped for DDP when ``env.world_size > 1``.
        optimizer: Its optimiser (state restored by the caller when resuming).
        inputs: Features, graph and task (:func:`~genen_scale.training.inputs.load_inputs`).
        fold: Positions of train/val/test genes in ``inputs.task``; an empty ``val``
            trains all ``optim.epochs`` epochs and keeps the last model.
        batches: Batch source over the run's graph.
        optim: Epochs, patience and the selection rule.
        seed: The run seed.
        env: Rank, world size and device.
        state: Where the fold stands; updated in place each epoch.
        on_epoch: Called after every epoch with the updated state (checkpointing).
        model_name: ``model`` of the :class:`~genen_scale.tasks.fold_result.FoldResult`.
        scheduler: The learning-rate schedule (:func:`make_scheduler`), restored by the
            caller when resuming; None: a constant rate.
    """
    primary = primary_metric(inputs.task.kind)
    has_val = len(fold.val) > 0
    while keep_training(state, optim, has_val):
        stats = train_epoch(
            model, optimizer, batches, inputs, *epoch_seeds(fold, seed, state.epoch, env), env
        )
        val = validate(model, batches, inputs, fold.val, env) if has_val else None
        record_epoch(state, optim, primary, val, stats, lambda: snapshot(model))
        step_scheduler(scheduler, state)
        if env.rank == 0:
            log_epoch(fold.index, state, stats, primary)
        timed_checkpoint(on_epoch, state, [state])
    if not has_val:
        state.best_epoch, state.best_state = state.epoch - 1, snapshot(model)
    return finish_fold(model, inputs, fold, batches, env, state, model_name, optim.select)


def timed_checkpoint(on_epoch: Callable, arg, states: list[FoldState]) -> None:
    """Call the checkpoint hook; book its seconds into the epoch's history
    (``checkpoint_s``: the overhead that ``scaling.checkpoint_every`` trades off)."""
    start = time.perf_counter()
    on_epoch(arg)
    took = time.perf_counter() - start
    for st in states:
        st.history[-1]["checkpoint_s"] = took / len(states)


def log_epoch(fold: int, state: FoldState, stats: EpochStats, primary: str) -> None:
    last = state.history[-1]
    key = f"val_{primary}"
    val = (
        f"val {primary} {last.get(key, 0):.4f}, loss {last.get('val_loss', 0):.4f} "
        f"(best @ {state.best_epoch})"
    )
    log.info(
        "fold %d epoch %d: loss %.4f, %s | %.0f seeds/s, loading %.0f%%, peak mem %.0f MB",
        fold,
        last["epoch"],
        stats.loss,
        val if key in last else "no validation",
        stats.seeds_per_s,
        100 * stats.loading_share,
        stats.peak_mem_mb,
    )
