"""A Ray Train worker's side of the run: its place (rank, device), DDP wrapping, reports
and checkpoints — the only Ray calls the fold loop (:mod:`.loop`) makes.

Every rank calls ``ray.train.report`` at every checkpoint (the call is a barrier), and rank
0 attaches the checkpoint (:class:`~genen_scale.training.state.RunState`, written by
:func:`~genen_scale.training.checkpoint.save_state`). When a worker dies, Ray Train
restarts the group and ``ray.train.get_checkpoint()`` hands the new workers the last one.
In local mode (``scaling.num_workers == 0``) Ray persists nothing, so the checkpoint is
written to ``<run dir>/checkpoint`` and read back from there when a run is resumed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint

from genen_scale.training.checkpoint import load_state, save_state
from genen_scale.training.config import ScaleConfig, TrainConfig
from genen_scale.training.inputs import TrainError
from genen_scale.training.state import RunState
from genen_scale.training.worker import WorkerEnv


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


def worker_env(scaling: ScaleConfig) -> WorkerEnv:
    """This worker's rank, world size and device, as Ray Train assigned them."""
    ctx = ray.train.get_context()
    if scaling.use_gpu and not torch.cuda.is_available():
        raise TrainError("scaling.use_gpu is set but this worker sees no CUDA device")
    if scaling.num_workers == 0:
        device = torch.device("cuda" if scaling.use_gpu else "cpu")
    else:
        device = ray.train.torch.get_device()
    return WorkerEnv(ctx.get_world_rank(), ctx.get_world_size(), device)


def prepare(model: torch.nn.Module, env: WorkerEnv) -> torch.nn.Module:
    """The model on this worker's device, wrapped for DDP when there are several workers
    (gloo on CPU, NCCL on GPU): the one place the model is wrapped."""
    return ray.train.torch.prepare_model(model, move_to_device=env.device)


def report(spec: LoopSpec, env: WorkerEnv, state: RunState) -> None:
    """Report a checkpoint of ``state``: every rank reports (``ray.train.report`` is a
    barrier), rank 0 attaches the checkpoint."""
    states = state.fold_states if state.folds else []  # between folds: none in progress
    history = states[0].history if states else []
    metrics = {
        "fold": state.folds[0] if state.folds else -1,
        "epoch": max((st.epoch for st in states), default=0) - 1,
        "loss": history[-1].loss if history else float("nan"),
        "pid": os.getpid(),
    }  # pid: which process reported, for monitoring and tests
    if env.rank != 0:
        ray.train.report(metrics, checkpoint=None)
        return
    if spec.local_checkpoint_dir is not None:
        path = Path(spec.local_checkpoint_dir)
        save_state(path, state)
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(path))
        return
    # Reports upload synchronously, so the temporary directory may go once report returns.
    with tempfile.TemporaryDirectory(prefix="genen-ckpt-") as tmp:
        save_state(Path(tmp), state)
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))


def restore(spec: LoopSpec) -> RunState | None:
    """The checkpoint to continue from: Ray Train's latest, else local mode's; None to
    start afresh."""
    ckpt = ray.train.get_checkpoint()
    if ckpt is None and spec.local_checkpoint_dir is not None:
        return load_state(Path(spec.local_checkpoint_dir))
    if ckpt is None:
        return None
    with ckpt.as_directory() as d:
        return load_state(Path(d))
