"""Task kinds as objects: each owns its targets, loss, scores, metrics, strata and baseline.

==============  =========================  ============  ==============================
kind            ``y``                      outputs       loss / scores
==============  =========================  ============  ==============================
``binary``      int64 ``[n]`` in {0, 1}    2 logits      cross-entropy / P(class 1) [n]
``multiclass``  int64 ``[n]`` in [0, C)    C logits      cross-entropy / softmax [n, C]
``multilabel``  float32 multi-hot [n, C]   C logits      BCE-with-logits / sigmoid [n, C]
``regression``  float32 ``[n]``            1 output      MSE / the value [n]
==============  =========================  ============  ==============================

Binary tasks use two logits and cross-entropy, like multiclass ones, because the paper
trains every classification task with cross-entropy and a single code path is simpler to
keep correct. Callers hold a :class:`TaskKind` (``task.kind``) and call its methods; they
never branch on its name. The name (:attr:`TaskKind.name`, also ``str(kind)``) is what
label files, manifests and result tables store, and a kind compares equal to it, so
``task.kind == "binary"`` reads as it always did. :func:`task_kind` turns a name into the
kind. A metric that is undefined on a split (a class absent from it, a constant target)
is NaN with a :class:`MetricWarning`, never an exception, so one degenerate fold does
not end a sweep.

The interface and its defaults (those of single-label classification) are in
:mod:`genen_scale.tasks.kind_base`; this module holds the four kinds and their registry.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neural_network import MLPRegressor

from genen_core.known_labels import KINDS
from genen_scale.tasks.kind_base import SingleLabelClassification, TaskKind  # re-exported
from genen_scale.tasks.metric_primitives import (  # MetricWarning: re-exported for callers
    MetricWarning,
    best_f1_threshold,
    correlation,
    macro_f1,
    roc_auc,
)


class Binary(SingleLabelClassification):
    name = "binary"
    primary = "auc"

    def check_classes(self, task: str, classes: list[str]) -> None:
        if len(classes) != 2:
            raise ValueError(
                f"task {task!r} is binary but has classes {classes}; it needs exactly 2"
            )

    def num_outputs(self, num_classes: int) -> int:
        return 2

    def _scores(self, t):
        import torch

        return torch.softmax(t, dim=-1)[:, 1].numpy()

    def metrics(
        self, y: np.ndarray, s: np.ndarray, threshold: float | None = None
    ) -> dict[str, float]:
        """``auc`` (ROC); ``f1`` (macro) and ``accuracy`` at ``threshold`` (None: 0.5),
        ``f1_05`` at 0.5 whatever the threshold, and ``threshold`` itself."""
        if s.ndim == 2:
            s = s[:, 1]
        y = y.astype(np.int64)
        t = 0.5 if threshold is None else float(threshold)
        pred = (s >= t).astype(np.int64)
        return {
            "auc": roc_auc(y, s, "binary"),
            "f1": macro_f1(y, pred),
            "accuracy": float(accuracy_score(y, pred)),
            "f1_05": macro_f1(y, (s >= 0.5).astype(np.int64)),
            "threshold": t,
        }

    def choose_threshold(self, y_true, scores) -> float | None:
        """The threshold of the highest macro F1 (:func:`best_f1_threshold`)."""
        s = np.asarray(scores, dtype=np.float64)
        return best_f1_threshold(np.asarray(y_true), s[:, 1] if s.ndim == 2 else s)

    def estimator_scores(self, model, x: np.ndarray, num_outputs: int) -> np.ndarray:
        return super().estimator_scores(model, x, num_outputs)[:, 1]


class Multiclass(SingleLabelClassification):
    name = "multiclass"
    primary = "auc"

    def metrics(
        self, y: np.ndarray, s: np.ndarray, threshold: float | None = None
    ) -> dict[str, float]:
        """``auc`` (macro one-vs-rest), ``f1`` (macro, arg-max), ``accuracy``."""
        y = y.astype(np.int64)
        num_classes = s.shape[1]
        aucs = [roc_auc(y == c, s[:, c], f"class {c}") for c in range(num_classes)]
        # Macro one-vs-rest AUC is the mean of per-class AUCs, as sklearn's
        # roc_auc_score(multi_class="ovr"); computed per class so an absent class yields
        # NaN (with a warning) instead of an exception.
        pred = s.argmax(axis=1)
        labels = list(range(num_classes))
        return {
            "auc": float(np.mean(aucs)),
            "f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(y, pred)),
        }


class Multilabel(TaskKind):
    """Several classes per gene (TF target type); one label row per (gene, class)."""

    name = "multilabel"
    primary = "auc"

    def targets(self, source: str, task: str, genes, labels, nodes, num_classes: int):
        uniq, inverse = np.unique(nodes, return_inverse=True)
        y = np.zeros((len(uniq), num_classes), dtype=np.float32)
        y[inverse, labels.astype(np.int64)] = 1.0
        return uniq, y

    def class_counts(self, y: np.ndarray, classes: list[str]) -> dict[str, int]:
        counts = y.sum(axis=0)
        return {c: int(n) for c, n in zip(classes, counts, strict=True)}

    def stratify_key(self, y: np.ndarray, num_classes: int, n_bins: int) -> np.ndarray:
        """The gene's rarest positive label (genes without one get stratum ``C``): rare
        labels are the ones a split can lose entirely, and sklearn has no multilabel
        stratifier, so this simple key keeps every label's positives spread over the
        folds as far as its own genes allow."""
        # Labels rarest first; a gene's key is the first of its labels in that order.
        order = np.argsort(y.sum(axis=0), kind="stable")
        has_label = y[:, order] > 0
        key = np.where(has_label.any(axis=1), order[has_label.argmax(axis=1)], num_classes)
        return key.astype(np.int64)

    def loss(self, logits, y):
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))

    def _scores(self, t):
        import torch

        return torch.sigmoid(t).numpy()

    def metrics(
        self, y: np.ndarray, s: np.ndarray, threshold: float | None = None
    ) -> dict[str, float]:
        """``auc`` (macro over labels with both classes present), ``f1`` (macro,
        threshold 0.5), ``accuracy`` (subset accuracy: every label right)."""
        y = (y > 0).astype(np.int64)
        pred = (s >= 0.5).astype(np.int64)
        with warnings.catch_warnings():
            # Labels without positives are skipped below, not reported one by one.
            warnings.simplefilter("ignore", MetricWarning)
            aucs = np.array([roc_auc(y[:, c], s[:, c], f"label {c}") for c in range(y.shape[1])])
        defined = ~np.isnan(aucs)
        if not defined.all():
            warnings.warn(
                f"multilabel AUC: labels {np.flatnonzero(~defined).tolist()} have one class "
                f"only in this split and are left out of the macro average",
                MetricWarning,
                stacklevel=4,
            )
        auc = float(aucs[defined].mean()) if defined.any() else float("nan")
        return {
            "auc": auc,
            "f1": float(f1_score(y, pred, average="macro", zero_division=0)),
            "accuracy": float(accuracy_score(y, pred)),
        }

    def linear(self, penalty: float, seed: int):
        return OneVsRestClassifier(super().linear(penalty, seed))

    def estimator_scores(self, model, x: np.ndarray, num_outputs: int) -> np.ndarray:
        return model.predict_proba(x)

    def estimator_loss(self, model, x: np.ndarray, y: np.ndarray) -> float:
        p = np.clip(model.predict_proba(x), 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class Regression(TaskKind):
    name = "regression"
    primary = "pearson"
    linear_param = "alpha"

    def num_outputs(self, num_classes: int) -> int:
        return 1

    def check_classes(self, task: str, classes: list[str]) -> None:
        pass  # no classes

    def check_labels(self, source: str, task: str, genes, labels, classes) -> None:
        pass  # any finite number is a target

    def _cast(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32)

    def class_counts(self, y: np.ndarray, classes: list[str]) -> dict[str, int]:
        return {}

    def stratify_key(self, y: np.ndarray, num_classes: int, n_bins: int) -> np.ndarray:
        """The quantile bin of the target (``n_bins`` bins, fewer if values tie)."""
        bins = pd.qcut(y, q=n_bins, labels=False, duplicates="drop")
        return np.asarray(bins, dtype=np.int64)

    def loss(self, logits, y):
        import torch.nn.functional as F

        return F.mse_loss(logits.reshape(-1), y.to(logits.dtype).reshape(-1))

    def _scores(self, t):
        return t.reshape(-1).numpy()

    def metrics(
        self, y: np.ndarray, s: np.ndarray, threshold: float | None = None
    ) -> dict[str, float]:
        """``pearson``, ``spearman``, ``mse``."""
        y = y.astype(np.float64)
        return {
            "pearson": correlation(stats.pearsonr, y, s),
            "spearman": correlation(stats.spearmanr, y, s),
            "mse": float(mean_squared_error(y, s)),
        }

    def linear_grid(self, config) -> tuple[float, ...]:
        return config.ridge_alpha

    def linear(self, penalty: float, seed: int):
        return Ridge(alpha=penalty)

    def mlp(self, **kwargs):
        return MLPRegressor(**kwargs)

    def mlp_fit_kwargs(self, num_outputs: int) -> dict:
        return {}

    def estimator_scores(self, model, x: np.ndarray, num_outputs: int) -> np.ndarray:
        return model.predict(x).astype(np.float64)

    def estimator_loss(self, model, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean((model.predict(x) - y) ** 2))


BY_NAME: dict[str, TaskKind] = {
    k.name: k for k in (Binary(), Multiclass(), Multilabel(), Regression())
}
assert tuple(BY_NAME) == KINDS, "genen_core.known_labels.KINDS and the kind classes must agree"


def task_kind(kind: str | TaskKind) -> TaskKind:
    """The kind named ``kind`` (a kind passes through).

    Raises:
        ValueError: No such kind; the message lists them.
    """
    if isinstance(kind, TaskKind):
        return kind
    if kind not in BY_NAME:
        raise ValueError(f"unknown task kind {kind!r}; use one of {sorted(BY_NAME)}")
    return BY_NAME[kind]
