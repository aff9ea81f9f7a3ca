"""Text-only baselines: the paper's linear/logistic regression and an MLP on node features.

They run in the same harness as the GNNs: the same :class:`~genen_scale.tasks.task.Task`,
the same :class:`~genen_scale.tasks.folds.Fold` splits and the same metrics, so a table can
set them side by side. Per fold, with no leakage:

* features are standardised with statistics of the training rows only;
* each candidate model is fitted on the training rows only;
* the candidate with the best validation score (the kind's primary metric) is kept;
* binary F1 and accuracy are read at the threshold of the best validation F1 (training F1
  where there is no validation split), as for the GNN;
* the kept model predicts the test rows once, and only those metrics are reported.

``logreg`` is :class:`~sklearn.linear_model.LogisticRegression` (multinomial for
multiclass tasks, one-vs-rest for multilabel ones) with ``C`` chosen on validation; on a
regression task it means ridge regression with ``alpha`` chosen on validation, the linear
model the paper uses there. ``mlp`` is scikit-learn's MLP with hidden size and weight
decay chosen on validation, trained epoch by epoch and stopped early on the validation
score (scikit-learn's own ``early_stopping`` would carve its validation rows out of our
training rows instead).
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from genen_scale.tasks.fold_result import FoldResult, Predictions
from genen_scale.tasks.folds import Fold
from genen_scale.tasks.metrics import choose_threshold, evaluate_with_groups
from genen_scale.tasks.task import Task

log = logging.getLogger(__name__)


@dataclass
class BaselineConfig:
    """Candidate hyperparameters (chosen per fold on validation) and MLP training limits."""

    logreg_c: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    """Inverse L2 strengths tried for logistic regression."""
    ridge_alpha: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    """L2 strengths tried for ridge regression (``logreg`` on regression tasks)."""
    mlp_hidden: tuple[int, ...] = (64, 256)
    """Hidden layer sizes tried for the one-hidden-layer MLP."""
    mlp_alpha: tuple[float, ...] = (1e-4, 1e-2)
    """Weight decays tried for the MLP."""
    mlp_max_epochs: int = 200
    """Upper bound on MLP epochs."""
    mlp_patience: int = 10
    """Epochs without validation-loss progress before the MLP stops."""
    mlp_tol: float = 1e-4
    """A smaller drop of the validation loss does not count as progress (sklearn's ``tol``)."""
    mlp_batch: int | None = None
    """Mini-batch size; None: a twentieth of the training rows, clipped to [32, 256], so
    that small tasks still get several updates per epoch and large ones stay fast."""

    def __post_init__(self) -> None:
        for name in ("logreg_c", "ridge_alpha", "mlp_hidden", "mlp_alpha"):
            values = getattr(self, name)
            if not values or min(values) <= 0:
                raise ValueError(f"baselines.{name}={values!r}: need at least one value, all > 0")
        for name in ("mlp_max_epochs", "mlp_patience", "mlp_batch"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"baselines.{name}={getattr(self, name)} must be >= 1")


Split = tuple[np.ndarray, np.ndarray]  # (features, targets)


def run_baseline(
    name: Literal["logreg", "mlp"],
    task: Task,
    features: np.ndarray,
    folds: list[Fold],
    seed: int = 0,
    config: BaselineConfig | None = None,
    groups: np.ndarray | None = None,
) -> list[dict]:
    """Per-fold test metrics of a text-only baseline.

    Args:
        name: ``logreg`` (ridge on regression tasks) or ``mlp``.
        task: The task; ``task.nodes`` index the rows of ``features``.
        features: Node feature matrix (a memory map is fine: only the task's rows are read).
        folds: Splits from :func:`genen_scale.tasks.folds.make_folds`.
        seed: Seed of the models' initialisation and batch order.
        config: Hyperparameter grids and MLP limits; defaults to :class:`BaselineConfig`.
        groups: Optional group of each of ``task``'s genes (e.g. study groups); adds the
            primary metric per group (:func:`genen_scale.tasks.metrics.evaluate_with_groups`).

    Returns:
        One :class:`~genen_scale.tasks.fold_result.FoldResult` per fold: test metrics (with
        per-group primary metrics), the selected model's validation metrics and the
        val/test predictions. A fold without validation genes (the paper's protocol)
        fits the library-default penalty (``C = 1``, ``alpha = 1``; MLP: the first grid
        values for ``mlp_max_epochs`` epochs) since nothing can select one.

    Shapes:
        features: ``[num_nodes, dim]``.
    """
    if name not in _SELECTORS:
        raise ValueError(f"unknown baseline {name!r}; choose one of {sorted(_SELECTORS)}")
    select = _SELECTORS[name]
    config = config or BaselineConfig()
    x = np.asarray(features[task.nodes], dtype=np.float32)
    primary = task.kind.primary
    results = []
    for fold in tqdm(folds, desc=f"{name} on {task.name}", unit="fold", leave=False):
        scaler = StandardScaler().fit(x[fold.train])
        train = (scaler.transform(x[fold.train]), task.y[fold.train])
        if len(fold.val):
            val = (scaler.transform(x[fold.val]), task.y[fold.val])
            model, _, params = select(task, train, val, seed, config)
        else:
            model, params = _fit_default(name, task, train, seed, config)
        test_scores = _scores(task, model, scaler.transform(x[fold.test]))
        scores = {
            # No validation split (the paper's protocol): no rows, in the test scores' layout.
            "val": _scores(task, model, scaler.transform(x[fold.val]))
            if len(fold.val)
            else test_scores[:0],
            "test": test_scores,
        }
        # Test labels never choose the threshold: validation does (training without one).
        calib = (
            (fold.val, scores["val"])
            if len(fold.val)
            else (fold.train, _scores(task, model, train[0]))
        )
        threshold = choose_threshold(task.kind, task.y[calib[0]], calib[1])
        test = evaluate_with_groups(
            task.kind,
            task.y[fold.test],
            scores["test"],
            None if groups is None else groups[fold.test],
            threshold,
        )
        val_metrics = (
            task.kind.evaluate(task.y[fold.val], scores["val"], threshold) if len(fold.val) else {}
        )
        log.info(
            "%s on %s fold %d: %s (val %s %.3f), test %s %.3f",
            name,
            task.name,
            fold.index,
            params,
            primary,
            val_metrics.get(primary, float("nan")),
            primary,
            test[primary],
        )
        predictions = Predictions.concat(
            [
                Predictions.of(split, task.nodes[idx], task.y[idx], scores[split])
                for split, idx in (("val", fold.val), ("test", fold.test))
            ]
        )
        results.append(FoldResult(name, fold.index, val_metrics, test, predictions, params=params))
    return results


def _fit_default(name: str, task: Task, train: Split, seed: int, config: BaselineConfig):
    """The model fitted without a validation split: library-default penalties."""
    if name == "mlp":
        hidden, alpha = config.mlp_hidden[0], config.mlp_alpha[0]
        model = task.kind.mlp(
            hidden_layer_sizes=(hidden,),
            alpha=alpha,
            max_iter=config.mlp_max_epochs,
            random_state=seed,
        )
        params = {"hidden": hidden, "alpha": alpha, "epochs": config.mlp_max_epochs}
    else:
        model, params = task.kind.linear(1.0, seed), {task.kind.linear_param: 1.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*train)
    return model, params


def _scores(task: Task, model, x: np.ndarray) -> np.ndarray:
    """Model outputs in the layout of :meth:`Task.scores`."""
    return task.kind.estimator_scores(model, x, task.num_outputs)


def _val_score(task: Task, model, val: Split) -> float:
    with warnings.catch_warnings():
        # A degenerate validation split scores NaN; selection treats it as worst.
        warnings.simplefilter("ignore")
        score = task.kind.evaluate(val[1], _scores(task, model, val[0]))[task.kind.primary]
    return -np.inf if np.isnan(score) else score


def _select_linear(task: Task, train: Split, val: Split, seed: int, config: BaselineConfig):
    """Logistic regression (ridge for regression) with the penalty chosen on validation."""
    kind = task.kind
    candidates = [({kind.linear_param: p}, kind.linear(p, seed)) for p in kind.linear_grid(config)]
    best = (None, -np.inf, None)
    for params, model in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(*train)
        score = _val_score(task, model, val)
        if best[0] is None or score > best[1]:
            best = (model, score, params)
    return best


def _select_mlp(task: Task, train: Split, val: Split, seed: int, config: BaselineConfig):
    """An MLP per (hidden size, weight decay), each stopped early on validation."""
    best = (None, -np.inf, None)
    for hidden in config.mlp_hidden:
        for alpha in config.mlp_alpha:
            model, score, epoch = _fit_mlp_early_stopped(
                task, train, val, hidden, alpha, seed, config
            )
            if best[0] is None or score > best[1]:
                best = (model, score, {"hidden": hidden, "alpha": alpha, "epochs": epoch})
    return best


def _fit_mlp_early_stopped(
    task: Task,
    train: Split,
    val: Split,
    hidden: int,
    alpha: float,
    seed: int,
    config: BaselineConfig,
):
    """Train one epoch at a time; keep the epoch with the lowest validation loss.

    Early stopping follows the loss rather than the primary metric because AUC saturates
    (ties at 1.0 on easy tasks) long before the probabilities are calibrated.
    """
    batch = config.mlp_batch or int(np.clip(len(train[0]) // 20, 32, 256))
    model = task.kind.mlp(
        hidden_layer_sizes=(hidden,), alpha=alpha, batch_size=batch, random_state=seed
    )
    fit_kwargs = task.kind.mlp_fit_kwargs(task.num_outputs)
    best_model, best_loss, best_epoch = None, np.inf, 0
    for epoch in range(1, config.mlp_max_epochs + 1):
        model.partial_fit(*train, **fit_kwargs)
        loss = task.kind.estimator_loss(model, *val)
        if best_model is None or loss < best_loss - config.mlp_tol:
            best_model, best_loss, best_epoch = copy.deepcopy(model), loss, epoch
        elif epoch - best_epoch >= config.mlp_patience:
            break
    return best_model, _val_score(task, best_model, val), best_epoch


# The two names of the public API; each maps to its model-selection routine.
_SELECTORS: dict[str, Callable] = {"logreg": _select_linear, "mlp": _select_mlp}
