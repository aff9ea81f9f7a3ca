"""``genen-sweep CONFIG.toml`` / ``python -m genen_scale.sweep``: run a sweep, resumably.

Usage::

    genen-sweep [CONFIG.toml] [--output_dir DIR] [--local] [--key value ...]

Without CONFIG.toml it runs the demo sweep (``genen_scale/sweep/demo.toml``: GCN and
logistic regression, with and without half the genes' text hidden, on the embedded demo
store, into ``sweeps/demo``); ``genen_scale/sweep/template.toml`` documents every key.
Runs every trial of the sweep that has not finished yet (see
:mod:`genen_scale.sweep.runner`) on the cluster of a ``ray job submit`` job,
``--ray_address``, or a local Ray started here (bound to 127.0.0.1); ``--local`` runs
them one by one in this process; Ray is not started when every trial has finished.
Exit status 0 when every trial has finished, 1 when some failed (re-run the same command
to retry them), 2 for a bad config.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from genen_core.command_line import begin_entry_point, parse_command_line, pop_positional
from genen_core.config import CliText, ConfigError
from genen_core.store import StoreError
from genen_scale.ray_env.local_ray import join_or_start
from genen_scale.sweep.config import SweepConfig
from genen_scale.sweep.demo import DEMO_SWEEP, with_demo_store
from genen_scale.sweep.grid import expand
from genen_scale.sweep.layout import is_done
from genen_scale.sweep.runner import RESULTS, claim_output_dir, collect, run_sweep

log = logging.getLogger("genen_scale.sweep")


def connect(cfg: SweepConfig) -> bool:
    """Join the configured or the job's Ray cluster, or start a local one; True if started."""
    import ray

    if cfg.local or ray.is_initialized():
        return False
    join_or_start(
        cfg.ray_address,
        log_to_driver=cfg.trial_logs,
        num_cpus=cfg.num_cpus,
        include_dashboard=False,
    )
    return True


def parse_args(argv: list[str]) -> SweepConfig:
    """``[CONFIG.toml] [--key value ...]``: the file (default: the demo sweep) is the
    sweep's ``--config``; a sweep naming no store runs on the demo store."""
    args = list(argv)
    path = str(DEMO_SWEEP)
    if args and not args[0].startswith("-"):
        path = pop_positional(args, "CONFIG.toml (the sweep's config file)")
    cfg = parse_command_line(SweepConfig, ["--config", path, *args])
    return with_demo_store(replace(cfg, train=_read(cfg.train)))


def _read(value: Any) -> Any:
    """``--train.key VALUE`` texts read as YAML values, as a file's values are: ``train``
    is a free mapping (checked per trial, by TrainConfig), so nothing typed them yet."""
    if isinstance(value, dict):
        return {k: _read(v) for k, v in value.items()}
    return value.typed(Any) if isinstance(value, CliText) else value


def has_pending(cfg: SweepConfig) -> bool:
    """Whether some trial of ``cfg`` has not finished (else there is no need for Ray)."""
    out = Path(cfg.output_dir).expanduser().resolve()
    return any(not is_done(out, s.id) for s in expand(cfg))


def main(argv: list[str] | None = None) -> int:
    argv = begin_entry_point(argv, SweepConfig, __doc__)
    if argv is None:
        return 0
    started = False
    try:
        cfg = parse_args(argv)
        out = Path(cfg.output_dir).expanduser().resolve()
        claim_output_dir(out)  # before Ray starts
        if cfg.collect_only:
            specs = expand(cfg)
            table, _ = collect(out, specs)
            done = table["trial"].nunique() if len(table) else 0
            print(f"{done} of {len(specs)} trials finished; results: {out / RESULTS}")
            return 0
        started = connect(cfg) if has_pending(cfg) else False
        outcome = run_sweep(cfg)
        print(f"{outcome.done} of {outcome.total} trials finished; results: {outcome.results}")
        print(f"report: genen-report {outcome.output_dir} (writes {outcome.output_dir}/report.md)")
        if outcome.failed:
            for trial_id, why in outcome.failed.items():
                print(f"genen-sweep: trial {trial_id} did not finish: {why}", file=sys.stderr)
            print(
                f"{len(outcome.failed)} trials did not finish; see "
                f"{outcome.output_dir}/trials/<id>/error.txt and re-run to retry",
                file=sys.stderr,
            )
            return 1
        return 0
    except (ConfigError, StoreError) as e:
        print(f"genen-sweep: error: {e}", file=sys.stderr)
        return 2
    finally:
        if started:
            import ray

            ray.shutdown()
