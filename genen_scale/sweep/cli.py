"""``genen-sweep CONFIG.toml`` / ``python -m genen_scale.sweep``: run a sweep, resumably.

Usage::

    genen-sweep CONFIG.toml [--output_dir DIR] [--local] [--key value ...]

Runs every trial of the sweep that has not finished yet (see
:mod:`genen_scale.sweep.runner`) on the cluster of a ``ray job submit`` job,
``--ray_address``, or a local Ray started here (bound to 127.0.0.1); ``--local`` runs
them one by one in this process. Exit status 0 when every trial has finished, 1 when
some failed (re-run the same command to retry them), 2 for a bad config.
"""

from __future__ import annotations

import logging
import sys

from genen_core.command_line import asks_for_help, help_text, parse_command_line, pop_positional
from genen_core.config import ConfigError
from genen_core.store import StoreError
from genen_scale.local_ray import join_or_start
from genen_scale.sweep.config import SweepConfig
from genen_scale.sweep.runner import run_sweep

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
    """``CONFIG.toml [--key value ...]``: the file is the sweep's ``--config``."""
    args = list(argv)
    path = pop_positional(args, "CONFIG.toml (the sweep's config file)")
    return parse_command_line(SweepConfig, ["--config", path, *args])


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    argv = sys.argv[1:] if argv is None else argv
    if asks_for_help(argv):
        print(help_text(SweepConfig, __doc__))
        return 0
    started = False
    try:
        cfg = parse_args(argv)
        started = connect(cfg)
        outcome = run_sweep(cfg)
        print(f"{outcome.done} of {outcome.total} trials finished; results: {outcome.results}")
        if outcome.failed:
            print(
                f"{len(outcome.failed)} trials failed ({', '.join(outcome.failed)}); see "
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
