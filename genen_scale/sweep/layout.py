"""Where a sweep keeps each trial: ``DIR/trials/<id>/`` with ``rows.parquet`` (a plain
file, never a link) when it finished, ``error.txt`` when it failed, ``trial.json`` (its spec) and, for a GNN trial,
``history.json`` (its folds' per-epoch training and validation log, small enough to keep
in git beside the rows so that model selection can be audited without the run directory).

Standard library only: the Tune trial actor (:mod:`.actor`) reads these paths without
importing the heavy :mod:`.trial`.
"""

from __future__ import annotations

from pathlib import Path

MARKER = "genen-sweep.json"
"""In a sweep's output folder: genen-sweep made it (it writes into no other folder)."""
TRIALS_DIR = "trials"
ROWS = "rows.parquet"
ERROR = "error.txt"
SPEC = "trial.json"
HISTORY = "history.json"


def trial_dir(sweep_dir: Path, trial_id: str) -> Path:
    return Path(sweep_dir) / TRIALS_DIR / trial_id


def is_done(sweep_dir: Path, trial_id: str) -> bool:
    rows = trial_dir(sweep_dir, trial_id) / ROWS
    return rows.is_file() and not rows.is_symlink()


def has_failed(sweep_dir: Path, trial_id: str) -> bool:
    return not is_done(sweep_dir, trial_id) and (trial_dir(sweep_dir, trial_id) / ERROR).is_file()
