"""One training epoch of one fold on one worker: which seeds it trains on, the steps, what it
measured.

The training genes are shuffled (the same permutation on every rank), padded by wrapping
around to a multiple of the world size and dealt out, so that every rank runs the same
number of steps and DDP never waits for a batch that does not come. Each step samples the
seeds' neighbourhoods (``data.fanouts``; the whole graph in full batch) and updates the
model. The epoch's randomness (permutation, sampling, dropout) is derived from (run seed,
fold, epoch, rank), so a resumed epoch replays exactly.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from genen_scale.tasks.fold_result import EpochRecord
from genen_scale.tasks.folds import Fold
from genen_scale.training.state import FoldState
from genen_scale.training.worker import WorkerEnv, WorkerRun, derive_seed

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


def epoch_seeds(fold: Fold, seed: int, epoch: int, env: WorkerEnv) -> tuple[np.ndarray, int]:
    """This rank's training seeds of an epoch and the epoch's randomness seed."""
    order = shard_seeds(fold.train, env, derive_seed(seed, fold.index, epoch))
    return order, derive_seed(seed, fold.index, epoch, env.rank + 1)


def train_epoch(model, optimizer, run: WorkerRun, fold: Fold, epoch: int) -> EpochRecord:
    """Epoch ``epoch`` of ``fold``: one pass over this rank's seeds.

    Returns:
        The epoch's record without validation scores: loss, seeds/s, the data-loading
        share, peak memory, seconds and learning rate.
    """
    env, batches, task = run.env, run.batches, run.inputs.task
    seeds, seed = epoch_seeds(fold, run.seed, epoch, env)
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
        rows = run.inputs.node_row[b.seeds]
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
    return EpochRecord(
        epoch=epoch,
        loss=env.mean(total_loss / max(steps, 1)),
        seeds_per_s=len(seeds) * env.world_size / elapsed,
        loading_share=env.mean(wait / elapsed),
        peak_mem_mb=max(env.gather(env.peak_memory_mb())),
        epoch_s=elapsed,
        lr=optimizer.param_groups[0]["lr"],
    )


def log_epoch(fold: int, state: FoldState) -> None:
    """One line of the fold's last epoch: training loss, validation, throughput."""
    last = state.history[-1]
    val = (
        f"val {last.primary} {last.val_metric:.4f}, loss {last.val_loss:.4f} "
        f"(best @ {state.best_epoch})"
        if last.val_metric is not None
        else "no validation"
    )
    log.info(
        "fold %d epoch %d: loss %.4f, %s | %.0f seeds/s, loading %.0f%%, peak mem %.0f MB",
        fold,
        last.epoch,
        last.loss,
        val,
        last.seeds_per_s,
        100 * last.loading_share,
        last.peak_mem_mb,
    )
