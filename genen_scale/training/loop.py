"""One worker's training run, top to bottom: folds → epochs → evaluation → selection and
early stopping → checkpoints.

Ray Train runs :func:`train_loop_per_worker` on every worker (:mod:`.distributed` starts
it; in local mode, ``scaling.num_workers == 0``, in this process). Transductive, as in
the paper: every gene stays in the graph with its features in every fold; a fold hides
only the labels of its validation and test genes.

1. **Folds** (:func:`train_loop_per_worker`): the worker reads the run's inputs from the
   store, builds its batches once and restores the last checkpoint. The folds not yet
   finished train one at a time, or together as one stacked model in full batch
   (:mod:`.stacked_loop`); rank 0 writes each finished fold into the run directory, and a
   checkpoint between folds records it.
2. **A fold's model** (:func:`train_group`): built from a seed derived from the fold (or
   warm-started from ``init_from``, or restored from the checkpoint), wrapped for DDP,
   with its optimiser and learning-rate schedule.
3. **Epochs** (:func:`train_fold`): train one epoch (:mod:`.epoch`), score the validation
   genes (:mod:`.evaluation`), book the epoch — keep the best weights, count patience
   (:mod:`.selection`) — step the schedule, log, and call the checkpoint hook.
4. **The end of a fold** (:func:`~genen_scale.training.evaluation.finish_fold`): the kept
   weights score validation and test genes once and embed every gene.

The checkpoint hook (:func:`train_group`'s ``checkpoint``) reports every
``scaling.checkpoint_every`` epochs (:mod:`.ray_worker`); every epoch's randomness is
derived from (seed, fold, epoch, rank), so a run resumed from a checkpoint computes what
the uninterrupted run would have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from genen_core.logs import setup_logging
from genen_scale.models.gnn import build_model
from genen_scale.models.stacked import StackedGCN
from genen_scale.tasks.folds import Fold
from genen_scale.tasks.metrics import primary_metric
from genen_scale.training.batches import run_batches, stacks_folds
from genen_scale.training.checkpoint import initial_weights, load_fold, save_fold
from genen_scale.training.config import TrainConfig
from genen_scale.training.epoch import log_epoch, train_epoch
from genen_scale.training.evaluation import FoldOutputs, finish_fold, validate
from genen_scale.training.inputs import RunInputs, TrainError, load_inputs
from genen_scale.training.ray_worker import LoopSpec, prepare, report, restore, worker_env
from genen_scale.training.selection import (
    keep_training,
    make_scheduler,
    record_epoch,
    step_scheduler,
    warn_if_cut_short,
)
from genen_scale.training.stacked_loop import train_folds_stacked
from genen_scale.training.state import FoldState, RunState
from genen_scale.training.worker import (
    INIT_STREAM,
    WorkerRun,
    derive_seed,
    precision_context,
    snapshot,
    unwrap,
)

log = logging.getLogger(__name__)


def train_loop_per_worker(config: dict) -> None:
    """Ray Train's worker function: every fold of the run, resuming from a checkpoint.

    Finished folds are written into the run directory by rank 0
    (:func:`~genen_scale.training.checkpoint.save_fold`); the driver reads them there.
    """
    spec: LoopSpec = config["spec"]
    cfg = spec.cfg
    setup_logging()  # a fresh worker process logs nothing by default
    torch.set_num_threads(cfg.scaling.threads_per_worker)
    env = worker_env(cfg.scaling)
    inputs = load_inputs(spec.store, cfg.data, cfg.eval, cfg.seed)
    stackable = stacks_folds(cfg)
    task_nodes = torch.from_numpy(inputs.task.nodes)
    models = len(inputs.folds) if stackable else 1
    batches = run_batches(cfg, inputs.csr, inputs.x, task_nodes, models, env.device, env.rank == 0)
    run = WorkerRun(inputs, batches, cfg.optim, cfg.seed, env, cfg.model.arch)
    run_dir = Path(spec.run_dir)
    saved = restore(spec)
    done = {f.index for f in inputs.folds if load_fold(run_dir, f.index) is not None}
    pending = [f for f in inputs.folds if f.index not in done]
    stack = batches.full_batch and stackable and len(pending) > 1
    groups = [pending] if stack else [[f] for f in pending]
    if env.rank == 0 and stack:
        log.info("training folds %s together as one stacked model", [f.index for f in pending])
    for group in groups:
        with precision_context(cfg.scaling.precision, env.device):
            outputs = train_group(cfg, spec, run, group, saved, stack, done)
        for out in outputs:
            if env.rank == 0:
                save_fold(run_dir, out)
            done.add(out.result.fold)
        # A checkpoint between folds, so that a failure now does not redo these folds.
        report(spec, env, RunState(done=sorted(done)))


def train_group(
    cfg: TrainConfig,
    spec: LoopSpec,
    run: WorkerRun,
    group: list[Fold],
    saved: RunState | None,
    stacked: bool,
    done: set[int],
) -> list[FoldOutputs]:
    """Train one fold, or several stacked, from scratch or from the checkpoint ``saved``;
    the checkpoint hook reports the group's state every ``scaling.checkpoint_every``
    epochs."""
    indices = [f.index for f in group]
    model = initial_model(cfg, run.inputs, group, stacked)
    states = [FoldState() for _ in group]
    resumed = saved is not None and saved.resumes(indices, stacked)
    if resumed:
        model.load_state_dict(saved.model)
        states = saved.fold_states
        if run.env.rank == 0:
            log.info("folds %s: resuming after epoch %d", indices, states[0].epoch - 1)
    model = prepare(model, run.env)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
    )
    scheduler = make_scheduler(optimizer, cfg.optim)
    if resumed:
        optimizer.load_state_dict(saved.optim)
        if scheduler is not None and saved.sched is not None:
            scheduler.load_state_dict(saved.sched)

    def checkpoint(active: list[FoldState]) -> None:
        start = time.perf_counter()
        # Every rank decides alike (by epoch), so the reports stay collective. Between
        # checkpoints nothing is reported: the history holds the per-epoch metrics.
        if max(st.epoch for st in states) % cfg.scaling.checkpoint_every == 0:
            state = RunState(
                done=sorted(done),
                folds=indices,
                fold_states=states,
                stacked=stacked,
                model=unwrap(model).state_dict(),
                optim=optimizer.state_dict(),
                sched=None if scheduler is None else scheduler.state_dict(),
            )
            report(spec, run.env, state)
        # The hook's seconds (``checkpoint_s``) are the overhead that
        # ``scaling.checkpoint_every`` trades off; the folds that trained share them.
        took = (time.perf_counter() - start) / len(active)
        for st in active:
            st.history[-1] = replace(st.history[-1], checkpoint_s=took)

    if stacked:
        return train_folds_stacked(model, optimizer, run, group, states, checkpoint)
    return [train_fold(model, optimizer, scheduler, run, group[0], states[0], checkpoint)]


def initial_model(
    cfg: TrainConfig, inputs: RunInputs, group: list[Fold], stacked: bool
) -> torch.nn.Module:
    """The group's model before its first epoch: each fold's initialised from a seed of
    its own (or warm-started from ``cfg.init_from``, a masking chain's previous run),
    stacked into one :class:`StackedGCN` when the folds train together."""
    models = []
    for fold in group:
        torch.manual_seed(derive_seed(cfg.seed, fold.index, INIT_STREAM))
        m = build_model(cfg.model, inputs.x.shape[1], inputs.task.num_outputs, inputs.csr.nnz)
        if cfg.init_from:  # a checkpoint, loaded after this, still wins
            try:
                m.load_state_dict(initial_weights(cfg.init_from, fold.index))
            except RuntimeError as e:  # another architecture
                raise TrainError(f"init_from={cfg.init_from}: fold {fold.index}: {e}") from None
        models.append(m)
    return StackedGCN.from_models(models) if stacked else models[0]


def train_fold(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    run: WorkerRun,
    fold: Fold,
    state: FoldState,
    on_epoch: Callable[[list[FoldState]], None] = lambda states: None,
) -> FoldOutputs:
    """Train one fold from ``state`` (fresh or restored) to its early stop; test and embed.

    Args:
        model: The model, wrapped for DDP when ``run.env.world_size > 1``.
        optimizer: Its optimiser (state restored by the caller when resuming).
        scheduler: The learning-rate schedule (:func:`~.selection.make_scheduler`),
            restored by the caller when resuming; None: a constant rate.
        run: What the run's folds share (inputs, batches, ``optim``, seed, rank).
        fold: Positions of train/val/test genes in ``run.inputs.task``; an empty ``val``
            trains all ``optim.epochs`` epochs and keeps the last model.
        state: Where the fold stands; updated in place each epoch.
        on_epoch: Called after every epoch with ``[state]`` (checkpointing).
    """
    primary = primary_metric(run.inputs.task.kind)
    has_val = len(fold.val) > 0
    while keep_training(state, run.optim, has_val):
        record = train_epoch(model, optimizer, run, fold, state.epoch)
        val = validate(model, run, fold.val) if has_val else None
        record_epoch(state, run.optim, primary, val, record, lambda: snapshot(model))
        step_scheduler(scheduler, state)
        if run.env.rank == 0:
            log_epoch(fold.index, state)
        on_epoch([state])
    if not has_val:  # the paper protocol: the last epoch's model
        state.best_epoch, state.best_state = state.epoch - 1, snapshot(model)
    elif run.env.rank == 0:
        warn_if_cut_short(fold.index, state, run.optim)
    return finish_fold(model, run, fold, state)
