"""Lean checkpoints and fold outputs: files a run writes and reads back, none that can run code.

A checkpoint holds only what continuing the current fold needs (torchtitan's rule):

* ``run_state.json``: format, the fold in progress, its
  :class:`~genen_scale.training.state.FoldState` counters and history, the finished
  folds — plain JSON;
* ``run_state.pt``: model, optimiser and best-so-far weights — tensors and plain
  containers only, read with ``torch.load(weights_only=True)``, which refuses any pickled
  object that is not one (a planted file cannot run code).

RNG state is not saved: every epoch's randomness is derived from (seed, fold, epoch,
rank), so the epoch count is the position.

A fold's outputs are written once, when it ends, into the run directory::

    folds/fold{k}.json               FoldResult without predictions (metrics, history)
    folds/predictions_fold{k}.parquet  its val/test predictions
    embeddings_fold{k}.npy           float32 [num_genes, hidden] of the kept model
    checkpoints/best_fold{k}.pt      the kept model's state_dict

The JSON file is written last and marks the fold finished; a resumed run reads the
finished folds from there instead of from the checkpoint.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from genen_core.files import atomic_path
from genen_scale.tasks.fold_result import FoldResult, Predictions
from genen_scale.training.evaluation import FoldOutputs
from genen_scale.training.inputs import TrainError
from genen_scale.training.state import FoldState, RunState

STATE_JSON = "run_state.json"
STATE_TENSORS = "run_state.pt"
FORMAT = 1


def _replace_atomic(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def save_state(directory: Path, state: RunState) -> None:
    """Write the checkpoint ``state`` into ``directory`` (see the module docstring); the
    best weights travel in the tensor file, the rest in the JSON file."""
    directory.mkdir(parents=True, exist_ok=True)
    states = state.fold_states if state.folds else []  # between folds nothing is in progress
    payload = {}
    if state.folds:
        payload = {"model": state.model, "optim": state.optim}
        if state.sched is not None:
            payload["sched"] = state.sched
        payload["best_states"] = [st.best_state for st in states]
    _replace_atomic(directory / STATE_TENSORS, lambda p: torch.save(payload, p))
    doc = {
        "format": FORMAT,
        "folds": list(state.folds),
        "stacked": state.stacked,
        "fold_states": [st.to_json() for st in states],
        "done": sorted(state.done),
    }
    _replace_atomic(directory / STATE_JSON, lambda p: p.write_text(json.dumps(doc)))


def load_state(directory: Path) -> RunState | None:
    """The checkpoint in ``directory`` (None if there is none).

    Raises:
        TrainError: The files are not a checkpoint this tool wrote (unknown format, or
            a ``.pt`` holding anything but tensors and plain containers).
    """
    meta_path, tensor_path = directory / STATE_JSON, directory / STATE_TENSORS
    if not meta_path.is_file() and not tensor_path.is_file():
        return None
    try:
        doc = json.loads(meta_path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT}")
        tensors = torch.load(tensor_path, weights_only=True, map_location="cpu")
        best = tensors.get("best_states", [None] * len(doc["folds"]))
        return RunState(
            done=doc["done"],
            folds=doc["folds"],
            fold_states=[
                FoldState.from_json(m, b) for m, b in zip(doc["fold_states"], best, strict=True)
            ],
            stacked=doc["stacked"],
            model=tensors.get("model"),
            optim=tensors.get("optim"),
            sched=tensors.get("sched"),
        )
    except pickle.UnpicklingError:
        # Not torch's advice to load it with weights_only=False: that would run its code.
        raise TrainError(
            f"checkpoint {directory} is not one this tool wrote and is not loaded: "
            f"{STATE_TENSORS} holds pickled objects other than tensors (code can hide "
            "there); remove it, or start a new run without --resume"
        ) from None
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise TrainError(
            f"checkpoint {directory} is not one this tool wrote and is not loaded "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
            "remove it, or start a new run without --resume"
        ) from None


def save_fold(run_dir: Path, out: FoldOutputs) -> None:
    """Write a finished fold's outputs (see the module docstring), the JSON last."""
    r = out.result
    folds, ckpts = run_dir / "folds", run_dir / "checkpoints"
    folds.mkdir(exist_ok=True)
    ckpts.mkdir(exist_ok=True)
    emb = out.embeddings.astype(np.float32)
    _replace_atomic(run_dir / f"embeddings_fold{r.fold}.npy", lambda p: _save_npy(p, emb))
    _replace_atomic(ckpts / f"best_fold{r.fold}.pt", lambda p: torch.save(out.best_state, p))
    table = r.predictions.table(r.model, r.fold)
    _replace_atomic(folds / f"predictions_fold{r.fold}.parquet", lambda p: pq.write_table(table, p))
    meta = json.dumps(r.meta(), indent=1)
    _replace_atomic(folds / f"fold{r.fold}.json", lambda p: p.write_text(meta))


def _save_npy(path: Path, a: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to a path
        np.save(f, a)


def load_fold(run_dir: Path, fold: int) -> FoldResult | None:
    """A finished fold's result, or None if the fold has not finished."""
    path = run_dir / "folds" / f"fold{fold}.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    table = pq.read_table(run_dir / "folds" / f"predictions_fold{fold}.parquet")
    return FoldResult.from_meta(meta, Predictions.from_table(table))


def initial_weights(run_dir: str | Path, fold: int) -> dict:
    """Fold ``fold``'s kept model of the finished run ``run_dir`` (``TrainConfig.init_from``).

    Raises:
        TrainError: The run has no such checkpoint, or it is not one this tool wrote.
    """
    path = Path(run_dir) / "checkpoints" / f"best_fold{fold}.pt"
    if not path.is_file():
        raise TrainError(
            f"init_from={run_dir}: no {path.name} (fold {fold} of that run has not finished, "
            "or it is not a genen-train run directory)"
        )
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:  # not torch's advice (weights_only=False runs its code)
        raise TrainError(
            f"{path} is not a checkpoint this tool wrote and is not loaded: it holds pickled "
            "objects other than tensors (code can hide there)"
        ) from None
    except (OSError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TrainError(
            f"{path} is not a checkpoint this tool wrote; not loaded ({first})"
        ) from None


def verify_checkpoints(run_dir: Path) -> None:
    """Load every checkpoint and finished fold of a run about to resume, on the driver, so
    that one this tool did not write, or a damaged one, fails in one line before any
    worker starts (workers load with ``weights_only=True`` again).

    Raises:
        TrainError: A checkpoint is not one this tool wrote, or a finished fold's files
            cannot be read.
    """
    dirs = {p.parent for p in run_dir.glob(f"**/{STATE_TENSORS}")}
    dirs |= {p.parent for p in run_dir.glob(f"**/{STATE_JSON}")}
    for d in sorted(dirs):
        load_state(d)
    for meta in sorted((run_dir / "folds").glob("fold*.json")):
        fold = meta.stem.removeprefix("fold")
        try:
            load_fold(run_dir, int(fold))
        except Exception as e:  # json, pyarrow and dataclass errors alike: not ours
            raise TrainError(
                f"finished fold {fold} of {run_dir} cannot be read ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''}); remove folds/fold{fold}.json "
                "to train that fold again, or start a new run without --resume"
            ) from None
