"""Where an output came from: the code revision that every store and results directory records."""

from __future__ import annotations

import subprocess
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def git_revision() -> str:
    """The checkout's commit (``+dirty`` with local changes), or ``unknown`` outside git
    (e.g. the working directory of a ``ray job submit`` job, which has no ``.git``)."""
    try:
        rev, dirty = (
            subprocess.run(
                ["git", "-C", str(_ROOT), *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            for args in (["rev-parse", "HEAD"], ["status", "--porcelain", "--untracked-files=no"])
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")
