"""A worker's place in the run and what its folds share: what the loops and their callers pass.

Seed streams: every epoch's randomness is derived from (run seed, fold, epoch, rank), so a
resumed epoch replays exactly and a checkpoint needs no RNG state beyond the epoch count.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from genen_scale.training.batches import GraphBatches
from genen_scale.training.config import OptimConfig
from genen_scale.training.inputs import RunInputs

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


@dataclass(frozen=True)
class WorkerRun:
    """What every fold a worker trains shares: the data, the batches, the schedule of
    epochs and the worker's place (handed to the fold loops in place of a long argument
    list)."""

    inputs: RunInputs
    """Features, graph, task and folds (:func:`~genen_scale.training.inputs.load_inputs`)."""
    batches: GraphBatches
    """Batch source over the run's graph, sampled or full batch."""
    optim: OptimConfig
    """Epochs, patience, the selection rule and the learning-rate schedule."""
    seed: int
    """The run seed: every epoch's randomness derives from it (:func:`derive_seed`)."""
    env: WorkerEnv
    """Rank, world size and device."""
    model_name: str
    """``model`` of the fold results (``model.arch``)."""


def precision_context(precision: str, device: torch.device) -> torch.autocast:
    """The autocast context of ``scaling.precision`` (disabled for ``float32``).

    Its weight-cast cache lives as long as the context, i.e. across optimiser steps when
    one context spans a fold's training, and would keep stale bfloat16 copies of the
    weights: it is off. Backward ops follow the forward's dtypes.
    """
    return torch.autocast(
        device.type, torch.bfloat16, enabled=precision == "bfloat16", cache_enabled=False
    )


def derive_seed(*keys: int) -> int:
    """A seed per key tuple, e.g. (run seed, fold, epoch, rank): a resumed epoch replays exactly."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP wrapper (evaluation runs without DDP's collectives)."""
    return getattr(model, "module", model)


def snapshot(model) -> dict[str, Tensor]:
    """A CPU copy of the model's weights."""
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}
