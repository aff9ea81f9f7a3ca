"""Ray Train around the fold loop: workers, DDP, checkpoints, restarts.

One ``TorchTrainer.fit()`` runs all folds of a run: starting a worker group costs seconds,
so the workers loop over folds themselves. ``scaling.num_workers == 0`` is Ray Train's
local mode: the same ``train_loop_per_worker`` runs in this process, without Ray actors.

Each worker opens the store from its PATH (``train_loop_config`` never carries arrays),
sets its own torch thread count (Ray sets ``OMP_NUM_THREADS=1`` in workers) and wraps the
model with ``ray.train.torch.prepare_model`` (DDP over gloo on CPU, NCCL on GPU) — the one
place the model is wrapped. The process group's rendezvous listens on each node's Ray
address only (:mod:`.rendezvous`).

Checkpoints (:mod:`.checkpoint`): every rank calls ``ray.train.report`` after every epoch;
every ``scaling.checkpoint_every`` epochs, and when a fold ends, rank 0 attaches a lean
checkpoint (model, optimiser, the fold's :class:`~genen_scale.training.worker.FoldState`;
loaded with ``weights_only=True``). Finished folds' outputs are written once into the run
directory, not into checkpoints. When a worker dies, Ray Train restarts the group (up to
``scaling.max_failures`` times) and ``ray.train.get_checkpoint()`` hands the new workers
the last checkpoint; as every epoch's randomness is derived from (seed, fold, epoch,
rank), a resumed run computes what the uninterrupted one would have. In local mode
nothing is persisted by Ray, so the checkpoint is written to ``<run dir>/checkpoint`` and
read back from there when a run is resumed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import ray
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from genen_scale.models.gnn import build_model
from genen_scale.models.stacked import StackedGCN
from genen_scale.ray_env.local_ray import join_or_start
from genen_scale.ray_env.store_sync import store_location
from genen_scale.tasks.folds import Fold
from genen_scale.training.batches import GraphBatches, run_batches, stacks_folds
from genen_scale.training.checkpoint import (
    initial_weights,
    load_fold,
    load_state,
    save_fold,
    save_state,
)
from genen_scale.training.config import ScaleConfig, TrainConfig
from genen_scale.training.evaluation import FoldOutputs
from genen_scale.training.inputs import RunInputs, TrainError, load_inputs
from genen_scale.training.loop import (
    INIT_STREAM,
    FoldState,
    WorkerEnv,
    derive_seed,
    make_scheduler,
    train_fold,
)
from genen_scale.training.rendezvous import BoundTorchConfig
from genen_scale.training.stacked_loop import train_folds_stacked
from genen_scale.training.worker import precision_context

log = logging.getLogger(__name__)


@dataclass
class LoopSpec:
    """What every worker is handed: the config and where to read and write."""

    cfg: TrainConfig
    store: str
    """Path or URI of the store; each worker memory-maps it (its node's copy of a URI)."""
    run_dir: str
    """The run's results directory: rank 0 writes finished folds there (on a cluster it
    must be shared storage, as Ray Train's ``storage_path`` below it already is)."""
    local_checkpoint_dir: str | None = None
    """Where local mode keeps its checkpoint (Ray Train persists none there)."""


def connect(scaling: ScaleConfig) -> bool:
    """Join the configured Ray cluster or start a local one; True if this call started Ray.

    ``scaling.ray_address`` wins; else a ``ray job submit`` job's ``RAY_ADDRESS`` joins
    that cluster; else a local cluster sized to this machine starts in process. Local
    mode (``num_workers == 0``) needs no Ray at all.
    """
    if scaling.num_workers == 0 or ray.is_initialized():
        return False
    address = join_or_start(scaling.ray_address, include_dashboard=False)
    need = scaling.num_workers * scaling.threads_per_worker
    have = ray.cluster_resources().get("CPU", 0)
    if need > have:
        msg = (
            f"scaling asks for {scaling.num_workers} workers x {scaling.threads_per_worker} "
            f"CPUs = {need} CPUs, the Ray cluster has {have:g}"
        )
        if not address:
            ray.shutdown()
            raise TrainError(msg + "; lower scaling.num_workers or scaling.threads_per_worker")
        log.warning("%s; training waits until the cluster grows", msg)
    return True


def fit(cfg: TrainConfig, store: str | Path, run_dir: Path, callbacks: Sequence = ()) -> None:
    """Train every fold of ``cfg`` on Ray Train; the folds land in ``run_dir``
    (:func:`~genen_scale.training.checkpoint.load_fold` reads them).

    Args:
        cfg: The run's config.
        store: Path or URI of the store.
        run_dir: The run's results directory; Ray Train's storage is ``run_dir/ray``.
        callbacks: ``ray.train.UserCallback`` objects for the Train controller (fault
            injection in tests, custom monitoring).

    Raises:
        ray.train.TrainingFailedError: Workers kept failing past ``scaling.max_failures``.
    """
    sc = cfg.scaling
    spec = LoopSpec(
        cfg,
        store_location(store),
        str(run_dir.resolve()),
        str(run_dir / "checkpoint") if sc.num_workers == 0 else None,
    )
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"spec": spec},
        torch_config=BoundTorchConfig(),  # the process group listens on the node address only
        scaling_config=ScalingConfig(
            num_workers=sc.num_workers,
            use_gpu=sc.use_gpu,
            resources_per_worker={"CPU": sc.threads_per_worker} if sc.num_workers else None,
        ),
        run_config=RunConfig(
            name="train",
            storage_path=str((run_dir / "ray").resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=sc.checkpoints_to_keep),
            failure_config=FailureConfig(max_failures=sc.max_failures),
            callbacks=list(callbacks),
        ),
    )
    trainer.fit()


def train_loop_per_worker(config: dict) -> None:
    """Ray Train's worker function: every fold of the run, resuming from a checkpoint.

    Finished folds are written into the run directory by rank 0
    (:func:`~genen_scale.training.checkpoint.save_fold`); the driver reads them there.
    """
    spec: LoopSpec = config["spec"]
    cfg = spec.cfg
    if not logging.getLogger().handlers:  # a fresh worker process logs nothing by default
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(cfg.scaling.threads_per_worker)
    env = _worker_env(cfg.scaling)
    inputs = load_inputs(spec.store, cfg.data, cfg.eval, cfg.seed)
    stackable = stacks_folds(cfg)
    task_nodes = torch.from_numpy(inputs.task.nodes)
    models = len(inputs.folds) if stackable else 1
    batches = run_batches(cfg, inputs.csr, inputs.x, task_nodes, models, env.device, env.rank == 0)
    full = batches.full_batch
    run_dir = Path(spec.run_dir)
    saved = _restore(spec)
    done = {f.index for f in inputs.folds if load_fold(run_dir, f.index) is not None}
    pending = [f for f in inputs.folds if f.index not in done]
    stack = full and stackable and len(pending) > 1
    groups = [pending] if stack else [[f] for f in pending]
    if env.rank == 0 and stack:
        log.info("training folds %s together as one stacked model", [f.index for f in pending])
    for group in groups:
        with precision_context(cfg.scaling.precision, env.device):
            outputs = _train_group(cfg, spec, env, inputs, batches, group, saved, stack, done)
        for out in outputs:
            if env.rank == 0:
                save_fold(run_dir, out)
            done.add(out.result.fold)
        # A checkpoint between folds, so that a failure now does not redo these folds.
        _report(spec, env, [], [FoldState()], {}, sorted(done))


def _train_group(
    cfg: TrainConfig,
    spec: LoopSpec,
    env: WorkerEnv,
    inputs: RunInputs,
    batches: GraphBatches,
    group: list[Fold],
    saved: dict | None,
    stacked: bool,
    done: set[int],
) -> list[FoldOutputs]:
    """Train one fold, or several stacked, from scratch or from the checkpoint ``saved``."""
    models = []
    for fold in group:
        torch.manual_seed(derive_seed(cfg.seed, fold.index, INIT_STREAM))
        models.append(
            build_model(cfg.model, inputs.x.shape[1], inputs.task.num_outputs, inputs.csr.nnz)
        )
    if cfg.init_from:  # warm start (a masking chain); a checkpoint below still wins
        for fold, m in zip(group, models, strict=True):
            try:
                m.load_state_dict(initial_weights(cfg.init_from, fold.index))
            except RuntimeError as e:  # another architecture
                raise TrainError(f"init_from={cfg.init_from}: fold {fold.index}: {e}") from None
    model = StackedGCN.from_models(models) if stacked else models[0]
    indices = [f.index for f in group]
    states, optim_state, sched_state = [FoldState() for _ in group], None, None
    if saved and saved["folds"] == indices and saved["stacked"] == stacked:
        model.load_state_dict(saved["model"])
        states, optim_state, sched_state = saved["fold_states"], saved["optim"], saved["sched"]
        if env.rank == 0:
            log.info("folds %s: resuming after epoch %d", indices, states[0].epoch - 1)
    model = ray.train.torch.prepare_model(model, move_to_device=env.device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
    )
    if optim_state is not None:
        optimizer.load_state_dict(optim_state)
    scheduler = make_scheduler(optimizer, cfg.optim)
    if scheduler is not None and sched_state is not None:
        scheduler.load_state_dict(sched_state)
    every = cfg.scaling.checkpoint_every

    def checkpoint(sts: list[FoldState]) -> None:
        # Every rank decides alike (by epoch), so the reports stay collective. Between
        # checkpoints nothing is reported: the history holds the per-epoch metrics.
        if max(st.epoch for st in sts) % every == 0:
            tensors = {"model": _unwrap_state(model), "optim": optimizer.state_dict()}
            if scheduler is not None:
                tensors["sched"] = scheduler.state_dict()
            _report(spec, env, indices, sts, tensors, sorted(done), stacked)

    common = (inputs, group if stacked else group[0], batches, cfg.optim, cfg.seed, env)
    if stacked:
        return train_folds_stacked(
            model, optimizer, *common, states, checkpoint, model_name=cfg.model.arch
        )
    out = train_fold(
        model,
        optimizer,
        *common,
        states[0],
        on_epoch=lambda st: checkpoint([st]),
        model_name=cfg.model.arch,
        scheduler=scheduler,
    )
    return [out]


def _worker_env(scaling: ScaleConfig) -> WorkerEnv:
    ctx = ray.train.get_context()
    if scaling.use_gpu and not torch.cuda.is_available():
        raise TrainError("scaling.use_gpu is set but this worker sees no CUDA device")
    if scaling.num_workers == 0:
        device = torch.device("cuda" if scaling.use_gpu else "cpu")
    else:
        device = ray.train.torch.get_device()
    return WorkerEnv(ctx.get_world_rank(), ctx.get_world_size(), device)


def _unwrap_state(model: torch.nn.Module) -> dict:
    return getattr(model, "module", model).state_dict()


def _report(
    spec: LoopSpec,
    env: WorkerEnv,
    folds: list[int],
    states: list[FoldState],
    tensors: dict | None,
    done: list[int],
    stacked: bool = False,
) -> None:
    """Every rank reports the epoch (``ray.train.report`` is a barrier); with ``tensors``
    rank 0 attaches a checkpoint of them (``{}`` between folds)."""
    last = states[0].history[-1] if states[0].history else {}
    metrics = {
        "fold": folds[0] if folds else -1,
        "epoch": max(st.epoch for st in states) - 1,
        "loss": last.get("loss", float("nan")),
        "pid": os.getpid(),
    }  # pid: which process reported, for monitoring and tests
    if env.rank != 0 or tensors is None:
        ray.train.report(metrics, checkpoint=None)
        return
    write = partial(
        save_state, folds=folds, states=states, tensors=tensors, done=done, stacked=stacked
    )
    if spec.local_checkpoint_dir is not None:
        path = Path(spec.local_checkpoint_dir)
        write(path)
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(path))
        return
    # Reports upload synchronously, so the temporary directory may go once report returns.
    with tempfile.TemporaryDirectory(prefix="genen-ckpt-") as tmp:
        write(Path(tmp))
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))


def _restore(spec: LoopSpec) -> dict | None:
    ckpt = ray.train.get_checkpoint()
    if ckpt is None and spec.local_checkpoint_dir is not None:
        local = Path(spec.local_checkpoint_dir)
        return load_state(local)
    if ckpt is None:
        return None
    with ckpt.as_directory() as d:
        return load_state(Path(d))
