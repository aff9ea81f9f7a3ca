"""Running a sweep's trials: concurrently as Ray Tune function trainables, or in process.

Every trial is a Tune trial of :func:`~genen_scale.sweep.actor.tune_trial` wrapped with
:func:`ray.tune.with_resources` (fractional CPUs/GPUs, so small trials pack a node).
A trial reads the store from its path (memory-mapped on its node; nothing large travels
through Ray) and runs in process, or, with ``train.scaling.num_workers > 0``, starts a
Ray Train run of its own from inside the trial (Ray's Train-inside-Tune pattern).

Resuming is by trial directory, not by Tune's experiment state: a trial whose
``rows.parquet`` exists is skipped, any other is (re)run. ``results.parquet`` and
``sweep.json`` are rewritten after every finished trial, so an interrupted sweep leaves
the results it has.

The output folder is the sweep's own: :func:`claim_output_dir` writes only into a new or
empty folder, which it marks (``genen-sweep.json``), or into one it marked before; any
other folder, or a file, is refused before anything is written. A trial that did not
finish, for whatever reason (its own error, a folder that cannot be made, rows that
cannot be written or read back), is a failed trial, with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from genen_core.config import ConfigError, to_dict
from genen_core.files import atomic_path, write_text_atomic
from genen_core.provenance import git_revision
from genen_scale.sweep.actor import tune_trial
from genen_scale.sweep.config import GRID_KEYS, SweepConfig
from genen_scale.sweep.grid import TrialSpec, expand
from genen_scale.sweep.layout import ERROR, MARKER, ROWS, has_failed, is_done, trial_dir
from genen_scale.sweep.trial import run_trial

log = logging.getLogger(__name__)

RESULTS = "results.parquet"
STATUS = "sweep.json"


@dataclass
class Progress:
    """Counts of this sweep's trials and an ETA from this invocation's throughput."""

    total: int
    done: int = 0
    failed: int = 0
    running: set[str] = field(default_factory=set)
    finished_here: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed - len(self.running)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started_at
        remaining = self.total - self.done - self.failed
        if self.finished_here:
            eta = dt.timedelta(seconds=round(elapsed / self.finished_here * remaining))
            eta_text = f"ETA {eta}"
        else:
            eta_text = "ETA unknown"
        return (
            f"sweep: {self.done} done, {len(self.running)} running, {self.failed} failed, "
            f"{self.left} left of {self.total} | {eta_text}"
        )

    def start(self, trial_id: str) -> None:
        self.running.add(trial_id)
        log.info(self.line())

    def finish(self, trial_id: str, ok: bool) -> None:
        self.running.discard(trial_id)
        self.finished_here += 1
        if ok:
            self.done += 1
        else:
            self.failed += 1
        log.info(self.line())


@dataclass
class SweepOutcome:
    """What a sweep invocation left: counts and where the results are."""

    output_dir: Path
    total: int
    done: int
    failed: dict[str, str]
    """Every trial that has not finished -> why (one line)."""
    results: Path


def claim_output_dir(out: Path) -> None:
    """Make ``out`` this sweep's folder, or refuse (one line) before anything is written.

    Raises:
        ConfigError: ``out`` is a file, or a non-empty folder that genen-sweep did not make.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir={out} is a file, not a folder; give a new folder")
    if out.is_dir() and (out / MARKER).is_file():
        return
    if out.is_dir() and any(out.iterdir()):
        raise ConfigError(
            f"output_dir={out} holds files that genen-sweep did not write (it has no "
            f"{MARKER}); a sweep writes only into a new or empty folder, or one it made: "
            "choose another output_dir"
        )
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    (out / MARKER).write_text(json.dumps({"tool": "genen-sweep", "created": stamp}) + "\n")


def run_sweep(cfg: SweepConfig) -> SweepOutcome:
    """Run every unfinished trial of ``cfg`` and collect all rows into ``results.parquet``.

    Ray must be connected unless ``cfg.local`` (see :func:`genen_scale.sweep.cli.connect`).

    Raises:
        genen_core.config.ConfigError: A trial's training config is invalid.
    """
    out = Path(cfg.output_dir).expanduser().resolve()
    claim_output_dir(out)
    log.info("sweep %s: expanding %d grid points", out, cfg.size())
    specs = expand(cfg)
    (out / "sweep.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    pending = [s for s in specs if not is_done(out, s.id)]
    progress = Progress(total=len(specs), done=len(specs) - len(pending))
    log.info(
        "sweep %s: %d trials, %d finished before, %d to run (%d failed last time)",
        out,
        len(specs),
        progress.done,
        len(pending),
        sum(has_failed(out, s.id) for s in pending),
    )
    r = cfg.resources
    reasons: dict[str, str] = {}  # trial id -> its error, as the driver saw it
    if pending and cfg.local:
        for spec in pending:
            progress.start(spec.id)
            try:
                run_trial(spec, out, r.cpus_per_trial, r.gpus_per_trial)
                ok = True
            except Exception as e:  # a failed trial must not end the sweep
                log.error("trial %s failed: %s", spec.id, e)
                reasons[spec.id], ok = f"{type(e).__name__}: {e}", False
            progress.finish(spec.id, ok)
            collect(out, specs, reasons)
    elif pending:
        _run_tune(cfg, out, specs, pending, progress, reasons)
    table, unreadable = collect(out, specs, reasons)
    reasons.update(unreadable)
    done = {s.id for s in specs if is_done(out, s.id) and s.id not in unreadable}
    failed = {s.id: _why(out, s.id, reasons) for s in specs if s.id not in done}
    log.info("%s; %d result rows in %s", progress.line(), len(table), out / RESULTS)
    return SweepOutcome(out, len(specs), len(specs) - len(failed), failed, out / RESULTS)


def _why(out: Path, trial_id: str, reasons: dict[str, str]) -> str:
    """One line: why a trial has no rows (its error.txt's last line, else what we saw)."""
    if trial_id in reasons:
        return " ".join(reasons[trial_id].split())
    try:
        lines = (trial_dir(out, trial_id) / ERROR).read_text().strip().splitlines()
        return lines[-1] if lines else "error.txt is empty"
    except OSError:
        return "did not finish (no rows.parquet, no error.txt)"


def _run_tune(
    cfg: SweepConfig,
    out: Path,
    specs: list[TrialSpec],
    pending: list[TrialSpec],
    progress: Progress,
    reasons: dict[str, str],
) -> None:
    from ray import tune

    r = cfg.resources

    class ProgressCallback(tune.Callback):
        """Progress line and results table on the driver, as trials start and end."""

        def on_trial_start(self, iteration, trials, trial, **info):
            progress.start(trial.config["spec"]["id"])

        def on_trial_complete(self, iteration, trials, trial, **info):
            progress.finish(trial.config["spec"]["id"], ok=True)
            collect(out, specs, reasons)

        def on_trial_error(self, iteration, trials, trial, **info):
            trial_id = trial.config["spec"]["id"]
            progress.finish(trial_id, ok=False)
            error = trial.get_error()
            if error is not None:
                reasons[trial_id] = str(error).strip().splitlines()[-1]
            collect(out, specs, reasons)

    resources = {"cpu": r.cpus_per_trial, "gpu": r.gpus_per_trial}
    tuner = tune.Tuner(
        tune.with_resources(tune_trial, resources),
        param_space={
            "spec": tune.grid_search([s.to_dict() for s in pending]),
            "sweep_dir": str(out),
            "cpus": r.cpus_per_trial,
            "gpus": r.gpus_per_trial,
        },
        # Reused actors keep their warm child process (genen_scale.sweep.actor).
        tune_config=tune.TuneConfig(
            max_concurrent_trials=r.max_concurrent or None, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            name=f"tune-{dt.datetime.now():%Y%m%d-%H%M%S}",
            storage_path=str(out / "tune"),
            failure_config=tune.FailureConfig(max_failures=r.max_failures),
            callbacks=[ProgressCallback()],
            verbose=0,
        ),
    )
    tuner.fit()


def collect(
    out: Path, specs: list[TrialSpec], failed: Collection[str] = ()
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rows of every finished trial of ``specs`` into ``results.parquet``; ``sweep.json``
    (``failed``: trials this invocation saw fail, error.txt or not).

    Rows are ordered by trial (in sweep order) and fold, columns with the grid keys
    first, so that the same finished trials give the same file however they were run.

    Returns:
        The rows, and the trials whose ``rows.parquet`` cannot be read -> why (those
        trials count as failed; the others are collected).
    """
    frames, unreadable = [], {}
    for s in specs:
        if is_done(out, s.id):
            try:
                frames.append(pd.read_parquet(trial_dir(out, s.id) / ROWS))
            except Exception as e:  # pyarrow raises several kinds for a damaged file
                unreadable[s.id] = f"its {ROWS} cannot be read ({type(e).__name__}: {e})"
                log.error("trial %s: %s", s.id, unreadable[s.id])
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(table):
        first = ["trial", *[k for k in GRID_KEYS if k in table], "fold", "metric"]
        table = table[first + sorted(c for c in table.columns if c not in first)]
    with atomic_path(out / RESULTS) as tmp:
        table.to_parquet(tmp, index=False)
    status = {
        "git_revision": git_revision(),
        "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trials": [
            {
                "id": s.id,
                "status": "done"
                if is_done(out, s.id) and s.id not in unreadable
                else "failed"
                if has_failed(out, s.id) or s.id in unreadable or s.id in failed
                else "pending",
                **s.keys,
            }
            for s in specs
        ],
    }
    write_text_atomic(out / STATUS, json.dumps(status, indent=2, default=str))
    return table, unreadable
