"""Evidence for the model-selection rule: which epoch each rule keeps, on validation data.

Training does not depend on the rule (it only decides which snapshot is kept and when
patience runs out), so one fold's recorded history (``trials/<id>/history.json``: loss,
validation loss and validation metric per epoch) replays every rule exactly, as far as
it was trained. This module replays the rule before 0.2 (the highest validation primary
metric, strict ``>``, ``optim.patience``) and today's default (the lowest validation loss)
on the histories of a sweep run with the default, and sets them beside the epochs the old
rule kept when the grid was first run. Test scores appear only in the before/after table
of Table 1's cells, never in the choice of rule.

    python -m genen_scale.report.selection NEW_SWEEP OLD_SWEEP --output docs/model-selection.md
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from genen_core.command_line import run_entry_point  # noqa: E402
from genen_core.config import ConfigError  # noqa: E402
from genen_scale.report.paired import fmt_diff, paired_diff  # noqa: E402
from genen_scale.report.published import TASK_TITLES  # noqa: E402
from genen_scale.report.tables import markdown, order, reference  # noqa: E402
from genen_scale.sweep.layout import HISTORY, SPEC, trial_dir  # noqa: E402
from genen_scale.training.results import read_history  # noqa: E402

log = logging.getLogger("genen_scale.report.selection")
GNN = ("gcn", "gat")


@dataclass(frozen=True)
class Replay:
    """One rule replayed on one fold's history."""

    epoch: int
    """The epoch the rule keeps."""
    complete: bool
    """False when the rule would still be training where the history ends (it stopped
    earlier under the rule that ran): the kept epoch is then a lower bound."""


def replay(scores: list[float], higher: bool, patience: int, epochs: int) -> Replay:
    """The epoch kept by "best score so far (strictly better), stop after ``patience``
    epochs without one or at ``epochs``" on one recorded score per epoch (the validation
    metric, ``higher`` better, or the validation loss)."""
    best, best_epoch, bad = -np.inf, -1, 0
    for e, value in enumerate(scores):
        score = value if higher else -value
        if score > best:  # NaN never counts as better
            best, best_epoch, bad = score, e, 0
        else:
            bad += 1
        if bad >= patience or e + 1 >= epochs:
            return Replay(best_epoch, True)
    return Replay(best_epoch, False)


def fold_choices(sweep_dir: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Per GNN fold row of ``rows`` (reference condition): the epochs both rules keep on
    its history, with the validation loss and metric there."""
    out = []
    for trial, group in rows[rows["model"].isin(GNN)].groupby("trial"):
        d = trial_dir(sweep_dir, trial)
        if not (d / HISTORY).is_file():
            continue
        optim = json.loads((d / SPEC).read_text())["train"]["optim"]
        histories = read_history(d / HISTORY)
        for row in group.itertuples():
            h = histories[row.fold]
            old = replay([e.val_metric for e in h], True, optim["patience"], optim["epochs"])
            new = replay([e.val_loss for e in h], False, optim["patience"], optim["epochs"])
            out.append(
                {
                    "task": row.task,
                    "model": row.model,
                    "fold": row.fold,
                    "trained": len(h),
                    "kept": int(row.best_epoch),
                    "loss_rule": new.epoch,
                    "metric_rule": old.epoch,
                    "metric_rule_complete": old.complete,
                    "val_loss_at_metric_rule": h[old.epoch].val_loss,
                    "val_loss_at_loss_rule": h[new.epoch].val_loss,
                    "val_loss_epoch0": h[0].val_loss,
                }
            )
    return pd.DataFrame(out)


def _epochs(values, complete=None) -> str:
    if complete is None:
        complete = [True] * len(values)
    return ", ".join(f"{v}" if c else f"≥{v}" for v, c in zip(values, complete, strict=True))


def choices_table(choices: pd.DataFrame, old_rows: pd.DataFrame) -> str:
    """Kept epochs per fold: the old rule as first run (old rows), replayed on the new
    histories, and the loss rule; plus how many folds keep epoch 0 or 1."""
    body = []
    keys = sorted(
        set(zip(choices["task"], choices["model"], strict=True)),
        key=lambda k: order(k[1], "go_ppi", k[0]),
    )
    for task, model in keys:
        c = choices[(choices["task"] == task) & (choices["model"] == model)].sort_values("fold")
        o = old_rows[(old_rows["task"] == task) & (old_rows["model"] == model)].sort_values("fold")
        as_run = _epochs(o["best_epoch"].astype(int).tolist()) if len(o) else "—"
        early = [
            f"{int((o['best_epoch'] <= 1).sum())}/{len(o)}" if len(o) else "—",
            f"{int((c['metric_rule'] <= 1).sum())}/{len(c)}",
            f"{int((c['loss_rule'] <= 1).sum())}/{len(c)}",
        ]
        body.append(
            [
                TASK_TITLES.get(task, task),
                model,
                as_run,
                _epochs(c["metric_rule"].tolist(), c["metric_rule_complete"].tolist()),
                _epochs(c["loss_rule"].tolist()),
                " / ".join(early),
                f"{(c['val_loss_epoch0'] - c['val_loss_at_metric_rule']).median():.3f}",
                f"{(c['val_loss_epoch0'] - c['val_loss_at_loss_rule']).median():.3f}",
            ]
        )
    return markdown(
        [
            "task",
            "model",
            "old rule, as first run",
            "old rule, replayed",
            "val_loss rule",
            "folds kept at epoch ≤ 1 (first run / replayed / val_loss)",
            "val-loss drop from epoch 0, old rule (median)",
            "same, val_loss rule",
        ],
        body,
    )


def curves_figure(sweep_dir: Path, rows: pd.DataFrame, picks: list[tuple], path: Path):
    """Validation loss and metric per epoch of the folds ``picks`` ((task, model, fold)),
    with the epoch each rule keeps marked."""
    fig, axes = plt.subplots(1, len(picks), figsize=(5 * len(picks), 3.6), squeeze=False)
    for ax, (task, model, fold) in zip(axes[0], picks, strict=True):
        row = rows[(rows["task"] == task) & (rows["model"] == model) & (rows["fold"] == fold)]
        d = trial_dir(sweep_dir, row["trial"].iloc[0])
        optim = json.loads((d / SPEC).read_text())["train"]["optim"]
        h = read_history(d / HISTORY)[fold]
        metric = f"val_{row['metric'].iloc[0]}"
        losses, metrics = [e.val_loss for e in h], [e.val_metric for e in h]
        ax.plot(losses, color="tab:blue", label="validation loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation loss", color="tab:blue")
        twin = ax.twinx()
        twin.plot(metrics, color="tab:orange", label=metric)
        twin.set_ylabel(metric, color="tab:orange")
        old = replay(metrics, True, optim["patience"], optim["epochs"])
        new = replay(losses, False, optim["patience"], optim["epochs"])
        ax.axvline(old.epoch, color="tab:orange", ls="--", lw=1)
        ax.axvline(new.epoch, color="tab:blue", ls=":", lw=1.5)
        ax.set_title(
            f"{task}, {model}, fold {fold}\nkept: {metric} rule {old.epoch}, val_loss rule "
            f"{new.epoch}",
            fontsize=9,
        )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _mean(rows: pd.DataFrame, col: str) -> str:
    v = rows[col].dropna() if col in rows else pd.Series(dtype=float)
    return f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else "—"


def _f1_pair(rows: pd.DataFrame, metric: str) -> list[str]:
    """F1 uncalibrated and at the validation threshold; rows with no threshold (multiclass:
    arg-max, multilabel: 0.5) have only the first."""
    if metric == "pearson":
        return ["—", "—"]
    if "threshold" in rows and rows["threshold"].notna().all():
        return [_mean(rows, "f1_05"), _mean(rows, "f1")]
    return [_mean(rows, "f1"), "—"]


def before_after(new: pd.DataFrame, old: pd.DataFrame) -> str:
    """Table 1's GO+PPI and text cells, first run (old rule, F1 at 0.5) beside the re-run
    (validation-loss rule, F1 at the validation threshold), paired by fold."""
    body = []
    keys = sorted(
        set(zip(new["task"], new["model"], new["graph"], strict=True)),
        key=lambda k: order(k[1], k[2], k[0]),
    )
    for task, model, graph in keys:
        pick = (new["task"] == task) & (new["model"] == model) & (new["graph"] == graph)
        n = new[pick].set_index("fold").sort_index()
        o = old[(old["task"] == task) & (old["model"] == model) & (old["graph"] == graph)]
        o = o.set_index("fold").reindex(n.index)
        metric = n["metric"].iloc[0]
        d = paired_diff(n[metric], o[metric]) if len(o.dropna(how="all")) else None
        epochs = n["best_epoch"].dropna()
        body.append(
            [
                TASK_TITLES.get(task, task),
                model,
                metric,
                _mean(o, metric),
                _mean(n, metric),
                *(fmt_diff(d)[:2] if d and d.n else ["—", "—"]),
                _mean(o, "f1") if metric != "pearson" else "—",
                *_f1_pair(n, metric),
                f"{epochs.median():.0f}" if len(epochs) else "—",
            ]
        )
    return markdown(
        [
            "task",
            "model",
            "metric",
            "first run",
            "re-run",
            "Δ re-run − first",
            "folds ahead",
            "F1, first run (0.5 or arg-max)",
            "F1 re-run at 0.5 (multiclass: arg-max)",
            "F1 re-run at val threshold",
            "median kept epoch",
        ],
        body,
    )


def versus(rows: pd.DataFrame, task: str, a: str, b: str, col: str) -> str:
    """One line of paired evidence: ``col`` of model ``a`` vs ``b`` on ``task``'s folds."""
    ra = rows[(rows["task"] == task) & (rows["model"] == a)].set_index("fold").sort_index()
    rb = rows[(rows["task"] == task) & (rows["model"] == b)].set_index("fold").reindex(ra.index)
    if ra.empty or rb[col].isna().all():
        return f"{task}: no paired {a} and {b} rows."
    d = paired_diff(ra[col], rb[col])
    delta, ahead, t_p, w_p = fmt_diff(d)
    return (
        f"{TASK_TITLES.get(task, task)}, {col}: {a} {ra[col].mean():.3f} vs {b} "
        f"{rb[col].mean():.3f}; Δ {delta}, {a} ahead in {ahead} folds, paired t p {t_p}, "
        f"Wilcoxon p {w_p}."
    )


@dataclass
class SelectionReportConfig:
    """Where the two sweeps are and where the evidence goes."""

    new_dir: str = ""
    """Sweep run with the default selection (validation loss), keeping histories."""
    old_dir: str = ""
    """Sweep of the same cells run with the rule before 0.2 (validation metric)."""
    output: str = "docs/model-selection.md"
    """Markdown file to write."""
    discussion: str | None = None
    """A hand-written markdown file put first (the reading of the tables below it)."""
    figures_dir: str = "docs/figures"
    """Where the validation-curve figure goes."""
    default_run: str | None = None
    """A ``genen-train`` run of dosage sensitivity with the default preset (its
    ``metrics.parquet``): its GCN beside its logreg, paired by fold."""
    curves: list[str] = field(
        default_factory=lambda: ["bivalent_vs_lys4:gcn:0", "dosage_sensitivity:gcn:0"]
    )
    """Folds whose validation curves are drawn, as ``task:model:fold``."""

    def __post_init__(self) -> None:
        if not self.new_dir or not self.old_dir:
            raise ValueError("give both sweeps: NEW_DIR OLD_DIR")


def build(cfg: SelectionReportConfig) -> Path:
    """Write the tables and the figure; returns the markdown path."""
    new_dir, old_dir = Path(cfg.new_dir), Path(cfg.old_dir)
    frames = []
    for d in (new_dir, old_dir):
        f = d / "results.parquet"
        if not f.is_file():
            raise ConfigError(f"{f} does not exist: run genen-sweep into {d} first")
        r = reference(pd.read_parquet(f))
        frames.append(r[r["graph"].isin(["go_ppi", "none"])])
    new, old = frames
    choices = fold_choices(new_dir, new)
    if choices.empty:
        raise ConfigError(f"{new_dir}: no GNN trial with {HISTORY} yet")
    out = Path(cfg.output)
    picks = []
    for spec in cfg.curves:
        task, model, fold = spec.split(":")
        if ((choices["task"] == task) & (choices["model"] == model)).any():
            picks.append((task, model, int(fold)))
    parts = [
        "<!-- generated by python -m genen_scale.report.selection; edit the discussion file -->\n",
        Path(cfg.discussion).read_text() if cfg.discussion else "",
        "## The tables\n",
        "### Kept epochs per fold (validation data only)\n",
        "Epochs listed fold by fold. *Old rule*: highest validation primary metric "
        "(strict >, patience as configured); *first run*: the epochs it kept when the grid "
        "ran (`" + str(old_dir) + "`); *replayed*: the same rule replayed on the re-run's "
        "histories (≥: the re-run stopped first, so the old rule would keep that epoch or "
        "a later one); *val_loss rule*: the lowest validation loss, which the re-run used.\n",
        choices_table(choices, old) + "\n",
    ]
    if picks:
        path = curves_figure(new_dir, new, picks, Path(cfg.figures_dir) / "selection_curves.png")
        parts.append(f"![validation curves]({os.path.relpath(path, out.parent)})\n")
    parts += [
        "### Table 1's cells before and after (test folds, paired by fold)\n",
        "Mean ± sample sd over the 5 test folds. The first run used float32 text features "
        "and the re-run bfloat16 ones (cosine ≥ 0.9999 to float32), so Δ mixes the rule, "
        "the threshold and that rounding.\n",
        before_after(new, old) + "\n",
        "### Dosage sensitivity: does the graph help at a calibrated threshold?\n",
        versus(new, "dosage_sensitivity", "gcn", "logreg", "f1") + "\n",
        versus(new, "dosage_sensitivity", "gcn", "logreg", "auc") + "\n",
    ]
    if cfg.default_run:
        run = pd.read_parquet(Path(cfg.default_run) / "metrics.parquet")
        parts += [
            f"With the default preset (`genen-train`, run `{Path(cfg.default_run).name}`):\n",
            *(versus(run, "dosage_sensitivity", "gcn", "logreg", c) + "\n" for c in ("f1", "auc")),
        ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(p for p in parts if p))
    return out


def main(argv: list[str] | None = None) -> int:
    return run_entry_point(
        "genen_scale.report.selection",
        SelectionReportConfig,
        __doc__,
        argv,
        ("new_dir", "old_dir"),
        lambda cfg: f"tables: {build(cfg)}",
    )


if __name__ == "__main__":
    raise SystemExit(main())
