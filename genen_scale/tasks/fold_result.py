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

A GNN fold also carries its training log, one :class:`EpochRecord` per epoch: the
entries of ``<run_dir>/history.json`` (and of a sweep trial's copy of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

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


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of a GNN fold's training: an entry of ``history.json``.

    In JSON (:meth:`to_json`) the fields that are None are left out and ``val_metric`` is
    keyed ``val_<primary>`` (``val_auc``, ``val_pearson``), as runs have always written it.
    """

    epoch: int
    loss: float
    """Mean training loss over the epoch's batches (and ranks)."""
    seeds_per_s: float
    """Training seeds per second, all ranks together."""
    loading_share: float
    """Share of the epoch spent waiting for batches (sampling, loading)."""
    peak_mem_mb: float
    """Peak memory of the busiest rank."""
    epoch_s: float
    """Wall seconds of the epoch (of this fold's share, when folds train stacked)."""
    lr: float
    """The learning rate of the epoch (``optim.scheduler`` may lower it)."""
    stacked_folds: int | None = None
    """How many folds trained together in one stacked model; None: one fold alone."""
    primary: str | None = None
    """The name of the task's primary metric that ``val_metric`` holds (not a JSON key)."""
    val_metric: float | None = None
    """The validation primary metric; None without a validation split."""
    val_loss: float | None = None
    """The training objective on the validation genes; None without a validation split."""
    checkpoint_s: float | None = None
    """Seconds the epoch's checkpoint hook took (the cost ``scaling.checkpoint_every``
    trades off); None until the hook has run."""

    def to_json(self) -> dict[str, int | float]:
        """The ``history.json`` entry."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and f.name != "primary":
                out[f"val_{self.primary}" if f.name == "val_metric" else f.name] = value
        return out

    @classmethod
    def from_json(cls, entry: dict) -> EpochRecord:
        """An entry of ``history.json`` (:meth:`to_json`'s inverse).

        Raises:
            ValueError: ``entry`` has keys no :class:`EpochRecord` writes, or more than
                one ``val_<primary>``.
        """
        own = {f.name for f in fields(cls)} - {"primary", "val_metric"}
        metric = [k for k in entry if k.startswith("val_") and k != "val_loss"]
        unknown = set(entry) - own - set(metric)
        if unknown or len(metric) > 1:
            raise ValueError(f"not a history entry: keys {sorted(entry)}")
        kept = {k: v for k, v in entry.items() if k in own}
        if metric:
            kept.update(primary=metric[0].removeprefix("val_"), val_metric=entry[metric[0]])
        return cls(**kept)


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
    history: list[EpochRecord] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    selection: str | None = None

    def meta(self) -> dict:
        """Everything but the predictions, as JSON-ready data."""
        meta = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "predictions"}
        return meta | {"history": [e.to_json() for e in self.history]}

    @classmethod
    def from_meta(cls, meta: dict, predictions: Predictions) -> FoldResult:
        """The result :meth:`meta` describes, with its ``predictions``."""
        history = [EpochRecord.from_json(e) for e in meta.get("history", [])]
        return cls(**{**meta, "history": history}, predictions=predictions)


def predictions_table(results: list[FoldResult]) -> pa.Table:
    """All folds of all models as one table (``predictions.parquet``)."""
    return pa.concat_tables([r.predictions.table(r.model, r.fold) for r in results])
