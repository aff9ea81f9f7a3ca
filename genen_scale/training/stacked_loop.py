"""Several folds of a full-batch GCN run trained at once as one :class:`StackedGCN`.

Each epoch is one training step and one evaluation pass of the stacked model over the
whole graph: every layer's SpMM serves all folds. Per fold it does what
:func:`~genen_scale.training.loop.train_fold` does in full batch — the same seed order,
dropout stream, loss, early stopping and kept model — so a fold's result equals training
it alone (up to float reassociation). A fold that has stopped keeps its place in the
stack's parameters (so checkpoints keep one shape) but drops out of the passes: its kept
weights are a snapshot, and the last folds to stop pay only for themselves. Once every
fold has stopped, each ends as a lone model through
:func:`~genen_scale.training.evaluation.finish_fold`.

Sampled mode trains fold by fold: a sampled batch holds one fold's seeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import torch

from genen_scale.models.gnn import build_model
from genen_scale.models.stacked import StackedGCN
from genen_scale.tasks.fold_result import EpochRecord
from genen_scale.tasks.folds import Fold
from genen_scale.tasks.metrics import primary_metric
from genen_scale.training.epoch import epoch_seeds, log_epoch
from genen_scale.training.evaluation import FoldOutputs, ValScore, finish_fold
from genen_scale.training.inputs import RunInputs
from genen_scale.training.selection import keep_training, record_epoch, warn_if_cut_short
from genen_scale.training.state import FoldState
from genen_scale.training.worker import WorkerRun, unwrap

log = logging.getLogger(__name__)


def train_folds_stacked(
    stack: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    run: WorkerRun,
    folds: list[Fold],
    states: list[FoldState],
    on_epoch: Callable[[list[FoldState]], None] = lambda states: None,
) -> list[FoldOutputs]:
    """Train ``folds`` together from ``states`` (fresh or restored); test and embed each.

    Args:
        stack: A :class:`StackedGCN` with one model per fold (maybe DDP-wrapped).
        states: One state per fold, updated in place each epoch.
        on_epoch: Called after every epoch with the states of the folds that trained in
            it (checkpointing).
        Others: as :func:`~genen_scale.training.loop.train_fold`.
    """
    inputs, optim, env = run.inputs, run.optim, run.env
    task = inputs.task
    primary = primary_metric(task.kind)
    y = torch.as_tensor(task.y)
    has_val = [len(f.val) > 0 for f in folds]
    module: StackedGCN = unwrap(stack)
    while active := [k for k, st in enumerate(states) if keep_training(st, optim, has_val[k])]:
        start = time.perf_counter()
        b = run.batches.whole_graph(torch.from_numpy(task.nodes))
        wait = time.perf_counter() - start
        stack.train()
        gens, seeds = [], {}
        for k in active:
            order, s = epoch_seeds(folds[k], run.seed, states[k].epoch, env)
            gens.append(torch.Generator(env.device).manual_seed(s))
            seeds[k] = order
        # Only the folds still training are computed (stopped ones keep their snapshot).
        out, _ = stack(b.x, b.adj, b.ax, gens, models=active, layers=b.layers)
        # b's seeds are the task's genes: row i of the task is output row b.seed_pos[i].
        losses = [
            task.loss(out[b.seed_pos[torch.as_tensor(seeds[k])], j], y[seeds[k]].to(env.device))
            for j, k in enumerate(active)
        ]
        optimizer.zero_grad(set_to_none=True)
        torch.stack(losses).sum().backward()
        optimizer.step()
        elapsed = time.perf_counter() - start
        scores = _val_scores(stack, b, inputs, folds, active, has_val)
        peak = max(env.gather(env.peak_memory_mb()))
        for k, loss in zip(active, losses, strict=True):
            record = EpochRecord(
                epoch=states[k].epoch,
                loss=env.mean(float(loss.detach())),
                seeds_per_s=len(seeds[k]) * env.world_size * len(active) / elapsed,
                loading_share=env.mean(wait / elapsed),
                peak_mem_mb=peak,
                epoch_s=elapsed / len(active),
                stacked_folds=len(active),
                lr=optimizer.param_groups[0]["lr"],
            )
            record_epoch(
                states[k], optim, primary, scores[k], record, lambda k=k: module.state_of(k)
            )
            if env.rank == 0:
                log_epoch(folds[k].index, states[k])
        on_epoch([states[k] for k in active])
    outputs = []
    for k, (fold, st) in enumerate(zip(folds, states, strict=True)):
        if not has_val[k]:  # the paper protocol: the last epoch's model
            st.best_epoch, st.best_state = st.epoch - 1, module.state_of(k)
        elif env.rank == 0:
            warn_if_cut_short(fold.index, st, optim)
        lone = build_model(module.cfg, inputs.x.shape[1], task.num_outputs).to(env.device)
        outputs.append(finish_fold(lone, run, fold, st))
    return outputs


@torch.no_grad()
def _val_scores(stack, b, inputs: RunInputs, folds, active, has_val) -> dict:
    """Each active fold's :class:`ValScore` from one pass (None: no validation)."""
    if not any(has_val[k] for k in active):
        return dict.fromkeys(active)
    unwrap(stack).eval()
    out, _ = unwrap(stack)(b.x, b.adj, b.ax, models=active, layers=b.layers)
    scores = {}
    for j, k in enumerate(active):
        val = folds[k].val
        logits = out[b.seed_pos[torch.as_tensor(val)], j]
        scores[k] = ValScore.of(inputs.task, logits, val) if has_val[k] else None
    return scores
