"""GNN training: config, per-worker loop, Ray Train wiring, results.

Read :mod:`.loop` first: one worker's run top to bottom (folds → epochs → evaluation →
selection → checkpoints). The modules it calls, in the order a run uses them:
:mod:`.config` (``TrainConfig``), :mod:`.inputs` (what a worker reads from the store),
:mod:`.batches` (sampled or full-graph batches), :mod:`.worker` (rank, device, seeds, what
a worker's folds share), :mod:`.epoch` (one training epoch), :mod:`.evaluation`
(validation scores, a fold's end), :mod:`.selection` (kept epoch, early stop, schedule),
:mod:`.stacked_loop` (folds trained as one stacked model), :mod:`.state` and
:mod:`.checkpoint` (checkpoint contents and files), :mod:`.ray_worker` (a worker's Ray
calls). On the driver: :mod:`.run` (a whole run), :mod:`.distributed` (Ray Train's
trainer), :mod:`.results` (results directory, summary). The entry point is
``genen_scale/train.py``; without a store it trains on the demo store of
:mod:`genen_scale.demo`.
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
