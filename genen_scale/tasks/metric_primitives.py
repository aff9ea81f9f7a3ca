"""Metrics on arrays that are undefined on some splits, and the F1-optimal threshold.

A metric that is undefined (a class absent from a split, a constant target) is NaN with
a :class:`MetricWarning`, never an exception, so one degenerate fold does not end a
sweep; the task kinds (:mod:`genen_scale.tasks.kinds`) compose these.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score


class MetricWarning(UserWarning):
    """A metric is undefined on this data and was reported as NaN."""


def roc_auc(y: np.ndarray, s: np.ndarray, what: str) -> float:
    """ROC-AUC, or NaN with a :class:`MetricWarning` when ``y`` holds one class only."""
    if len(np.unique(y)) < 2:
        warnings.warn(
            f"ROC-AUC of {what} is undefined: only one class among {len(y)} targets; "
            "reported as NaN",
            MetricWarning,
            stacklevel=4,
        )
        return float("nan")
    return float(roc_auc_score(y, s))


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    """Macro F1 of binary predictions (0 for a class never predicted nor present)."""
    return float(f1_score(y, pred, labels=[0, 1], average="macro", zero_division=0))


def correlation(fn, y: np.ndarray, s: np.ndarray) -> float:
    """``fn`` (Pearson or Spearman) of ``y`` and ``s``, NaN for a constant side."""
    if len(y) < 2 or np.ptp(y) == 0 or np.ptp(s) == 0:
        warnings.warn(
            f"{fn.__name__} is undefined for a constant target or prediction; reported as NaN",
            MetricWarning,
            stacklevel=4,
        )
        return float("nan")
    return float(fn(y, s)[0])


def best_f1_threshold(y: np.ndarray, s: np.ndarray) -> float | None:
    """The threshold of the highest macro F1 of ``s >= t`` against binary ``y``.

    Candidates are the midpoints between consecutive distinct scores (and one below and
    above them all); ties go to the candidate nearest 0.5, so a split that cannot tell
    thresholds apart keeps the uncalibrated one. None with fewer than two classes (then
    F1 is read at 0.5).

    Shapes:
        y, s: ``[n]``.
    """
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(s, dtype=np.float64)
    if len(np.unique(y)) < 2:
        return None
    u = np.unique(s)
    cands = np.concatenate([[u[0] - 1e-6], (u[:-1] + u[1:]) / 2, [u[-1] + 1e-6]])
    f1 = np.array([macro_f1(y, (s >= t).astype(np.int64)) for t in cands])
    best = np.flatnonzero(f1 == f1.max())
    return float(cands[best[np.argmin(np.abs(cands[best] - 0.5))]])
