"""Ray Train around the fold loop, on the driver: the cluster, the trainer, restarts.

One ``TorchTrainer.fit()`` runs all folds of a run: starting a worker group costs seconds,
so the workers loop over folds themselves (:func:`~genen_scale.training.loop.train_loop_per_worker`).
``scaling.num_workers == 0`` is Ray Train's local mode: the same worker function runs in
this process, without Ray actors.

Each worker opens the store from its PATH (``train_loop_config`` never carries arrays),
sets its own torch thread count (Ray sets ``OMP_NUM_THREADS=1`` in workers) and wraps the
model for DDP (:mod:`.ray_worker`). The process group's rendezvous listens on each node's
Ray address only (:mod:`.rendezvous`). When a worker dies, Ray Train restarts the group
(up to ``scaling.max_failures`` times) from the last checkpoint (:mod:`.ray_worker`,
:mod:`.checkpoint`); Ray Train's storage (``<run dir>/ray``) keeps
``scaling.checkpoints_to_keep`` of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import ray
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from genen_scale.ray_env.local_ray import join_or_start
from genen_scale.ray_env.store_sync import store_location
from genen_scale.training.config import ScaleConfig, TrainConfig
from genen_scale.training.inputs import TrainError
from genen_scale.training.loop import train_loop_per_worker
from genen_scale.training.ray_worker import LoopSpec
from genen_scale.training.rendezvous import BoundTorchConfig
from genen_scale.training.results import LOCAL_CHECKPOINT

log = logging.getLogger(__name__)


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
        str(run_dir / LOCAL_CHECKPOINT) if sc.num_workers == 0 else None,
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
