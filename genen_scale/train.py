"""``python -m genen_scale.train`` / ``genen-train``: train GCN/GAT gene models, cross-validated.

Usage::

    python -m genen_scale.train [--config FILE] [--preset gcn|gat] [--section.key value ...]

Without ``--data.store`` it trains on the embedded demo dataset (generated, ingested and
encoded on first use). ``--scaling.num_workers N`` trains on N Ray Train workers: on the
cluster of a ``ray job submit`` job, on ``--scaling.ray_address``, or else on a local
Ray started in this process. See ``genen_scale/training/results.py`` for the outputs.
"""

from __future__ import annotations

import dataclasses
import logging
import sys

import ray

from genen_core.command_line import asks_for_help, help_text, parse_command_line
from genen_core.config import ConfigError
from genen_core.store import StoreError
from genen_scale.demo import demo_overrides, demo_store
from genen_scale.models import PRESETS
from genen_scale.training.config import TrainConfig
from genen_scale.training.distributed import connect
from genen_scale.training.inputs import TrainError
from genen_scale.training.results import format_summary
from genen_scale.training.run import run

log = logging.getLogger("genen_scale.train")


def parse_args(argv: list[str]) -> TrainConfig:
    """``--config FILE`` and ``--preset NAME`` (model defaults), then ``--key value`` overrides.

    Preset values sit between the file and the command line; the demo's defaults below
    them, for keys nobody set.
    """
    presets = {name: {"model": dataclasses.asdict(m)} for name, m in PRESETS.items()}
    return parse_command_line(TrainConfig, argv, presets=presets, below=demo_overrides)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    argv = sys.argv[1:] if argv is None else argv
    if asks_for_help(argv):
        print(help_text(TrainConfig, __doc__))
        return 0
    started = False
    try:
        cfg = parse_args(argv)
        if cfg.data.store is None:
            demo = demo_store(cfg.data.demo_cache)
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, store=str(demo)))
        started = connect(cfg.scaling)
        run_dir, summary = run(cfg)
        print(format_summary(summary))
        print(f"results: {run_dir}")
        return 0
    except (ConfigError, TrainError, StoreError) as e:
        print(f"genen-train: error: {e}", file=sys.stderr)
        return 2
    finally:
        if started:
            ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
