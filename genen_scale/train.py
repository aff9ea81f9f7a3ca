"""``python -m genen_scale.train`` / ``genen-train``: train GCN/GAT gene models, cross-validated.

Usage::

    python -m genen_scale.train [--config FILE] [--preset gcn|gat|paper_recipe]
                                [--predict true] [--mask_chain '[0, 0.25, ...]']
                                [--section.key value ...]

``--preset paper_recipe`` trains the run's task and model as the authors' notebooks did
(epochs, learning rate and schedule, depth, width; ``genen_scale/training/paper_recipe.py``,
``docs/paper-recipe.md``); ``--eval.protocol paper`` adds their splits.

Without ``--data.store`` it trains on the embedded demo dataset (generated, ingested and
encoded on first use). ``--scaling.num_workers N`` trains on N Ray Train workers: on the
cluster of a ``ray job submit`` job, on ``--scaling.ray_address``, or else on a local
Ray started in this process. See ``genen_scale/training/results.py`` for the outputs.
``--predict true`` then scores every gene of the store with the run's fold models, as
``genen-predict RUN_DIR`` does (``genome_predictions.parquet``, ``embeddings.parquet``).
``--mask_chain '[0, 0.25, 0.5, 0.75, 0.9]'`` trains the masking rates as the authors did,
one run per rate, each warm-started from the previous rate's models
(``genen_scale/training/chain.py``; add ``--data.mask_nodes all`` for their masking of
every node).
"""

from __future__ import annotations

import dataclasses
import logging
import sys

import ray
import yaml

from genen_core.command_line import begin_entry_point, parse_command_line, pop_option
from genen_core.config import ConfigError
from genen_core.store import StoreError
from genen_scale.demo import demo_overrides, demo_store
from genen_scale.models.gnn import PRESETS
from genen_scale.predict.cli import predict
from genen_scale.predict.trained_run import PredictError
from genen_scale.training.chain import run_chain
from genen_scale.training.config import TrainConfig
from genen_scale.training.distributed import connect
from genen_scale.training.inputs import TrainError
from genen_scale.training.paper_recipe import PRESET as PAPER_RECIPE
from genen_scale.training.paper_recipe import train_options
from genen_scale.training.results import format_summary
from genen_scale.training.run import run

log = logging.getLogger("genen_scale.train")


def parse_args(argv: list[str]) -> TrainConfig:
    """``--config FILE`` and ``--preset NAME`` (model defaults), then ``--key value`` overrides.

    Preset values sit between the file and the command line; the demo's defaults below
    them, for keys nobody set.
    """
    presets = {name: {"model": dataclasses.asdict(m)} for name, m in PRESETS.items()}
    presets[PAPER_RECIPE] = {}  # listed among the presets; filled below when chosen
    if pop_option(list(argv), "--preset") == PAPER_RECIPE:
        # The recipe depends on the task and model the rest of the command line chose.
        rest = list(argv)
        pop_option(rest, "--preset")
        chosen = parse_command_line(TrainConfig, rest, presets=presets, below=demo_overrides)
        try:
            presets[PAPER_RECIPE] = train_options(chosen.data.task, chosen.model.arch)
        except ValueError as e:
            raise ConfigError(f"--preset {PAPER_RECIPE}: {e}") from None
    return parse_command_line(TrainConfig, argv, presets=presets, below=demo_overrides)


def main(argv: list[str] | None = None) -> int:
    argv = begin_entry_point(argv, TrainConfig, __doc__)
    if argv is None:
        return 0
    started = False
    try:
        # Not a TrainConfig key: it decides nothing of the run (nor its config hash).
        then_predict = _flag(pop_option(argv, "--predict", "true or false"), "--predict")
        chain = pop_option(argv, "--mask_chain", "a list of masking rates")
        cfg = parse_args(argv)
        if cfg.data.store is None:
            demo = demo_store(cfg.data.demo_cache)
            cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, store=str(demo)))
        started = connect(cfg.scaling)
        if chain is not None:
            print(f"masking chain: {run_chain(cfg, _rates(chain))}")
            return 0
        run_dir, summary = run(cfg)
        print(format_summary(summary))
        print(f"results: {run_dir}")
        if then_predict:
            print(predict(str(run_dir)))
        return 0
    except (ConfigError, TrainError, StoreError, PredictError) as e:
        print(f"genen-train: error: {e}", file=sys.stderr)
        return 2
    finally:
        if started:
            ray.shutdown()


def _rates(value: str) -> list[float]:
    try:
        rates = yaml.safe_load(value)
        return [float(r) for r in rates]
    except (yaml.YAMLError, TypeError, ValueError):
        raise ConfigError(
            f"--mask_chain {value!r}: give a list of rates, e.g. '[0, 0.5]'"
        ) from None


def _flag(value: str | None, flag: str) -> bool:
    if value is None or value.lower() in ("false", "no", "0"):
        return False
    if value.lower() in ("true", "yes", "1"):
        return True
    raise ConfigError(f"{flag} {value!r}: give true or false")


if __name__ == "__main__":
    sys.exit(main())
