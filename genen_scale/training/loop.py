"""The per-worker training loop of one fold: train, validate, stop early, test once, embed.

Transductive, as in the paper: every gene stays in the graph with its features in every
fold; a fold hides only the labels of its validation and test genes. Each epoch:

1. the training genes are shuffled (the same permutation on every rank), padded by
   wrapping around to a multiple of the world size and dealt out, so that every rank
   runs the same number of steps and DDP never waits for a batch that does not come;
2. each step samples the seeds' neighbourhoods (``data.fanouts``) and updates the model;
3. the validation genes are scored with the same fanouts and a fixed sampling seed (so
   a model's score does not change from one evaluation to the next), scores are
   gathered from all ranks and every rank computes the same metric, so all ranks take
   the same early-stopping decision.

The best model by the validation primary metric is kept; at the end it scores the test
genes once and embeds all genes (``model.embed``: the refined gene embeddings).

This module knows nothing of Ray: the caller hands it a prepared (maybe DDP-wrapped)
model and an ``on_epoch`` hook that checkpoints.
"""

from __future__ import annotations

import copy
import logging
import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from tqdm.auto import tqdm

from genen_scale.folds import Fold
from genen_scale.metrics import evaluate_with_groups, primary_metric
from genen_scale.training.batches import GraphBatches
from genen_scale.training.config import OptimConfig
from genen_scale.training.inputs import RunInputs

log = logging.getLogger(__name__)

# Seed streams: the sampler seed of evaluation is a constant so that a model's scores
# are a function of its weights only.
EVAL_STREAM = 0x65766C  # "evl"
INIT_STREAM = 0x696E6974  # "init": model initialisation, apart from the epochs' streams


@dataclass
class WorkerEnv:
    """This process's place in the run: rank, world size, device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def gather(self, obj) -> list:
        """``obj`` of every rank, in rank order (a collective: every rank must call it)."""
        if self.world_size == 1:
            return [obj]
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def mean(self, value: float) -> float:
        """Mean of ``value`` over ranks (a collective)."""
        if self.world_size == 1:
            return value
        return float(np.mean(self.gather(value)))

    def peak_memory_mb(self) -> float:
        """Peak GPU memory allocated on CUDA, else the process's peak resident set size."""
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class FoldState:
    """Progress of a fold: what a checkpoint must hold to continue it exactly."""

    epoch: int = 0
    best_metric: float = -math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    best_state: dict | None = None
    history: list[dict] = field(default_factory=list)


def derive_seed(*keys: int) -> int:
    """A seed per key tuple, e.g. (run seed, fold, epoch, rank): a resumed epoch replays exactly."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def shard_seeds(positions: np.ndarray, env: WorkerEnv, seed: int) -> np.ndarray:
    """This rank's share of a shuffled, wrap-padded permutation of ``positions``.

    Every rank gets ``ceil(n / world_size)`` items (a few genes appear twice per epoch
    when ``n`` does not divide), so every rank runs the same number of steps.
    """
    perm = np.random.default_rng(seed).permutation(positions)
    per_rank = -(-len(perm) // env.world_size)
    padded = np.resize(perm, per_rank * env.world_size)  # np.resize repeats from the start
    return padded[env.rank :: env.world_size]


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (evaluation runs without DDP's collectives)."""
    return getattr(model, "module", model)


@torch.no_grad()
def infer(
    model: torch.nn.Module,
    batches: GraphBatches,
    nodes: np.ndarray,
    env: WorkerEnv,
    embed: bool = False,
) -> Tensor:
    """Outputs (or last-hidden-layer embeddings) of ``nodes``, split over ranks and gathered.

    Shapes:
        nodes: ``[n]`` global node ids; returns ``[n, out_dim]`` (``[n, hidden]`` if
        ``embed``) on CPU, on every rank.
    """
    module = unwrap(model)
    module.eval()
    fn = module.embed if embed else module.forward
    chunk = np.array_split(np.asarray(nodes, dtype=np.int64), env.world_size)[env.rank]
    outs = []
    if len(chunk):
        for b in batches(torch.from_numpy(chunk), seed=EVAL_STREAM):
            outs.append(fn(b.x, b.edge_index, b.edge_weight, b.e_id)[b.seed_pos].float().cpu())
    mine = torch.cat(outs) if outs else None
    parts = [p for p in env.gather(mine) if p is not None]
    return torch.cat(parts)


def evaluate_split(
    model,
    batches: GraphBatches,
    inputs: RunInputs,
    positions: np.ndarray,
    env: WorkerEnv,
    by_group: bool = False,
) -> dict[str, float]:
    """Metrics of the task on ``positions`` (rows of ``task.y``); with ``by_group`` also
    per study group (only for the test fold: validation splits are too small for it)."""
    task = inputs.task
    logits = infer(model, batches, task.nodes[positions], env)
    groups = inputs.study_group[positions] if by_group else None
    return evaluate_with_groups(task.kind, task.y[positions], task.scores(logits), groups)


def train_epoch(
    model,
    optimizer,
    batches: GraphBatches,
    inputs: RunInputs,
    seeds: np.ndarray,
    seed: int,
    env: WorkerEnv,
) -> dict[str, float]:
    """One pass over this rank's seeds; returns loss, seeds/s and the data-loading share."""
    task = inputs.task
    y = torch.as_tensor(task.y)
    model.train()
    torch.manual_seed(seed)  # dropout: a resumed epoch draws the same masks
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
        logits = model(b.x, b.edge_index, b.edge_weight, b.e_id)[b.seed_pos]
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
    return {
        "loss": env.mean(total_loss / max(steps, 1)),
        "seeds_per_s": len(seeds) * env.world_size / elapsed,
        "loading_share": env.mean(wait / elapsed),
        "peak_mem_mb": max(env.gather(env.peak_memory_mb())),
        "epoch_s": elapsed,
    }


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
) -> dict:
    """Train one fold from ``state`` (fresh or restored) to early stop; test and embed.

    Args:
        model: The model, wrapped for DDP when ``env.world_size > 1``.
        optimizer: Its optimiser (state restored by the caller when resuming).
        inputs: Features, graph and task (:func:`~genen_scale.training.inputs.load_inputs`).
        fold: Positions of train/val/test genes in ``inputs.task``.
        batches: Batch source over the run's graph.
        optim: Epochs and patience.
        seed: The run seed.
        env: Rank, world size and device.
        state: Where the fold stands; updated in place each epoch.
        on_epoch: Called after every epoch with the updated state (checkpointing).

    Returns:
        ``fold``, ``best_epoch``, ``epochs``, ``val`` and ``test`` metric dicts, the
        per-epoch ``history``, the best ``state_dict`` and (on every rank) the gene
        ``embeddings`` ``[num_genes, hidden]`` of the best model.
    """
    primary = primary_metric(inputs.task.kind)
    while state.epoch < optim.epochs and state.bad_epochs < optim.patience:
        stats = train_epoch(
            model,
            optimizer,
            batches,
            inputs,
            shard_seeds(fold.train, env, derive_seed(seed, fold.index, state.epoch)),
            derive_seed(seed, fold.index, state.epoch, env.rank + 1),
            env,
        )
        val = evaluate_split(model, batches, inputs, fold.val, env)
        score = val[primary]
        if score > state.best_metric:  # NaN never counts as better
            state.best_metric, state.best_epoch, state.bad_epochs = score, state.epoch, 0
            state.best_state = {
                k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()
            }
        else:
            state.bad_epochs += 1
        state.history.append({"epoch": state.epoch, **stats, f"val_{primary}": score})
        if env.rank == 0:
            log.info(
                "fold %d epoch %d: loss %.4f, val %s %.4f (best %.4f @ %d) | %.0f seeds/s, "
                "loading %.0f%%, peak mem %.0f MB",
                fold.index,
                state.epoch,
                stats["loss"],
                primary,
                score,
                state.best_metric,
                state.best_epoch,
                stats["seeds_per_s"],
                100 * stats["loading_share"],
                stats["peak_mem_mb"],
            )
        state.epoch += 1
        on_epoch(state)
    return finish_fold(model, inputs, fold, batches, env, state)


def finish_fold(
    model, inputs: RunInputs, fold: Fold, batches: GraphBatches, env: WorkerEnv, state: FoldState
) -> dict:
    """Restore the best weights, score validation and test once, and embed all genes."""
    if state.best_state is None:
        raise RuntimeError(
            f"fold {fold.index}: no epoch gave a finite validation score; check the task's "
            "validation split (a single class?)"
        )
    module = unwrap(model)
    module.load_state_dict(state.best_state)
    genes = np.arange(inputs.store.num_genes, dtype=np.int64)
    out = {
        "fold": fold.index,
        "best_epoch": state.best_epoch,
        "epochs": state.epoch,
        "val": evaluate_split(model, batches, inputs, fold.val, env),
        "test": evaluate_split(model, batches, inputs, fold.test, env, by_group=True),
        "history": copy.deepcopy(state.history),
        "best_state": state.best_state,
        "embeddings": infer(model, batches, genes, env, embed=True).numpy(),
    }
    primary = primary_metric(inputs.task.kind)
    if env.rank == 0:
        log.info(
            "fold %d: best epoch %d, test %s %.4f",
            fold.index,
            state.best_epoch,
            primary,
            out["test"][primary],
        )
    return out
