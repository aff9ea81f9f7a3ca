"""Calibrated probabilities of a binary run: Platt scaling fitted on each fold's validation genes.

A GNN's softmax is not a probability one can read as such (``genen-report RUN_DIR``
draws its calibration curve: on the demo run it is far from the diagonal). Each fold's scores are mapped through a logistic
fit of its validation genes' labels on the logit of their scores (two parameters, so
the ~10% validation split suffices); the folds' calibrated probabilities are then
averaged like the scores. The validation genes also chose the fold's epoch, so the fit
is slightly optimistic; test genes are never used.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

log = logging.getLogger(__name__)

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def platt(scores: np.ndarray, labels: np.ndarray) -> LogisticRegression | None:
    """Platt's fit of 0/1 ``labels`` on ``logit(scores)``; None with one class only.

    With Platt's targets, ``(N+ + 1) / (N+ + 2)`` for positives and ``1 / (N- + 2)`` for
    negatives instead of 1 and 0 (each gene enters as a positive and a negative row
    weighted by its target): a validation split the model separates perfectly, common
    with ~50 genes, would otherwise drive the slope to infinity and every probability
    to 0 or 1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    pos = int(labels.sum())
    neg = len(labels) - pos
    if not pos or not neg:
        return None
    target = np.where(labels == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))
    x = _logit(scores)[:, None]
    # Nearly unpenalised: the fit has two parameters and the targets already bound it.
    fit = LogisticRegression(C=1e6, max_iter=1000)
    y = np.r_[np.ones(len(x)), np.zeros(len(x))]
    return fit.fit(np.r_[x, x], y, sample_weight=np.r_[target, 1 - target])


def calibrate(
    per_fold: np.ndarray, folds: list[int], predictions: pd.DataFrame, model: str
) -> np.ndarray | None:
    """Each fold's scores as calibrated probabilities, or None where some fold has no
    validation genes of both classes (the paper protocol has none at all).

    Args:
        per_fold: ``[K, num_genes]`` P(class 1) of each fold's model.
        folds: Fold index of each row of ``per_fold``.
        predictions: The run's ``predictions.parquet`` (its ``val`` rows are used).
        model: The GNN's name in ``predictions``.

    Shapes:
        returns ``[K, num_genes]``.
    """
    val = predictions[(predictions["model"] == model) & (predictions["split"] == "val")]
    out = []
    for k, scores in zip(folds, per_fold, strict=True):
        rows = val[val["fold"] == k]
        fit = platt(rows["score"].to_numpy(), rows["label"].to_numpy()) if len(rows) else None
        if fit is None:
            log.info("fold %d has no validation genes of both classes: no calibration", k)
            return None
        out.append(fit.predict_proba(_logit(scores)[:, None])[:, 1])
    return np.stack(out)
