"""GNN training: config, per-worker loop, Ray Train wiring, results.

Modules in the order a run uses them: :mod:`.config` (``TrainConfig``), :mod:`.inputs` (what a worker reads from the store),
:mod:`.batches` (sampled or full-graph batches), :mod:`.loop` (one fold on one worker),
:mod:`.distributed` (Ray Train, DDP, checkpoints), :mod:`.results` (results directory,
summary) and :mod:`.run` (the driver). The entry point is ``genen_scale/train.py``;
without a store it trains on the demo store of :mod:`genen_scale.demo`.
"""

from genen_scale.training.config import (
    DataConfig,
    EvalConfig,
    OptimConfig,
    ScaleConfig,
    TrainConfig,
)
from genen_scale.training.inputs import TrainError
from genen_scale.training.run import run

__all__ = [
    "DataConfig",
    "EvalConfig",
    "OptimConfig",
    "ScaleConfig",
    "TrainConfig",
    "TrainError",
    "run",
]
