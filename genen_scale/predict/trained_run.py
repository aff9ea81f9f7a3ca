"""A finished training run read back: its config, its store and the kept model of each fold.

Everything comes from the run directory that ``genen-train`` wrote
(:mod:`genen_scale.training.results`): ``run.json`` says this tool wrote it,
``config.yaml`` is the resolved :class:`~genen_scale.training.config.TrainConfig`,
``provenance.json`` names the store's absolute path, and each finished GNN fold left
``folds/fold{k}.json`` and ``checkpoints/best_fold{k}.pt`` (a ``state_dict``, loaded with
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from genen_core.config import ConfigError, from_mapping
from genen_core.store import GraphStore, StoreError, not_a_store_reason
from genen_scale.training.config import TrainConfig
from genen_scale.training.results import RUN_MANIFEST, TOOL

log = logging.getLogger(__name__)


class PredictError(ValueError):
    """A run directory (or gene) that predictions cannot be made from; the message says why."""


@dataclass
class FoldModel:
    """The kept model of one GNN fold and what its fold result recorded beside it."""

    fold: int
    checkpoint: Path
    embeddings: Path
    meta: dict
    """``folds/fold{k}.json``: metrics, best epoch and any per-fold value model
    selection recorded (such as a decision threshold)."""


@dataclass
class TrainedRun:
    """A run directory of ``genen-train`` with at least one finished GNN fold.

    Attributes:
        path: The run directory.
        cfg: Its resolved training config.
        store: The store it trained on.
        folds: The finished GNN folds, by fold index.
    """

    path: Path
    cfg: TrainConfig
    store: GraphStore
    folds: list[FoldModel]

    @classmethod
    def open(cls, run_dir: str | Path, store: str | None = None) -> TrainedRun:
        """Read a run directory; ``store`` overrides the store it recorded (moved stores).

        Raises:
            PredictError: Not a run directory of ``genen-train``, its store is gone, or no
                GNN fold finished.
        """
        path = Path(run_dir)
        try:
            manifest = json.loads((path / RUN_MANIFEST).read_text())
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or manifest.get("tool") != TOOL:
            raise PredictError(
                f"{path} is not a run directory of genen-train (no {RUN_MANIFEST} of {TOOL}); "
                "give the directory that training printed after 'results:'"
            )
        try:
            cfg = from_mapping(TrainConfig, yaml.safe_load((path / "config.yaml").read_text()))
        except (OSError, yaml.YAMLError, ConfigError) as e:
            raise PredictError(f"{path / 'config.yaml'}: cannot be read back ({e})") from None
        store_path = store or _recorded_store(path, cfg)
        reason = not_a_store_reason(store_path)
        if reason:
            raise PredictError(
                f"{path} was trained on the store {store_path}, which cannot be opened "
                f"({reason}); pass --store PATH if it moved"
            )
        try:
            opened = GraphStore.open(store_path)
        except StoreError as e:
            raise PredictError(str(e)) from None
        folds = finished_folds(path, cfg.model.arch)
        if not folds:
            raise PredictError(
                f"{path} holds no finished {cfg.model.arch} fold (folds/fold*.json with "
                "checkpoints/best_fold*.pt); resume the run with genen-train --resume"
            )
        return cls(path, cfg, opened, folds)


def _recorded_store(path: Path, cfg: TrainConfig) -> str:
    # provenance.json holds the resolved absolute path; config.yaml the path as given,
    # which may be relative to wherever training ran.
    try:
        return json.loads((path / "provenance.json").read_text())["store"]
    except (OSError, ValueError, KeyError, TypeError):
        return str(cfg.data.store)


def finished_folds(path: Path, arch: str) -> list[FoldModel]:
    """The GNN folds of ``path`` whose result, checkpoint and embeddings were all written."""
    out = []
    for meta_file in sorted((path / "folds").glob("fold*.json")):
        meta = json.loads(meta_file.read_text())
        k = int(meta["fold"])
        ckpt, emb = path / "checkpoints" / f"best_fold{k}.pt", path / f"embeddings_fold{k}.npy"
        if meta.get("model") == arch and ckpt.is_file() and emb.is_file():
            out.append(FoldModel(k, ckpt, emb, meta))
    return sorted(out, key=lambda f: f.fold)
