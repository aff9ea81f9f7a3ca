"""Scores of every gene node by each fold's kept model, and their fold ensemble.

Each fold's model scores all genes with the very pass that scored its test genes when
the fold ended (:func:`genen_scale.training.evaluation.finish_fold`): the same inputs
(masked features, graph, leakage filter), the same batches (full batch over the same
receptive field, or the same fixed evaluation sample) and the same precision. So a
labelled gene's score by the fold that tested it equals its row in
``predictions.parquet`` (exactly for single-worker runs; a multi-worker sampled run drew
its evaluation sample per rank, and its scores differ by sampling noise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from genen_scale.models.gnn import build_model
from genen_scale.predict.trained_run import TrainedRun
from genen_scale.training.batches import run_batches, stacks_folds
from genen_scale.training.evaluation import infer
from genen_scale.training.inputs import RunInputs, load_inputs
from genen_scale.training.worker import WorkerEnv, precision_context

log = logging.getLogger(__name__)


@dataclass
class GenomeScores:
    """Every gene node scored by every finished fold of a run.

    Attributes:
        folds: Fold indices, in the order of ``per_fold``.
        per_fold: Each fold model's scores, laid out as :meth:`genen_scale.tasks.task.Task.scores`
            returns them (binary P(class 1), class or label probabilities, the value).

    Shapes:
        per_fold: ``[K, num_genes]`` or ``[K, num_genes, C]`` float64.
    """

    folds: list[int]
    per_fold: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """The fold ensemble's score: the mean over folds (``[num_genes]`` or ``[.., C]``)."""
        return self.per_fold.mean(axis=0)

    @property
    def sd(self) -> np.ndarray:
        """Population sd over folds: 0 exactly where every fold gives the same score."""
        return self.per_fold.std(axis=0)


def run_inputs(run: TrainedRun) -> RunInputs:
    """The run's inputs, rebuilt from its config and store (as every worker built them)."""
    cfg = run.cfg
    return load_inputs(str(run.store.path), cfg.data, cfg.eval, cfg.seed)


def score_genome(run: TrainedRun, inputs: RunInputs) -> GenomeScores:
    """Score every gene node of the run's store with each finished fold's kept model."""
    cfg = run.cfg
    use_gpu = cfg.scaling.use_gpu and torch.cuda.is_available()
    env = WorkerEnv(device=torch.device("cuda" if use_gpu else "cpu"))
    task = inputs.task
    # The memory estimate that chose full batch counted the folds when they trained
    # stacked (genen_scale.training.loop), so it must count them here too.
    models = len(inputs.folds) if stacks_folds(cfg) else 1
    batches = run_batches(
        cfg, inputs.csr, inputs.x, torch.from_numpy(task.nodes), models, env.device
    )
    genes = np.arange(run.store.num_genes, dtype=np.int64)
    scores = []
    for f in run.folds:
        model = build_model(cfg.model, inputs.x.shape[1], task.num_outputs, inputs.csr.nnz)
        state = torch.load(f.checkpoint, weights_only=True, map_location=env.device)
        model.load_state_dict(state)
        model.to(env.device)
        with precision_context(cfg.scaling.precision, env.device):
            logits, _ = infer(model, batches, genes, env)
        scores.append(np.asarray(task.scores(logits), dtype=np.float64))
        log.info("fold %d: scored %d genes", f.fold, len(genes))
    return GenomeScores([f.fold for f in run.folds], np.stack(scores))
