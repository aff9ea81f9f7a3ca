"""What a Ray Tune trial actor runs: the trainable, and the child process it trains in.

This module stays light (standard library and Ray) and imports the training code only
inside functions, on purpose. Tune imports it in every trial actor to unpickle
:func:`tune_trial`; importing torch and PyG there would cost the actor ~13 s on a small
CPU before its first trial, and the actor's child process imports them again anyway.

Inside a Ray Tune trial, Ray Train's local mode (``scaling.num_workers = 0``) cannot run
in the trial's own process: Train V2 refuses ``ray.train.get_context`` inside a Tune
session (ray-project/ray#49454). So each actor keeps one child process, forked from a
forkserver that has imported the training code, and hands it its trials one after
another (Tune reuses the actor, and with it the child). A child that has run a trial is
warm: imports, allocator and kernels are set up, so the next trial starts at once. The
child has no Tune session; it uses the CPUs Tune reserved for the trial and reports
through the trial directory (``rows.parquet`` or ``error.txt``). It is killed if the
actor dies, so an interrupted sweep never leaves a trial running behind a re-run.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from genen_core.logs import setup_logging
from genen_scale.sweep.layout import ERROR, trial_dir

# The module the child's forkserver imports once: everything a trial runs.
TRIAL_MODULE = "genen_scale.sweep.trial"


class TrialError(RuntimeError):
    """A trial run in a child process failed; the message ends with the child's error."""


def tune_trial(config: dict) -> None:
    """The Tune function trainable: one trial, reported once when it has finished."""
    from ray import tune

    setup_logging()  # a fresh worker process logs nothing by default
    spec, out = config["spec"], config["sweep_dir"]
    # Ray Train inside Tune: a multi-worker trial's own process drives its Train workers.
    run = _run if spec["train"]["scaling"]["num_workers"] > 0 else run_in_child
    tune.report({"wall_s": run(spec, out, config["cpus"], config["gpus"])})


def run_in_child(spec: dict, sweep_dir: str, cpus: float, gpus: float) -> float:
    """:func:`genen_scale.sweep.trial.run_trial` in this process's child; its wall time.

    Raises:
        TrialError: The trial failed, or the child died (a new one serves the next trial).
    """
    try:
        return _child().submit(_run, spec, sweep_dir, cpus, gpus).result()
    except BrokenProcessPool:
        _child.cache_clear()
        reason = "its process died (killed, or out of memory)"
    except Exception as e:  # the trial's own error, re-raised in this process
        reason = f"{type(e).__name__}: {e}"
    error = trial_dir(sweep_dir, spec["id"]) / ERROR
    raise TrialError(f"trial {spec['id']} failed: {reason} (see {error})")


@functools.cache
def _child() -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([TRIAL_MODULE])
    return ProcessPoolExecutor(1, mp_context=ctx, initializer=_child_init)


def _child_init() -> None:
    if sys.platform.startswith("linux"):
        # PR_SET_PDEATHSIG: SIGKILL this process when its parent (the forkserver, which
        # exits with the actor's process) dies.
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    setup_logging()


def _run(spec: dict, sweep_dir: str, cpus: float, gpus: float) -> float:
    """:func:`~genen_scale.sweep.trial.run_trial`; its wall time (in the child, its imports
    were preloaded by the forkserver)."""
    from genen_scale.sweep.grid import TrialSpec
    from genen_scale.sweep.trial import run_trial

    rows = run_trial(TrialSpec.from_dict(spec), Path(sweep_dir), cpus, gpus)
    return float(rows["wall_s"].iloc[0]) if len(rows) else 0.0
