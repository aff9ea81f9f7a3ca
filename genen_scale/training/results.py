"""The results directory of a run and the summary table.

Layout of ``<output_dir>/<run name>/``::

    config.yaml               the resolved TrainConfig
    provenance.json           git revision, store path and manifest, feature sidecar,
                              library versions, host, date
    metrics.parquet|.json     one row per (model, fold): the GNN and each baseline, test
                              metrics plus ``val_<primary>`` and the GNN's best epoch
    history.json              per fold, the GNN's per-epoch log (loss, val metric, seeds/s)
    embeddings_fold{k}.npy    float32 [num_genes, hidden]: fold k's best model's last hidden
                              layer for every gene, row i = node i
    embeddings.npy            the same, of the fold with the best validation metric
    checkpoints/best_fold{k}.pt  best model state_dict of fold k
    summary.md|.json          the table printed at the end
    ray/                      Ray Train's storage (per-epoch checkpoints of the run)
    checkpoint/               the same in local mode (num_workers = 0)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from genen_scale.config import to_dict
from genen_scale.metrics import LESS_STUDIED, WELL_STUDIED, primary_metric, summarize
from genen_scale.provenance import git_revision
from genen_scale.store import GraphStore
from genen_scale.tasks import Task
from genen_scale.training.config import TrainConfig
from genen_scale.training.inputs import TrainError

log = logging.getLogger(__name__)

STUDY_GROUPS = (LESS_STUDIED, WELL_STUDIED)


def run_prefix(cfg: TrainConfig) -> str:
    # ``data.task`` may be a label file's path: its stem names the run.
    return f"{Path(cfg.data.task).stem}-{cfg.model.arch}-{cfg.data.graph}"


def prepare_run_dir(cfg: TrainConfig) -> Path:
    """Create (or, with ``cfg.resume``, find) the run's results directory.

    Raises:
        TrainError: The named run exists and ``resume`` is off, or there is nothing to
            resume.
    """
    out = Path(cfg.output_dir).resolve()
    if cfg.resume:
        if cfg.run_name is not None:
            run_dir = out / cfg.run_name
        else:
            runs = sorted(out.glob(f"{run_prefix(cfg)}-*"))
            if not runs:
                raise TrainError(
                    f"--resume: no run {run_prefix(cfg)}-* under {out}; pass --run-name"
                )
            run_dir = runs[-1]
        if not run_dir.is_dir():
            raise TrainError(f"--resume: {run_dir} does not exist")
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
    return run_dir


def write_provenance(run_dir: Path, cfg: TrainConfig, store: GraphStore) -> None:
    """Resolved config, store manifest, feature sidecar, git revision and versions."""
    import ray
    import torch_geometric

    (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    sidecar = store.path / "features" / f"{cfg.data.features}.json"
    prov = {
        "git_revision": git_revision(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
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


def metrics_table(
    cfg: TrainConfig,
    task: Task,
    gnn: list[dict],
    baselines: dict[str, list[dict]],
    fold_ids: list[int],
) -> pd.DataFrame:
    """One row per (model, fold) with test metrics; GNN first, then baselines."""
    common = {
        "task": task.name,
        "features": cfg.data.features,
        "mask_fraction": cfg.data.mask_fraction,
    }
    primary = primary_metric(task.kind)
    rows = [
        {
            **common,
            "model": cfg.model.arch,
            "graph": cfg.data.graph,
            "fold": o["fold"],
            "best_epoch": o["best_epoch"],
            **o["test"],
            f"val_{primary}": o["val"][primary],
        }
        for o in gnn
    ]
    for name, per_fold in baselines.items():
        rows += [
            {**common, "model": name, "graph": "none", "fold": k, "best_epoch": np.nan, **m}
            for k, m in zip(fold_ids, per_fold, strict=True)
        ]
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, kind: str) -> pd.DataFrame:
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


def write_outputs(run_dir: Path, table: pd.DataFrame, kind: str, gnn: list[dict]) -> pd.DataFrame:
    """Write the metrics ``table`` (:func:`metrics_table`), the GNN folds' history,
    embeddings and best states, and the summary; return the summary."""
    table.to_parquet(run_dir / "metrics.parquet", index=False)
    (run_dir / "metrics.json").write_text(
        table.to_json(orient="records", indent=2, double_precision=15)
    )
    (run_dir / "history.json").write_text(
        json.dumps({str(o["fold"]): o["history"] for o in gnn}, indent=2)
    )
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    primary = primary_metric(kind)
    for o in gnn:
        np.save(run_dir / f"embeddings_fold{o['fold']}.npy", o["embeddings"].astype(np.float32))
        state = {k: torch.as_tensor(v) for k, v in o["best_state"].items()}
        torch.save(state, run_dir / "checkpoints" / f"best_fold{o['fold']}.pt")
    best = max(gnn, key=lambda o: np.nan_to_num(o["val"][primary], nan=-np.inf))
    np.save(run_dir / "embeddings.npy", best["embeddings"].astype(np.float32))
    summ = summary(table, kind)
    (run_dir / "summary.md").write_text(format_summary(summ) + "\n")
    (run_dir / "summary.json").write_text(
        json.dumps({"rows": summ.to_dict("records"), "embeddings_npy_fold": best["fold"]}, indent=2)
    )
    return summ
