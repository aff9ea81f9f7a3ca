"""The results directory of a run and the summary table.

Layout of ``<output_dir>/<run name>/``::

    run.json                  this tool's manifest: config hash, creation time (--resume
                              continues only directories that have it)
    config.yaml               the resolved TrainConfig
    provenance.json           git revision, store path and manifest, feature sidecar,
                              library versions, host, date
    metrics.parquet|.json     one row per (model, fold): the GNN and each baseline, test
                              metrics plus ``val_<primary>`` and the GNN's best epoch
    predictions.parquet       val/test predictions of every (model, fold), see
                              genen_scale.tasks.fold_result
    history.json              per fold, the GNN's per-epoch log (loss, val metric, seeds/s)
    embeddings_fold{k}.npy    float32 [num_genes, hidden]: fold k's best model's last hidden
                              layer for every gene, row i = node i
    embeddings.npy            the same, of the fold with the best validation metric
    checkpoints/best_fold{k}.pt  best model state_dict of fold k
    folds/                    per GNN fold, written when it ends: fold{k}.json (metrics,
                              history) and predictions_fold{k}.parquet
    summary.md|.json          the table printed at the end
    ray/                      Ray Train's storage (per-epoch checkpoints of the run)
    checkpoint/               the same in local mode (num_workers = 0)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch
import yaml

from genen_core.config import config_digest, to_dict
from genen_core.provenance import git_revision
from genen_core.store import GraphStore
from genen_scale.tasks.fold_result import EpochRecord, FoldResult, predictions_table
from genen_scale.tasks.kinds import TaskKind
from genen_scale.tasks.metrics import LESS_STUDIED, WELL_STUDIED, primary_metric, summarize
from genen_scale.tasks.task import Task
from genen_scale.training.config import NOT_HASHED, RESULTS_VERSION, TrainConfig
from genen_scale.training.inputs import TrainError

log = logging.getLogger(__name__)

STUDY_GROUPS = (LESS_STUDIED, WELL_STUDIED)
RUN_MANIFEST = "run.json"
# Where a run without Ray workers (scaling.num_workers 0) keeps its checkpoint.
LOCAL_CHECKPOINT = "checkpoint"
HISTORY = "history.json"
TOOL = "genen_scale.train"


def run_prefix(cfg: TrainConfig) -> str:
    # ``data.task`` may be a label file's path: its stem names the run.
    return f"{Path(cfg.data.task).stem}-{cfg.model.arch}-{cfg.data.graph}"


def config_hash(cfg: TrainConfig) -> str:
    """What decides a run's results, as one digest: the fields set away from their
    defaults (:func:`genen_core.config.config_digest`) with :data:`RESULTS_VERSION`, less
    the fields that only say where a run is written and whether it resumes. A run's resume
    check and a sweep trial's id (:func:`genen_scale.sweep.grid.config_hash`) both use it."""
    return config_digest(cfg, NOT_HASHED, RESULTS_VERSION)


def _manifest(run_dir: Path) -> dict | None:
    try:
        doc = json.loads((run_dir / RUN_MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("tool") == TOOL else None


def resumable(run_dir: Path, cfg: TrainConfig) -> bool:
    """Whether ``run_dir`` is a run of this very config with a checkpoint to resume."""
    doc = _manifest(run_dir)
    return (
        doc is not None
        and doc.get("config_hash") == config_hash(cfg)
        and (run_dir / LOCAL_CHECKPOINT).is_dir()
    )


def prepare_run_dir(cfg: TrainConfig) -> Path:
    """Create (or, with ``cfg.resume``, find) the run's results directory.

    A new run directory gets ``run.json`` (this tool's name, the config hash, the creation
    time). ``--resume`` continues only a directory with that manifest and the same config
    hash: the named one, or else the most recently created of this task/model/graph —
    never a directory some other program (or person) put there.

    Raises:
        TrainError: The named run exists and ``resume`` is off, or there is nothing to
            resume (no such run, not one of ours, or trained with another config).
    """
    out = Path(cfg.output_dir).resolve()
    digest = config_hash(cfg)
    if cfg.resume:
        if cfg.run_name is not None:
            run_dir = out / cfg.run_name
            doc = _manifest(run_dir)
            if doc is None:
                raise TrainError(
                    f"--resume: {run_dir} is not a run this tool wrote (no {RUN_MANIFEST}); "
                    "nothing there is loaded"
                )
            if doc.get("config_hash") != digest:
                raise TrainError(
                    f"--resume: {run_dir} was trained with another config; resume with the "
                    f"config in {run_dir / 'config.yaml'}"
                )
        else:
            runs = [
                (doc["created"], d)
                for d in out.glob(f"{run_prefix(cfg)}-*")
                if (doc := _manifest(d)) is not None and doc.get("config_hash") == digest
            ]
            if not runs:
                raise TrainError(
                    f"--resume: no run {run_prefix(cfg)}-* with this config under {out}; "
                    "pass --run_name"
                )
            run_dir = max(runs)[1]
        log.info("resuming run %s", run_dir)
        return run_dir
    name = cfg.run_name or f"{run_prefix(cfg)}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    run_dir = out / name
    if run_dir.exists():
        raise TrainError(
            f"results directory {run_dir} exists; pass --resume to continue that run or "
            "choose another --run-name"
        )
    run_dir.mkdir(parents=True)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    doc = {"tool": TOOL, "config_hash": digest, "created": created}
    (run_dir / RUN_MANIFEST).write_text(json.dumps(doc, indent=2))
    return run_dir


def write_provenance(run_dir: Path, cfg: TrainConfig, store: GraphStore) -> None:
    """Resolved config, store manifest, feature sidecar, git revision and versions."""
    import ray
    import torch_geometric

    (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    sidecar = store.path / "features" / f"{cfg.data.features}.json"
    prov = {
        "git_revision": git_revision(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "versions": {
            "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "ray": ray.__version__,
        },
        "store": str(store.path.resolve()),
        "store_manifest": store.manifest,
        "features": json.loads(sidecar.read_text()) if sidecar.is_file() else None,
    }
    (run_dir / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))


def metrics_table(cfg: TrainConfig, task: Task, folds: list[FoldResult]) -> pd.DataFrame:
    """One row per (model, fold) with test metrics plus ``val_<primary>``, in the order of
    ``folds`` (the GNN first, then the baselines)."""
    common = {
        "task": task.name,
        "features": cfg.data.features,
        "mask_rate": cfg.data.mask_rate,
    }
    primary = primary_metric(task.kind)
    gnn = cfg.model.arch
    rows = [
        {
            **common,
            "model": r.model,
            "graph": cfg.data.graph if r.model == gnn else "none",
            "fold": r.fold,
            "best_epoch": np.nan if r.best_epoch is None else r.best_epoch,
            "selection": r.selection,
            **r.test,
            f"val_{primary}": r.val.get(primary, np.nan),
        }
        for r in folds
    ]
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, kind: TaskKind) -> pd.DataFrame:
    """Mean ± std of the primary metric per model (rows in table order)."""
    primary = primary_metric(kind)
    rows = []
    for model, group in table.groupby("model", sort=False):
        s = summarize(group[[primary]].to_dict("records"))[primary]
        by_study = {
            g: summarize(group[[f"{primary}_{g}"]].to_dict("records"))[f"{primary}_{g}"]["mean"]
            for g in STUDY_GROUPS
            if f"{primary}_{g}" in group
        }
        rows.append(
            {
                "task": group["task"].iloc[0],
                "model": model,
                "graph": group["graph"].iloc[0],
                "features": group["features"].iloc[0],
                "metric": primary,
                "mean": s["mean"],
                "std": s["std"],
                "folds": s["folds"],
                **by_study,
            }
        )
    return pd.DataFrame(rows)


def format_summary(summ: pd.DataFrame) -> str:
    """The summary as a markdown table: task, model, graph, metric mean ± std."""
    lines = [
        "| task | model | graph | features | metric | mean ± std | folds "
        "| less-studied | well-studied |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.task} | {r.model} | {r.graph} | {r.features} | {r.metric} | "
        f"{r.mean:.3f} ± {r.std:.3f} | {r.folds} | "
        f"{getattr(r, LESS_STUDIED, float('nan')):.3f} | {getattr(r, WELL_STUDIED, float('nan')):.3f} |"
        for r in summ.itertuples()
    ]
    return "\n".join(lines)


def read_history(path: Path) -> dict[int, list[EpochRecord]]:
    """A ``history.json`` (a run's, or a sweep trial's copy): each GNN fold's epochs.

    Raises:
        ValueError: An entry is not one a run writes (the message names the file).
    """
    doc = json.loads(Path(path).read_text())
    try:
        return {int(k): [EpochRecord.from_json(e) for e in epochs] for k, epochs in doc.items()}
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: {e}") from None


def write_outputs(
    run_dir: Path, table: pd.DataFrame, kind: TaskKind, folds: list[FoldResult], gnn: str
) -> pd.DataFrame:
    """Write the metrics ``table`` (:func:`metrics_table`), every fold's predictions, the
    GNN folds' history and the best fold's embeddings, and the summary; return the summary.

    The GNN folds' embeddings and best states were written when each fold ended
    (:func:`~genen_scale.training.checkpoint.save_fold`).
    """
    table.to_parquet(run_dir / "metrics.parquet", index=False)
    (run_dir / "metrics.json").write_text(
        table.to_json(orient="records", indent=2, double_precision=15)
    )
    pq.write_table(predictions_table(folds), run_dir / "predictions.parquet")
    ours = [r for r in folds if r.model == gnn]
    history = {str(r.fold): [e.to_json() for e in r.history] for r in ours}
    (run_dir / HISTORY).write_text(json.dumps(history, indent=2))
    primary = primary_metric(kind)
    # Under the paper protocol there is no validation score: the first fold is taken.
    best = max(ours, key=lambda r: np.nan_to_num(r.val.get(primary, np.nan), nan=-np.inf))
    shutil.copyfile(run_dir / f"embeddings_fold{best.fold}.npy", run_dir / "embeddings.npy")
    summ = summary(table, kind)
    (run_dir / "summary.md").write_text(format_summary(summ) + "\n")
    (run_dir / "summary.json").write_text(
        json.dumps({"rows": summ.to_dict("records"), "embeddings_npy_fold": best.fold}, indent=2)
    )
    return summ
