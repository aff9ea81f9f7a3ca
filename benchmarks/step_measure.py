"""Measuring a benchmark step in its own process, and describing the machine it ran on.

:func:`spawn_measured` runs one command and reads that child's own wall time, CPU time and
peak RSS; :func:`best_of` repeats it and keeps the best run; :func:`environment` is the
record every benchmark JSON carries (date, git revision, CPU, memory, versions), so a
figure can be traced to the machine and code that produced it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def spawn_measured(
    cmd: list[str], stdout_to_null: bool = False, json_out: bool = False, mem_gb: float = 0
) -> dict:
    """Run ``cmd``; its wall and CPU time, peak RSS (MiB) and, with ``json_out``, its last stdout line.

    ``os.wait4`` on the child's pid gives that child's own rusage (``RUSAGE_CHILDREN``
    would accumulate the maximum over every child so far). ``mem_gb`` caps the child's
    address space, so that a step that would exhaust a shared machine fails alone instead.
    """

    def limit() -> None:
        if mem_gb:
            cap = int(mem_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL if stdout_to_null else out,
            stderr=err,
            cwd=ROOT,
            preexec_fn=limit,
        )
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if p.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {p.returncode}:\n{errors[-3000:]}")
    result = {
        "wall_s": round(wall, 3),
        # CPU seconds (user + system): on a shared machine they move far less with the
        # load than wall time does, so they tell a slower run from a busier machine.
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mb": round(usage.ru_maxrss / 1024.0, 1),
    }
    if json_out:
        result.update(json.loads(text.strip().splitlines()[-1]))
    return result


def best_of(cmd: list[str], repeat: int, **kw) -> dict:
    """Best of ``repeat`` runs; a failing step is recorded with its error, not raised."""
    try:
        runs = [spawn_measured(cmd, **kw) for _ in range(repeat)]
    except RuntimeError as e:
        return {"error": str(e)[-2000:]}
    best = min(runs, key=lambda r: r.get("seconds", r["wall_s"]))
    return {
        **best,
        "runs_wall_s": [r["wall_s"] for r in runs],
        "runs_cpu_s": [r["cpu_s"] for r in runs],
        "rss_mb": max(r["rss_mb"] for r in runs),
    }


def environment() -> dict:
    def version(pkg: str) -> str | None:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return None

    cpu = "unknown"
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT
    )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git.stdout.strip() + ("+dirty" if dirty.stdout.strip() else ""),
        "hardware": {
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "gzip": subprocess.run(
                ["gzip", "--version"], capture_output=True, text=True
            ).stdout.splitlines()[0],
        },
        "versions": {
            "python": platform.python_version(),
            **{p: version(p) for p in ("numpy", "duckdb", "pyarrow", "pandas", "scipy")},
        },
    }
