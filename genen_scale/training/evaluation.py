"""Scoring a fold's model: the per-epoch validation score and the end-of-fold outputs.

Evaluation should cost little next to training, and depend on the weights only:

* in full batch one forward pass of the whole graph scores every node, so validation,
  test and the embeddings of all genes come from a single pass (every rank computes it:
  the weights are the same everywhere, so nothing needs gathering);
* sampled, each rank scores its share of the nodes over a sample drawn once with a fixed
  seed and kept (:meth:`GraphBatches.fixed`), and the ranks' rows are gathered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from genen_scale.tasks.fold_result import FoldResult, Predictions
from genen_scale.tasks.folds import Fold
from genen_scale.tasks.metrics import (
    choose_threshold,
    evaluate,
    evaluate_with_groups,
    primary_metric,
)
from genen_scale.training.batches import GraphBatches
from genen_scale.training.state import FoldState
from genen_scale.training.worker import EVAL_STREAM, WorkerEnv, WorkerRun, unwrap

log = logging.getLogger(__name__)


@dataclass
class FoldOutputs:
    """A finished fold: its typed result plus the large arrays written beside it.

    Shapes:
        embeddings: ``[num_genes, hidden]`` float32 (row i = node i).
    """

    result: FoldResult
    embeddings: np.ndarray
    best_state: dict[str, Tensor]


@torch.no_grad()
def infer(
    model: torch.nn.Module,
    batches: GraphBatches,
    nodes: np.ndarray,
    env: WorkerEnv,
    embed: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Outputs (and with ``embed`` the last hidden layer) of ``nodes``, on every rank.

    Shapes:
        nodes: ``[n]`` global node ids; returns ``[n, out_dim]`` and ``[n, hidden]`` (or
        None) on CPU.
    """
    module = unwrap(model)
    module.eval()
    nodes = np.asarray(nodes, dtype=np.int64)
    if batches.full_batch:
        b = batches.whole_graph(torch.from_numpy(nodes))
        out, h = module(**b.inputs(), embeddings=True)
        return out[b.seed_pos].float().cpu(), h[b.seed_pos].float().cpu() if embed else None
    chunk = np.array_split(nodes, env.world_size)[env.rank]
    outs, hs = [], []
    if len(chunk):
        for b in batches.fixed(torch.from_numpy(chunk), EVAL_STREAM):
            out, h = module(**b.inputs(), embeddings=True)
            outs.append(out[b.seed_pos].float().cpu())
            if embed:
                hs.append(h[b.seed_pos].float().cpu())
    mine = (torch.cat(outs), torch.cat(hs) if embed else None) if outs else None
    parts = [p for p in env.gather(mine) if p is not None]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]) if embed else None


@dataclass(frozen=True)
class ValScore:
    """An epoch's validation numbers: what model selection (``optim.select``) reads."""

    metric: float
    """The task's primary metric (AUC, Pearson), higher is better."""
    loss: float
    """The training objective on the validation genes, lower is better."""

    @classmethod
    def of(cls, task, logits: Tensor, positions: np.ndarray) -> ValScore:
        """Scores of the validation genes at ``positions`` (rows of ``task.y``) from their
        ``logits`` (rows in the same order)."""
        metric = evaluate(task.kind, task.y[positions], task.scores(logits))[task.kind.primary]
        loss = float(
            task.loss(logits.float(), torch.as_tensor(task.y[positions]).to(logits.device))
        )
        return cls(metric, loss)

    def criterion(self, select: str) -> float:
        """The number selection maximises: the metric, or the negated loss."""
        return self.metric if select == "val_metric" else -self.loss


def validate(model, run: WorkerRun, positions: np.ndarray) -> ValScore:
    """The validation score of the genes at ``positions`` (rows of ``task.y``)."""
    logits, _ = infer(model, run.batches, run.inputs.task.nodes[positions], run.env)
    return ValScore.of(run.inputs.task, logits, positions)


def finish_fold(model, run: WorkerRun, fold: Fold, state: FoldState) -> FoldOutputs:
    """Restore the kept weights; score validation and test and embed all genes.

    The rows name the rule that kept the weights: ``optim.select``, or ``last_epoch``
    without a validation split.

    Full batch: one pass. Sampled: validation over its fixed sample (the one early
    stopping saw), then one pass over all genes for test scores and embeddings.
    """
    if state.best_state is None:
        raise RuntimeError(
            f"fold {fold.index}: no epoch gave a finite validation score; check the task's "
            "validation split (a single class?)"
        )
    inputs, batches, env = run.inputs, run.batches, run.env
    task = inputs.task
    unwrap(model).load_state_dict(state.best_state)
    genes = np.arange(inputs.store.num_genes, dtype=np.int64)
    logits, emb = infer(model, batches, genes, env, embed=True)
    if not batches.full_batch and len(fold.val):
        val_logits, _ = infer(model, batches, task.nodes[fold.val], env)
    else:
        val_logits = logits[task.nodes[fold.val]]
    test_scores = task.scores(logits[task.nodes[fold.test]])
    val_scores = task.scores(val_logits)
    # The decision threshold comes from validation genes (training genes under the paper
    # protocol, which has none): test labels never choose it.
    calib = fold.val if len(fold.val) else fold.train
    calib_scores = val_scores if len(fold.val) else task.scores(logits[task.nodes[fold.train]])
    threshold = choose_threshold(task.kind, task.y[calib], calib_scores)
    val = (
        evaluate_with_groups(task.kind, task.y[fold.val], val_scores, threshold=threshold)
        if len(fold.val)
        else {}
    )
    test = evaluate_with_groups(
        task.kind, task.y[fold.test], test_scores, inputs.study_group[fold.test], threshold
    )
    predictions = Predictions.concat(
        [
            Predictions.of("val", task.nodes[fold.val], task.y[fold.val], val_scores),
            Predictions.of("test", task.nodes[fold.test], task.y[fold.test], test_scores),
        ]
    )
    result = FoldResult(
        model=run.model_name,
        fold=fold.index,
        val=val,
        test=test,
        predictions=predictions,
        best_epoch=state.best_epoch,
        epochs=state.epoch,
        history=list(state.history),
        selection=run.optim.select if len(fold.val) else "last_epoch",
    )
    if env.rank == 0:
        primary = primary_metric(task.kind)
        log.info(
            "fold %d: best epoch %d, test %s %.4f",
            fold.index,
            state.best_epoch,
            primary,
            test[primary],
        )
    return FoldOutputs(result, emb.numpy(), state.best_state)
