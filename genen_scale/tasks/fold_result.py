"""What one fold of one model produced: metrics and per-gene predictions, typed.

GNN folds and text-only baselines both return a :class:`FoldResult`; a run writes all of
them into ``<run_dir>/predictions.parquet`` (:func:`predictions_table`), from which
metrics of any grouping (masked/unmasked, study groups) can be recomputed without
retraining. Columns:

``model`` (str), ``fold`` (int), ``split`` (``val`` / ``test``), ``node`` (store node
id), ``label`` and ``score``, laid out by task kind as :meth:`genen_scale.tasks.task.Task.scores`
returns them:

=============  ==========================  ===========================================
kind           label                       score
=============  ==========================  ===========================================
binary         int (0/1)                   float: P(class 1)
multiclass     int (class index)           list<float>: probability per class
multilabel     list<float> (0/1 per label) list<float>: probability per label
regression     float                       float: the prediction
=============  ==========================  ===========================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

SPLITS = ("val", "test")


@dataclass
class Predictions:
    """Scores of the genes of one or more splits.

    Shapes:
        split, node: ``[n]``; label: ``[n]`` or ``[n, C]``; score: ``[n]`` or ``[n, C]``.
    """

    split: np.ndarray
    node: np.ndarray
    label: np.ndarray
    score: np.ndarray

    @classmethod
    def of(cls, split: str, node: np.ndarray, label: np.ndarray, score: np.ndarray):
        return cls(np.full(len(node), split), np.asarray(node, np.int64), label, score)

    @classmethod
    def concat(cls, parts: list[Predictions]) -> Predictions:
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__)
        )

    def table(self, model: str, fold: int) -> pa.Table:
        """The rows of ``predictions.parquet`` (see the module docstring)."""
        n = len(self.node)
        return pa.table(
            {
                "model": pa.array([model] * n, pa.string()),
                "fold": pa.array(np.full(n, fold, np.int64)),
                "split": pa.array(self.split.astype(str), pa.string()),
                "node": pa.array(self.node),
                "label": _column(self.label),
                "score": _column(self.score),
            }
        )

    @classmethod
    def from_table(cls, table: pa.Table) -> Predictions:
        def col(name):
            c = table.column(name)
            if pa.types.is_list(c.type):
                return np.array(c.to_pylist())
            return c.to_numpy()

        return cls(col("split"), col("node"), col("label"), col("score"))


def _column(a: np.ndarray) -> pa.Array:
    # One type per kind whoever produced it (float32 logits, float64 sklearn scores).
    a = np.asarray(a)
    a = a.astype(np.int64 if np.issubdtype(a.dtype, np.integer) else np.float64)
    if a.ndim == 1:
        return pa.array(a)
    return pa.array(list(a), pa.list_(pa.from_numpy_dtype(a.dtype)))  # one list per gene


@dataclass
class FoldResult:
    """One fold of one model.

    Attributes:
        model: ``gcn`` / ``gat`` or the baseline's name.
        fold: Fold index.
        val: Validation metrics of the kept model (empty under the paper protocol, which
            has no validation split).
        test: Test metrics (with per-study-group primary metrics).
        predictions: Validation and test scores per gene.
        best_epoch: Epoch of the kept GNN model (None for baselines).
        epochs: Epochs trained (None for baselines).
        history: The GNN's per-epoch log (loss, validation metric, throughput).
        params: Hyperparameters a baseline selected on validation.
        selection: How the kept GNN model was chosen: ``val_loss`` / ``val_metric``
            (``optim.select``), or ``last_epoch`` without a validation split; None for
            baselines (``params`` says what they selected).
    """

    model: str
    fold: int
    val: dict[str, float]
    test: dict[str, float]
    predictions: Predictions
    best_epoch: int | None = None
    epochs: int | None = None
    history: list[dict] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    selection: str | None = None

    def meta(self) -> dict:
        """Everything but the predictions, as JSON-ready data."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "predictions"}


def predictions_table(results: list[FoldResult]) -> pa.Table:
    """All folds of all models as one table (``predictions.parquet``)."""
    return pa.concat_tables([r.predictions.table(r.model, r.fold) for r in results])
