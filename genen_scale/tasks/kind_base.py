"""What every task kind decides: the :class:`TaskKind` interface, with the defaults of
single-label classification (cross-entropy, softmax scores, logistic regression and
scikit-learn's MLP classifier as baselines) that the concrete kinds in
:mod:`genen_scale.tasks.kinds` override where they differ.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier


class TaskKind:
    """What a task's kind decides; one instance per kind (:data:`BY_NAME`)."""

    name: ClassVar[str]
    primary: ClassVar[str]
    """The headline metric, higher is better: ``auc`` or ``pearson``."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TaskKind | str):
            return self.name == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- targets -------------------------------------------------------------------
    def check_classes(self, task: str, classes: list[str]) -> None:
        """Raise ValueError when ``classes`` cannot be this kind's classes."""
        if len(classes) < 2:
            raise ValueError(
                f"task {task!r} is {self} but has classes {classes}; it needs at least 2"
            )

    def num_outputs(self, num_classes: int) -> int:
        """Width of the model's output layer."""
        return num_classes

    def check_labels(self, source: str, task: str, genes, labels, classes) -> None:
        """Raise ValueError for a label that is not a class index (classification)."""
        invalid = (labels != np.round(labels)) | (labels < 0) | (labels >= len(classes))
        if invalid.any():
            bad = genes[invalid][0]
            raise ValueError(
                f"{source}: task {task!r}: gene {bad!r} has a label that is not a class index "
                f"in [0, {len(classes)}) (classes: {list(classes)})"
            )

    def targets(self, source: str, task: str, genes, labels, nodes, num_classes: int):
        """``(nodes, y)`` from label rows: one row per gene, ``y`` typed for the kind.

        Raises:
            ValueError: A gene with several rows.
        """
        uniq, first, counts = np.unique(nodes, return_index=True, return_counts=True)
        if np.any(counts > 1):
            dup = genes[first[counts > 1][0]]
            raise ValueError(
                f"{source}: task {task!r} is {self} but gene {dup!r} has {counts.max()} label "
                "rows; a single-label task needs one row per gene (the ingest deduplicates them)"
            )
        return uniq, self._cast(labels[first])

    def _cast(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.int64)

    def class_counts(self, y: np.ndarray, classes: list[str]) -> dict[str, int]:
        """Labelled genes per class (multilabel: positives per label); empty for regression."""
        counts = np.bincount(y, minlength=len(classes))
        return {c: int(n) for c, n in zip(classes, counts, strict=True)}

    def stratify_key(self, y: np.ndarray, num_classes: int, n_bins: int) -> np.ndarray:
        """An int64 ``[n]`` stratum per gene for stratified splits (classification: the class)."""
        return y.astype(np.int64)

    # --- training ------------------------------------------------------------------
    def loss(self, logits, y):
        """Training loss of a batch.

        Shapes:
            logits: ``[b, num_outputs]`` (regression also accepts ``[b]``).
            y: ``[b]`` (binary, multiclass, regression) or ``[b, C]`` (multilabel).
            returns: scalar.
        """
        import torch.nn.functional as F

        return F.cross_entropy(logits, y.long())

    def scores(self, logits) -> np.ndarray:
        """Model outputs as the scores :meth:`evaluate` expects.

        Shapes:
            logits: ``[b, num_outputs]`` tensor or array.
            returns: binary ``[b]`` P(class 1); multiclass ``[b, C]`` softmax;
            multilabel ``[b, C]`` sigmoid; regression ``[b]`` the predicted value.
        """
        return self._scores(_as_float_tensor(logits))

    def _scores(self, t):
        import torch

        return torch.softmax(t, dim=-1).numpy()

    # --- metrics -------------------------------------------------------------------
    def evaluate(self, y_true, scores, threshold: float | None = None) -> dict[str, float]:
        """Metrics of one set of predictions (see each kind's :meth:`metrics`); binary F1
        and accuracy are read at ``threshold`` (None: 0.5, see :meth:`choose_threshold`).

        Shapes:
            y_true: ``[n]`` class index or value; multilabel ``[n, C]`` multi-hot.
            scores: binary ``[n]`` (or ``[n, 2]``); multiclass/multilabel ``[n, C]``;
            regression ``[n]``.
        """
        y = np.asarray(y_true)
        s = np.asarray(scores, dtype=np.float64)
        if len(y) != len(s):
            raise ValueError(f"{len(y)} targets but {len(s)} scores")
        return self.metrics(y, s, threshold)

    def metrics(
        self, y: np.ndarray, s: np.ndarray, threshold: float | None = None
    ) -> dict[str, float]:
        raise NotImplementedError

    # --- decisions -----------------------------------------------------------------
    def choose_threshold(self, y_true, scores) -> float | None:
        """The decision threshold to read F1 and accuracy at, chosen on ``(y_true,
        scores)`` (a validation split, or the training split where there is none); None
        where the kind has no threshold to choose (multiclass: arg-max; multilabel and
        regression: not calibrated)."""
        return None

    # --- text-only baselines (scikit-learn) ------------------------------------------
    linear_param: ClassVar[str] = "C"
    """The name of the linear baseline's penalty in result rows."""

    def linear_grid(self, config) -> tuple[float, ...]:
        """Penalties tried for the linear baseline (a ``BaselineConfig``)."""
        return config.logreg_c

    def linear(self, penalty: float, seed: int):
        """The linear baseline: logistic regression (ridge for regression)."""
        return LogisticRegression(C=penalty, max_iter=2000, random_state=seed)

    def mlp(self, **kwargs):
        """scikit-learn's MLP estimator for this kind."""
        return MLPClassifier(**kwargs)

    def mlp_fit_kwargs(self, num_outputs: int) -> dict:
        """``partial_fit`` arguments: every class, so that a batch missing one is fine."""
        return {"classes": np.arange(num_outputs)}

    def estimator_scores(self, model, x: np.ndarray, num_outputs: int) -> np.ndarray:
        """A fitted estimator's outputs in the layout of :meth:`scores`."""
        # Columns follow model.classes_; place them at their class index so a class the
        # training rows lacked gets probability 0 instead of shifting the others.
        full = np.zeros((len(x), num_outputs))
        full[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(x)
        return full

    def estimator_loss(self, model, x: np.ndarray, y: np.ndarray) -> float:
        """The training objective of a fitted estimator on ``(x, y)``."""
        p = np.clip(model.predict_proba(x), 1e-7, 1 - 1e-7)
        # predict_proba columns are classes 0..C-1: partial_fit was given every class.
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))


class SingleLabelClassification(TaskKind):
    """One class per gene (binary, multiclass)."""


def _as_float_tensor(logits):
    import torch

    return torch.as_tensor(logits).detach().float().cpu()
