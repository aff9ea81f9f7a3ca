"""Configuration of a sweep: grids of trials, shared and per-axis training options, resources.

A sweep file (TOML or YAML) looks like::

    output_dir = "sweeps/table1"

    [train]                      # TrainConfig options of every trial (genen-train's keys)
    data.store = "/work/stores/human"
    optim.epochs = 200

    [resources]
    cpus_per_trial = 1

    [[leakage]]                  # named GO filters, referred to by grid.leakage
    name = "no_cc"
    exclude_go_namespace = ["cellular_component"]

    [[grid]]                     # a product of axes; the sweep is the union of its grids
    tasks = ["solubility", "subcellular_location"]
    models = ["gcn", "gat", "logreg"]
    mask_rates = [0.0, 0.5]
    options = { "optim.lr" = [1e-3, 1e-2] }   # any training option as an extra axis

    [[override]]                 # per-axis options: applied to trials whose keys match
    when = { model = "gat" }
    train = { model = { layers = 2 } }

Trials that several grids produce are run once (same config hash).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from genen_core.config import ConfigError
from genen_core.store import parse_graph_spec
from genen_scale.models.leakage import check_go_filter

GNN_MODELS = ("gcn", "gat")
BASELINE_MODELS = ("logreg", "mlp")
# The grid keys every trial (and every results row) has, in results-column order.
GRID_KEYS = ("task", "graph", "model", "mask_rate", "seed", "protocol", "leakage")
NO_LEAKAGE_FILTER = "none"


@dataclass
class LeakageConfig:
    """A named run-time GO filter (see :mod:`genen_scale.models.leakage`)."""

    name: str = ""
    """How grids refer to it (``grid.leakage``) and how results label it."""
    exclude_go_namespace: list[str] = field(default_factory=list)
    """GO namespaces dropped from the graph (e.g. ``[cellular_component]``)."""
    exclude_go_terms: str | None = None
    """Regex on GO id, name and definition; matching terms are dropped."""
    exclude_go_random: int = 0
    """GO terms dropped at random besides those (the size-matched control of a namespace
    drop; ``data.exclude_go_random``)."""
    exclude_go_random_seed: int = 0
    """Seed of the random draw, the same for every trial seed."""

    def __post_init__(self) -> None:
        if not self.name or self.name == NO_LEAKAGE_FILTER:
            raise ValueError(
                f"leakage.name={self.name!r}: give each filter a name other than "
                f"{NO_LEAKAGE_FILTER!r} (which means no filter)"
            )
        check_go_filter(
            self.exclude_go_namespace,
            self.exclude_go_terms,
            f"leakage {self.name!r}",
            self.exclude_go_random,
        )
        if not (self.exclude_go_namespace or self.exclude_go_random) and (
            self.exclude_go_terms is None
        ):
            raise ValueError(
                f"leakage {self.name!r} drops nothing; set a namespace, a regex or a random count"
            )


@dataclass
class GridConfig:
    """One product of axes. Baseline models ignore ``graphs`` and ``leakage`` (they see
    no graph), so their trials are shared by every graph of the grid."""

    tasks: list[str] = field(default_factory=lambda: ["solubility"])
    """Task names in the store (or label-file paths)."""
    graphs: list[str] = field(default_factory=lambda: ["go_ppi"])
    """Graphs, as ``data.graph`` takes them: the variants ``ppi``, ``go``, ``go_ppi``, a
    relation of the store (``huri``) or several joined by ``+`` (``ppi+huri``)."""
    models: list[Literal["gcn", "gat", "logreg", "mlp"]] = field(
        default_factory=lambda: ["gcn", "logreg"]
    )
    """GNNs and text-only baselines; each model is its own trial."""
    mask_rates: list[float] = field(default_factory=lambda: [0.0])
    """Shares of nodes whose text features are zeroed (``data.mask_rate``)."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Training seeds (model initialisation, sampling and which nodes are masked)."""
    protocols: list[Literal["cv", "paper"]] = field(default_factory=lambda: ["cv"])
    """Evaluation protocols (``eval.protocol``)."""
    leakage: list[str] = field(default_factory=lambda: [NO_LEAKAGE_FILTER])
    """Names of ``[[leakage]]`` filters; ``none`` keeps every GO term."""
    recipes: list[Literal["ours", "paper"]] = field(default_factory=lambda: ["ours"])
    """Training recipes of the GNN trials: ``ours`` (the ``[train]`` options) or
    ``paper``, the authors' recipe of each trial's task and model on top of them
    (:mod:`genen_scale.training.paper_recipe`). A grid that lists ``paper`` gives its trials, and
    their rows, a ``recipe`` key (baselines: ``none``)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Extra axes over any training option: dotted key -> list of values (applied after
    the recipe, so an axis can vary one of its values)."""

    def __post_init__(self) -> None:
        for name in (
            "tasks",
            "graphs",
            "models",
            "mask_rates",
            "seeds",
            "protocols",
            "leakage",
            "recipes",
        ):
            if not getattr(self, name):
                raise ValueError(f"grid.{name} is empty: give at least one value")
        for g in self.graphs:  # what --data.graph takes: a variant, a relation, or a+b
            try:
                parse_graph_spec(g)
            except ValueError as e:
                raise ValueError(f"grid.graphs: {e}") from None
        bad = [m for m in self.mask_rates if not 0.0 <= m < 1.0]
        if bad:
            raise ValueError(f"grid.mask_rates has {bad}, outside [0, 1)")
        for key, values in self.options.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"grid.options.{key}: give a non-empty list of values")


@dataclass
class OverrideConfig:
    """Training options for the trials whose grid keys match ``when``."""

    when: dict[str, Any] = field(default_factory=dict)
    """Grid key (``task``, ``graph``, ``model``, ``mask_rate``, ``seed``, ``protocol``,
    ``leakage`` or a ``grid.options`` key) -> a value or a list of accepted values."""
    train: dict[str, Any] = field(default_factory=dict)
    """Nested training options, as in ``[train]``; applied after it, in file order."""


@dataclass
class ResourceConfig:
    """What each trial reserves on the Ray cluster and how failures are handled."""

    cpus_per_trial: float = 1.0
    """CPUs reserved per trial (fractions pack several small trials on one CPU). With
    ``train.scaling.num_workers > 0`` this is only the trial's driver: Ray Train reserves
    its workers' CPUs itself (Train inside Tune)."""
    gpus_per_trial: float = 0.0
    """GPUs reserved per trial (fractional shares a GPU between trials)."""
    threads_per_trial: int = 1
    """Torch threads of an in-process trial (Ray sets OMP_NUM_THREADS=1 in workers)."""
    max_concurrent: int = 0
    """Upper bound on trials running at once; 0: as many as the resources allow."""
    max_failures: int = 1
    """Retries of a failing trial within one sweep invocation (a re-run retries again)."""

    def __post_init__(self) -> None:
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            raise ValueError(
                f"resources.cpus_per_trial={self.cpus_per_trial} must be > 0 and "
                f"resources.gpus_per_trial={self.gpus_per_trial} >= 0"
            )
        if self.threads_per_trial < 1 or self.max_concurrent < 0 or self.max_failures < 0:
            raise ValueError(
                f"resources.threads_per_trial={self.threads_per_trial} must be >= 1, "
                f"max_concurrent={self.max_concurrent} and max_failures={self.max_failures} >= 0"
            )


@dataclass
class SweepConfig:
    """A sweep: the union of ``grid`` products, run as Ray Tune trials."""

    output_dir: str = "sweeps/sweep"
    """Where ``results.parquet``, ``sweep.json`` and each trial's run directory go. On a
    multi-node cluster it must be a path every node sees (shared filesystem), like the
    store's: trials write their rows there and resuming reads them back."""
    train: dict[str, Any] = field(default_factory=dict)
    """TrainConfig options shared by every trial (``data``, ``model``, ``optim``,
    ``eval``, ``scaling`` sections); grid keys and overrides are applied on top."""
    resources: ResourceConfig = field(default_factory=ResourceConfig)
    leakage: list[LeakageConfig] = field(default_factory=list)
    """Named GO filters for ``grid.leakage``."""
    grid: list[GridConfig] = field(default_factory=lambda: [GridConfig()])
    """The grids whose union is the sweep."""
    override: list[OverrideConfig] = field(default_factory=list)
    """Per-axis training options, applied in order."""
    local: bool = False
    """Run the trials one after another in this process, without Ray (tests, debugging)."""
    collect_only: bool = False
    """Run nothing: rewrite ``results.parquet`` and ``sweep.json`` from the trials that
    have finished (after a sweep was stopped mid-run, before committing its rows)."""
    ray_address: str | None = None
    """Ray cluster to join; None joins a ``ray job submit`` job's cluster or starts a
    local one (bound to 127.0.0.1)."""
    num_cpus: int | None = None
    """CPUs of a local Ray cluster started by the sweep (None: all of this machine)."""
    trial_logs: bool = False
    """Forward every trial's log lines to this terminal (Ray's ``log_to_driver``). Off,
    the terminal shows the sweep's progress and failures (tracebacks in each trial's
    ``error.txt``), and trials run faster: forwarding measured 10% of a 2-core machine's
    throughput (``benchmarks/bench_sweep.py --log-to-driver``)."""
    max_trials: int = 2000
    """A sweep of more grid points than this runs only with ``yes``: every point is
    expanded and checked in memory before the first trial starts, which for a grid typed
    one axis too long takes minutes and gigabytes."""
    yes: bool = False
    """Run a sweep larger than ``max_trials`` (``--yes``)."""

    def __post_init__(self) -> None:
        if self.size() > self.max_trials and not self.yes:
            raise ValueError(
                f"the sweep has {self.size()} grid points, more than max_trials="
                f"{self.max_trials}; pass --yes to run it, or shorten an axis"
            )
        names = [f.name for f in self.leakage]
        if len(set(names)) != len(names):
            raise ValueError(f"leakage filters have duplicate names: {names}")
        for g in self.grid:
            unknown = sorted(set(g.leakage) - set(names) - {NO_LEAKAGE_FILTER})
            if unknown:
                raise ValueError(
                    f"grid.leakage names {unknown}, which no [[leakage]] filter defines "
                    f"(have {names or 'none'})"
                )
        keys = set(GRID_KEYS) | {k for g in self.grid for k in g.options}
        keys |= {"recipe"} if any(g.recipes != ["ours"] for g in self.grid) else set()
        for o in self.override:
            bad = sorted(set(o.when) - keys)
            if bad:
                raise ConfigError(
                    f"override.when has {bad}, which are not grid keys {sorted(keys)}"
                )

    def size(self) -> int:
        """Grid points of the sweep: the product of each grid's axes, summed (baselines
        that share a config are merged later, so trials can be fewer)."""
        total = 0
        for g in self.grid:
            axes = [v for f in fields(g) if isinstance(v := getattr(g, f.name), list)]
            total += math.prod(len(a) for a in [*axes, *g.options.values()])
        return total

    def leakage_filter(self, name: str) -> LeakageConfig | None:
        """The named filter; None for ``none``."""
        return next((f for f in self.leakage if f.name == name), None)
