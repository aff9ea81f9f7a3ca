"""Expanding a sweep into trials: grid keys, resolved training config, config hash.

A trial is one model on one configuration, all its folds. Its id is a hash of what
determines its results (the resolved training config and the model), so re-running a
sweep recognises finished trials, and grids that produce the same trial share it.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from genen_core.config import ConfigError, from_mapping, merge_mappings, to_dict
from genen_core.store import VARIANTS, parse_graph_spec
from genen_scale.sweep.config import (
    BASELINE_MODELS,
    GRID_KEYS,
    NO_LEAKAGE_FILTER,
    SweepConfig,
)
from genen_scale.training import results
from genen_scale.training.config import TrainConfig
from genen_scale.training.paper_recipe import train_options

# Graph-free models have no graph and no GO filter; their trials carry this key value.
NO_GRAPH = "none"


@dataclass(frozen=True)
class TrialSpec:
    """One trial: its grid keys and its full training config as plain data.

    Attributes:
        id: 12 hex digits of the config hash (the trial's directory name).
        keys: Grid key -> value (:data:`~genen_scale.sweep.config.GRID_KEYS` and the
            grid's ``options`` keys), as they appear in ``results.parquet``.
        train: The resolved :class:`TrainConfig` as a mapping.
    """

    id: str
    keys: dict[str, Any]
    train: dict[str, Any]

    @property
    def model(self) -> str:
        return self.keys["model"]

    @property
    def is_baseline(self) -> bool:
        return self.model in BASELINE_MODELS

    def config(self, output_dir: Path) -> TrainConfig:
        """The trial's TrainConfig writing its run into ``output_dir/run``."""
        return from_mapping(
            TrainConfig, {**self.train, "output_dir": str(output_dir), "run_name": "run"}
        )

    def to_dict(self) -> dict:
        return {"id": self.id, "keys": self.keys, "train": self.train}

    @classmethod
    def from_dict(cls, d: dict) -> TrialSpec:
        return cls(d["id"], dict(d["keys"]), dict(d["train"]))


def _nested(dotted: str, value: Any) -> dict:
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def _matches(when: dict, keys: dict) -> bool:
    for k, accepted in when.items():
        values = accepted if isinstance(accepted, list) else [accepted]
        if keys.get(k) not in values:
            return False
    return True


def trial_id(model: str, cfg: TrainConfig) -> str:
    """12 hex digits: the trial's model and its training config's hash, the one a run's
    resume check uses (:func:`genen_scale.training.results.config_hash`)."""
    digest = results.config_hash(cfg)
    return hashlib.sha256(f"{model}:{digest}".encode()).hexdigest()[:12]


def config_hash(model: str, train: dict) -> str:
    """:func:`trial_id` of a training config given as a mapping (a ``trial.json``)."""
    return trial_id(model, from_mapping(TrainConfig, train))


def expand(cfg: SweepConfig) -> list[TrialSpec]:
    """Every trial of the sweep, each once, in grid order.

    Raises:
        genen_core.config.ConfigError: A trial's training config is invalid (the message
            names the trial's grid keys).
    """
    defaults = {
        "scaling": {"num_workers": 0, "threads_per_worker": cfg.resources.threads_per_trial}
    }
    base = merge_mappings(defaults, cfg.train)
    store = base.get("data", {}).get("store")
    if store is not None:  # trials run in other working directories (Tune's trial dirs)
        base = merge_mappings(base, {"data": {"store": str(Path(store).expanduser().resolve())}})
    trials: dict[str, TrialSpec] = {}
    # Each grid point resolves and validates a whole TrainConfig: ~1 ms, minutes for a
    # grid near max_trials, so a large expansion shows its progress.
    size = cfg.size()
    bar = tqdm(total=size, desc="expanding the grid", unit="point", disable=size < 500)
    for grid in cfg.grid:
        # The recipe is a key only where a grid asks for the authors' one: rows of other
        # grids keep their columns.
        option_keys = (["recipe"] if grid.recipes != ["ours"] else []) + list(grid.options)
        axes = [
            grid.tasks,
            grid.graphs,
            grid.models,
            grid.mask_rates,
            grid.seeds,
            grid.protocols,
            grid.leakage,
            *([grid.recipes] if option_keys[:1] == ["recipe"] else []),
            *(grid.options[k] for k in option_keys if k != "recipe"),
        ]
        for values in itertools.product(*axes):
            keys = dict(zip(GRID_KEYS + tuple(option_keys), values, strict=True))
            spec = _trial(cfg, base, keys, option_keys)
            trials.setdefault(spec.id, spec)
            bar.update()
    bar.close()
    return list(trials.values())


def _relations(graph: str) -> set[str]:
    """The stored relations a graph spec joins (``ppi+go`` -> ppi, gene_go, go_go)."""
    return {r for part in parse_graph_spec(graph) for r in VARIANTS.get(part, (part,))}


def _trial(cfg: SweepConfig, base: dict, keys: dict, option_keys: list[str]) -> TrialSpec:
    baseline = keys["model"] in BASELINE_MODELS
    if baseline:
        keys = {**keys, "graph": NO_GRAPH, "leakage": NO_LEAKAGE_FILTER}
        if "recipe" in keys:
            keys["recipe"] = NO_GRAPH  # no recipe: the baselines train no GNN
    elif "gene_go" not in _relations(keys["graph"]):  # no GO terms to filter
        keys = {**keys, "leakage": NO_LEAKAGE_FILTER}
    data: dict[str, Any] = {"task": keys["task"], "mask_rate": float(keys["mask_rate"])}
    model: dict[str, Any] = {}
    if not baseline:
        data["graph"] = keys["graph"]
        model["arch"] = keys["model"]
        flt = cfg.leakage_filter(keys["leakage"])
        if flt is not None:
            data["exclude_go_namespace"] = list(flt.exclude_go_namespace)
            data["exclude_go_terms"] = flt.exclude_go_terms
            data["exclude_go_random"] = flt.exclude_go_random
            data["exclude_go_random_seed"] = flt.exclude_go_random_seed
    train = merge_mappings(
        base,
        {
            "data": data,
            "model": model,
            "eval": {"protocol": keys["protocol"], "baselines": []},
            "seed": int(keys["seed"]),
        },
    )
    if keys.get("recipe") == "paper":
        try:
            train = merge_mappings(train, train_options(keys["task"], keys["model"]))
        except ValueError as e:
            raise ConfigError(f"grid recipes: {e}") from None
    for k in option_keys:
        if k != "recipe":
            train = merge_mappings(train, _nested(k, keys[k]))
    for o in cfg.override:
        if _matches(o.when, keys):
            train = merge_mappings(train, o.train)
    where = ", ".join(f"{k}={v}" for k, v in keys.items())
    run_cfg = from_mapping(TrainConfig, train, f"trial ({where})")
    return TrialSpec(trial_id(keys["model"], run_cfg), keys, to_dict(run_cfg))
