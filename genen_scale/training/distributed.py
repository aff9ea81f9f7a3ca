"""Ray Train around the fold loop: workers, DDP, checkpoints, restarts.

One ``TorchTrainer.fit()`` runs all folds of a run: starting a worker group costs seconds,
so the workers loop over folds themselves. ``scaling.num_workers == 0`` is Ray Train's
local mode: the same ``train_loop_per_worker`` runs in this process, without Ray actors.

Each worker opens the store from its PATH (``train_loop_config`` never carries arrays),
sets its own torch thread count (Ray sets ``OMP_NUM_THREADS=1`` in workers) and wraps the
model with ``ray.train.torch.prepare_model`` (DDP over gloo on CPU, NCCL on GPU) — the one
place the model is wrapped.

Checkpoints: after every epoch rank 0 writes one file, ``run_state.pt`` (model, optimiser,
the fold's :class:`~genen_scale.training.loop.FoldState` and the outputs of finished folds)
and every rank calls ``ray.train.report``. When a worker dies, Ray Train restarts the group
(up to ``scaling.max_failures`` times) and ``ray.train.get_checkpoint()`` hands the new
workers that file; as every epoch's randomness is derived from (seed, fold, epoch, rank),
a resumed run computes what the uninterrupted one would have. In local mode nothing is
persisted by Ray, so the file is written to ``<run dir>/checkpoint`` and read back from
there when a run is resumed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import ray
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from genen_scale.models import build_model
from genen_scale.store_sync import store_location
from genen_scale.training.batches import GraphBatches
from genen_scale.training.config import ScaleConfig, TrainConfig
from genen_scale.training.inputs import TrainError, load_inputs
from genen_scale.training.loop import INIT_STREAM, FoldState, WorkerEnv, derive_seed, train_fold

log = logging.getLogger(__name__)

STATE_FILE = "run_state.pt"
# Outputs only rank 0 needs to keep (they are large and identical on every rank).
RANK0_ONLY = ("embeddings", "best_state")


@dataclass
class LoopSpec:
    """What every worker is handed: the config and where to read and write."""

    cfg: TrainConfig
    store: str
    """Path or URI of the store; each worker memory-maps it (its node's copy of a URI)."""
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
    address = scaling.ray_address or ("auto" if os.environ.get("RAY_ADDRESS") else None)
    if address:
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False)
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


def fit(cfg: TrainConfig, store: str | Path, run_dir: Path, callbacks: Sequence = ()) -> list[dict]:
    """Train every fold of ``cfg`` on Ray Train; rank 0's per-fold outputs, in fold order.

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
        str(run_dir / "checkpoint") if sc.num_workers == 0 else None,
    )
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"spec": spec},
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
    return trainer.fit().return_value


def train_loop_per_worker(config: dict) -> list[dict] | None:
    """Ray Train's worker function: every fold of the run, resuming from a checkpoint.

    Returns:
        On rank 0 the outputs of :func:`~genen_scale.training.loop.train_fold` for each
        fold in order; None on other ranks.
    """
    spec: LoopSpec = config["spec"]
    cfg = spec.cfg
    if not logging.getLogger().handlers:  # a fresh worker process logs nothing by default
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(cfg.scaling.threads_per_worker)
    env = _worker_env(cfg.scaling)
    inputs = load_inputs(spec.store, cfg.data, cfg.eval, cfg.seed)
    d = cfg.data
    batches = GraphBatches(inputs.csr, inputs.x, d.fanouts, d.batch_size, d.full_batch, env.device)
    saved = _restore(spec)
    done: dict[int, dict] = saved["done"] if saved else {}
    for fold in inputs.folds:
        if fold.index in done:
            continue
        torch.manual_seed(derive_seed(cfg.seed, fold.index, INIT_STREAM))
        model = build_model(cfg.model, inputs.x.shape[1], inputs.task.num_outputs, inputs.csr.nnz)
        state, optim_state = FoldState(), None
        if saved and saved["fold"] == fold.index:
            model.load_state_dict(saved["model"])
            state, optim_state = FoldState(**saved["fold_state"]), saved["optim"]
            if env.rank == 0:
                log.info(
                    "fold %d: resuming after epoch %d from checkpoint", fold.index, state.epoch - 1
                )
        model = ray.train.torch.prepare_model(model, move_to_device=env.device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
        )
        if optim_state is not None:
            optimizer.load_state_dict(optim_state)

        def checkpoint(st: FoldState, fold_index=fold.index, model=model, optimizer=optimizer):
            _report(
                spec,
                env,
                {
                    "fold": fold_index,
                    "fold_state": asdict(st),
                    "model": _unwrap_state(model),
                    "optim": optimizer.state_dict(),
                    "done": done,
                },
                st,
            )

        out = train_fold(
            model,
            optimizer,
            inputs,
            fold,
            batches,
            cfg.optim,
            cfg.seed,
            env,
            state,
            on_epoch=checkpoint,
        )
        done[fold.index] = (
            out if env.rank == 0 else {k: v for k, v in out.items() if k not in RANK0_ONLY}
        )
        # A checkpoint between folds, so that a failure now does not redo this fold.
        _report(spec, env, {"fold": None, "done": done}, state)
    if env.rank != 0:
        return None
    # Ray refuses torch tensors in a return value; the driver turns these back.
    return [
        {
            **done[f.index],
            "best_state": {k: v.numpy() for k, v in done[f.index]["best_state"].items()},
        }
        for f in inputs.folds
    ]


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


def _report(spec: LoopSpec, env: WorkerEnv, payload: dict, st: FoldState) -> None:
    """Rank 0 writes the checkpoint; every rank reports (``ray.train.report`` is a barrier)."""
    last = st.history[-1] if st.history else {}
    metrics = {
        "fold": payload["fold"] if payload["fold"] is not None else -1,
        "epoch": st.epoch - 1,
        "loss": last.get("loss", float("nan")),
        "pid": os.getpid(),
    }  # pid: which process reported, for monitoring and tests
    if env.rank != 0:
        ray.train.report(metrics, checkpoint=None)
        return
    if spec.local_checkpoint_dir is not None:
        path = Path(spec.local_checkpoint_dir)
        path.mkdir(parents=True, exist_ok=True)
        _save_atomic(payload, path / STATE_FILE)
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(path))
        return
    # Reports upload synchronously, so the temporary directory may go once report returns.
    with tempfile.TemporaryDirectory(prefix="genen-ckpt-") as tmp:
        torch.save(payload, Path(tmp) / STATE_FILE)
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))


def _save_atomic(payload: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".partial")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _restore(spec: LoopSpec) -> dict | None:
    ckpt = ray.train.get_checkpoint()
    if ckpt is None and spec.local_checkpoint_dir is not None:
        local = Path(spec.local_checkpoint_dir)
        ckpt = Checkpoint.from_directory(local) if (local / STATE_FILE).is_file() else None
    if ckpt is None:
        return None
    with ckpt.as_directory() as d:
        # Our own file, holding numpy arrays and dicts besides tensors.
        return torch.load(Path(d) / STATE_FILE, weights_only=False, map_location="cpu")
