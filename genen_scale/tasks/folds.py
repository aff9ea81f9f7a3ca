"""Evaluation splits of a task: our stratified K-fold protocol and the paper's random splits.

Each :class:`Fold` holds positions into ``task.nodes`` (not node ids); within a fold
``train``, ``val`` and ``test`` are disjoint and cover every labelled gene. Splits
depend only on the task and the seed.

* :func:`make_folds` (protocol ``cv``): stratified K-fold, the test folds partition the
  task, a validation split carved from each training fold is used for early stopping
  and model selection, and ``test`` is read once per fold, after selection.
* :func:`make_random_splits` (protocol ``paper``): what the published Genen code did,
  repeated random permutations with the last 20 % as test and no validation split (the
  model of the last epoch is tested), so test sets of different repeats overlap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from genen_scale.tasks.task import Task

log = logging.getLogger(__name__)


@dataclass
class Fold:
    """One cross-validation fold; arrays are sorted int64 positions into ``task.nodes``."""

    index: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def make_folds(task: Task, k: int = 5, seed: int = 0, val_fraction: float = 0.1) -> list[Fold]:
    """Stratified, shuffled, seeded K-fold splits of a task.

    Args:
        task: The task to split.
        k: Number of folds (at least 2).
        seed: Shuffling seed; equal seeds give equal folds.
        val_fraction: Share of each training fold held out as validation (0 for none).

    Returns:
        ``k`` folds whose test sets partition ``range(len(task))``.

    Raises:
        ValueError: ``k`` or ``val_fraction`` out of range, fewer genes than folds, or a
            class (multilabel: a label's positives) with fewer members than ``k``.
    """
    if k < 2:
        raise ValueError(f"k={k}: cross-validation needs at least 2 folds")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction} must lie in [0, 1)")
    if len(task) < k:
        raise ValueError(f"task {task.name!r} has {len(task)} labelled genes, fewer than k={k}")
    for cls, count in task.class_counts().items():
        if count < k:
            raise ValueError(
                f"task {task.name!r}: class {cls!r} has {count} labelled genes, fewer than "
                f"k={k} folds, so some test folds would lack it; use k <= {max(count, 2)} "
                "or drop the class"
            )
    # Twice as many quantile bins as folds keeps each bin several genes per fold.
    key = _merge_small_strata(task.stratify_key(n_bins=2 * k), k)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for i, (train, test) in enumerate(splitter.split(np.zeros(len(key)), key)):
        train, val = _carve_val(train, key, val_fraction, seed + i)
        folds.append(Fold(i, np.sort(train), np.sort(val), np.sort(test)))
    return folds


def _merge_small_strata(key: np.ndarray, k: int) -> np.ndarray:
    """Fold strata with fewer than ``k`` members into the largest one.

    Only derived keys (multilabel rarest-label, quantile bins) can be this small; real
    classes were checked before. StratifiedKFold would otherwise warn and spread them
    unevenly anyway.
    """
    values, counts = np.unique(key, return_counts=True)
    small = values[counts < k]
    if len(small) == 0:
        return key
    return np.where(np.isin(key, small), values[np.argmax(counts)], key)


def _carve_val(
    train: np.ndarray, key: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a training fold into (train, val), stratified when every stratum allows it."""
    if val_fraction == 0.0:
        return train, np.empty(0, dtype=np.int64)
    strata, counts = np.unique(key[train], return_counts=True)
    n_val = int(np.ceil(val_fraction * len(train)))
    stratify = key[train]
    if counts.min() < 2 or n_val < len(strata) or len(train) - n_val < len(strata):
        # train_test_split cannot stratify then; a plain shuffled split is the best left.
        log.warning(
            "validation split of %d genes cannot be stratified over %d strata; split unstratified",
            n_val,
            len(strata),
        )
        stratify = None
    tr, va = train_test_split(train, test_size=n_val, stratify=stratify, random_state=seed)
    return np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)


def make_random_splits(
    task: Task, repeats: int = 5, test_fraction: float = 0.2, seed: int = 0
) -> list[Fold]:
    """The paper's protocol: ``repeats`` independent random train/test splits, no validation.

    Like the authors' code the split is unstratified (a shuffled permutation, the first
    ``int(0.8 n)`` genes train); unlike it, each repeat is seeded (from ``seed`` and the
    repeat index), so equal seeds give equal splits.

    Raises:
        ValueError: ``test_fraction`` out of (0, 1) or a split that would leave train or
            test empty.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} must lie in (0, 1)")
    n = len(task)
    n_train = int(n * (1.0 - test_fraction))
    if n_train < 1 or n_train >= n:
        raise ValueError(
            f"task {task.name!r} has {n} labelled genes: a {test_fraction:.0%} test split "
            "leaves train or test empty"
        )
    folds = []
    for r in range(repeats):
        perm = np.random.default_rng([seed, r, 0x7061706572]).permutation(n)  # "paper"
        folds.append(
            Fold(r, np.sort(perm[:n_train]), np.empty(0, np.int64), np.sort(perm[n_train:]))
        )
    return folds


def with_validation(task: Task, folds: list[Fold], val_fraction: float, seed: int) -> list[Fold]:
    """``folds`` with a validation split carved from each one's training genes.

    For models that select hyperparameters on validation (the text-only baselines) on
    splits that come without one (protocol ``paper``); test genes are left as they are.
    """
    key = _merge_small_strata(task.stratify_key(n_bins=2 * len(folds)), len(folds))
    out = []
    for f in folds:
        train, val = _carve_val(f.train, key, val_fraction, seed + f.index)
        out.append(Fold(f.index, np.sort(train), np.sort(val), f.test))
    return out
