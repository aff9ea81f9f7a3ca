"""Configuration of a training run: sections owned by the parts of the run that read them.

``TrainConfig`` composes :class:`~genen_scale.models.gnn.ModelConfig` (the model's own section)
with the sections below; :func:`genen_core.config.load_config` fills it from defaults, a
YAML/TOML file and ``--section.key value`` overrides, rejecting unknown keys. Each
function is handed only the section it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from genen_core.store import parse_graph_spec
from genen_scale.models.gnn import ModelConfig
from genen_scale.models.leakage import check_go_filter

DEFAULT_FANOUT = 10
# Config fields that say where a run is written, whether it resumes and which cluster it
# joins, not what it computes: left out of "the same config" (its hash).
NOT_HASHED = (("output_dir",), ("run_name",), ("resume",), ("scaling", "ray_address"))
# Part of every config hash, which covers only the fields set away from their defaults
# (genen_core.config.config_digest): bump it when a default changes what a run computes,
# so results of the old default are not taken for the new. 0.2: optim.select defaults to
# val_loss, binary F1 is read at a validation threshold.
RESULTS_VERSION = "0.2"


@dataclass
class DataConfig:
    """What to train on."""

    # The masking share is ``mask_rate`` everywhere users meet it (sweep grids'
    # ``mask_rates``, result rows, reports); this field was ``mask_fraction``, which old
    # run directories and sweep trials still hold, so that name loads (with a warning) and
    # the field is hashed under it (trial ids and resume checks stay as they were).
    renamed_keys: ClassVar[dict[str, str]] = {"mask_fraction": "mask_rate"}

    store: str | None = None
    """Path of a graph store (``genen-ingest``), or a URI (``file://``, ``s3://``,
    ``gs://``) that each node copies once to ``store_cache`` (see
    ``genen_scale.ray_env.store_sync``); None: ``genen-train`` builds and uses the embedded
    demo (:mod:`genen_scale.demo`)."""
    store_cache: str = "~/.cache/genen_scale/stores"
    """Local directory of each node where a store given as a URI is copied."""
    demo_cache: str = "~/.cache/genen_scale/demo"
    """Where the demo store is built and kept when ``store`` is None."""
    features: str = "minilm"
    """Name of the node feature matrix in the store (``genen-encode`` writes ``minilm``)."""
    graph: str = "go_ppi"
    """Graph variant (``ppi``, ``go``, ``go_ppi``), a stored relation (``gene_go``, a user
    edge list such as ``huri``), or several joined by ``+`` (``ppi+huri``,
    ``huri+gene_go+go_go``), merged when the run starts (an edge in several keeps its
    largest weight)."""
    task: str = "solubility"
    """Task name in the store's manifest, or the path of your own label file (``.csv`` /
    ``.tsv`` in the common schema ``gene,label[,task][,kind]``, see ``genen_core.labels``)."""
    mask_rate: float = 0.0
    """Share of gene nodes whose text features are zeroed (the paper's masking
    experiment); which genes is fixed by ``TrainConfig.seed``. Baselines see the same
    masked features. Masked training genes keep their labels; test metrics are also
    reported for masked and unmasked test genes apart (``auc_masked``, ``auc_unmasked``)."""
    mask_nodes: Literal["genes", "all", "go"] = "genes"
    """Which nodes ``mask_rate`` draws from: gene nodes (the paper), all nodes, or GO
    term nodes only. The masked set depends only on the store, this choice and the seed,
    so it is shared by every fold, model and graph variant of that seed."""
    study_threshold: int | None = None
    """Word count at or below which a test gene counts as less studied (the knowledge-bias
    split); None: the median word count of the task's genes."""
    exclude_go_namespace: list[str] = field(default_factory=list)
    """GO namespaces whose terms are dropped from the run's graph with all their edges
    (e.g. ``[cellular_component]``): leakage control without a second ingest."""
    exclude_go_terms: str | None = None
    """Regex (case-insensitive, searched) on a GO term's id, name and text (name and
    definition): matching terms are dropped from the run's graph with their edges, e.g.
    the paper's ``'soluble|solubility|insolubility'``."""
    exclude_go_random: int = 0
    """How many GO terms, drawn at random from those the filters above keep, are dropped
    too: the size-matched control of a namespace drop (e.g. as many terms as
    ``cellular_component`` holds). 0: none."""
    exclude_go_random_seed: int = 0
    """Seed of that draw, apart from ``seed`` so that every trial seed drops the same
    terms."""
    fanouts: list[int] | None = None
    """Neighbours sampled per node at each hop (-1: all), seeds' hop first; one entry per
    message-passing layer (``model.num_hops``). None: 10 per hop. Validation, test and
    embedding inference use the same fanouts."""
    batch_size: int = 256
    """Seed (labelled) nodes per mini-batch and per worker."""
    full_batch: bool | Literal["auto"] = "auto"
    """Propagate over the whole graph every step (true) or train on sampled neighbourhoods
    (false). ``auto``: full batch when the graph and the model's activations fit
    ``full_batch_memory_gb``, else sampled; sampled whenever ``scaling.num_workers`` > 1,
    as every DDP worker would compute the whole graph (0.23 of linear on 2 workers,
    ``benchmarks/README.md``); the log says which and why. true with several workers
    is full batch, with a warning."""
    receptive_field: bool = True
    """In full batch, compute only what the task's genes read: the nodes within the
    model's hops of them, trimmed per layer (:mod:`genen_scale.models.receptive`; exact at the
    genes, the dropout masks differ). false: every node of the graph every layer."""
    full_batch_memory_gb: float = 8.0
    """Memory budget of ``full_batch = auto`` (GiB per worker, estimated: features, the
    graph and its adjacency, the activations and gradients of every layer, times the
    folds when they train stacked). 8 fits the real GO+PPI store with 5 stacked folds at
    hidden 256 (measured peak 5.2 GB)."""

    def __post_init__(self) -> None:
        try:
            parse_graph_spec(self.graph)
        except ValueError as e:
            raise ValueError(f"data.{e}") from None
        if not 0.0 <= self.mask_rate < 1.0:
            raise ValueError(f"data.mask_rate={self.mask_rate} must lie in [0, 1)")
        if self.fanouts is not None and (
            not self.fanouts or any(f == 0 or f < -1 for f in self.fanouts)
        ):
            raise ValueError(
                f"data.fanouts={self.fanouts}: give one positive count (or -1 for all "
                "neighbours) per layer"
            )
        if self.batch_size < 1:
            raise ValueError(f"data.batch_size={self.batch_size} must be at least 1")
        if self.full_batch_memory_gb <= 0:
            raise ValueError(
                f"data.full_batch_memory_gb={self.full_batch_memory_gb} must be positive"
            )
        check_go_filter(
            self.exclude_go_namespace,
            self.exclude_go_terms,
            "data.exclude_go_*",
            self.exclude_go_random,
        )


@dataclass
class OptimConfig:
    """Optimiser and stopping."""

    lr: float = 1e-2
    """Adam learning rate. Full batch (the default where the graph fits) takes one step
    per epoch, where 1e-3 moves a GCN too little before patience runs out."""
    weight_decay: float = 5e-4
    """Adam L2 weight decay."""
    epochs: int = 100
    """Maximum epochs per fold."""
    patience: int = 20
    """Stop a fold after this many epochs without a better validation score (``select``)."""
    select: Literal["val_loss", "val_metric"] = "val_loss"
    """What picks the kept epoch and counts patience. ``val_loss``: the lowest validation
    loss (the training objective on the validation genes). ``val_metric``: the highest
    validation primary metric (AUC, Pearson), the rule before 0.2: on small label sets
    (11–23 validation genes) AUC saturates or is noise, and 20 of the grid's 50
    small-task folds kept the model of epoch 0 or 1 (``docs/model-selection.md``)."""
    min_delta: float = 0.0
    """An epoch counts as better only when it beats the best by more than this (in the
    units of ``select``)."""
    scheduler: Literal["none", "plateau"] = "none"
    """Learning-rate schedule. ``plateau``: ``ReduceLROnPlateau`` on the validation loss
    (the training loss where there is no validation split, as the authors' code does)."""
    scheduler_factor: float = 0.2
    """``plateau``: the learning rate is multiplied by this when the loss stalls."""
    scheduler_patience: int = 50
    """``plateau``: epochs without progress before the learning rate drops."""

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"optim.lr={self.lr} must be positive")
        if not 0.0 < self.scheduler_factor < 1.0:
            raise ValueError(f"optim.scheduler_factor={self.scheduler_factor} must lie in (0, 1)")
        if self.scheduler_patience < 0 or self.min_delta < 0:
            raise ValueError(
                f"optim.scheduler_patience={self.scheduler_patience} and "
                f"optim.min_delta={self.min_delta} must be >= 0"
            )
        if self.weight_decay < 0:
            raise ValueError(f"optim.weight_decay={self.weight_decay} must be >= 0")
        if self.epochs < 1 or self.patience < 1:
            raise ValueError(
                f"optim.epochs={self.epochs} and optim.patience={self.patience} must be >= 1"
            )


@dataclass
class EvalConfig:
    """Cross-validation and baselines."""

    protocol: Literal["cv", "paper"] = "cv"
    """``cv``: stratified ``folds``-fold cross-validation, a validation split for early
    stopping and model selection, test read once. ``paper``: what the published Genen
    code did, ``folds`` repeated random (unstratified) splits holding out
    ``test_fraction``, no validation split, trained ``optim.epochs`` epochs and tested
    with the last epoch's model."""
    folds: int = 5
    """Number of stratified folds (``paper`` protocol: of repeated random splits)."""
    test_fraction: float = 0.2
    """Share of the task's genes held out for testing in each ``paper``-protocol split."""
    seed: int = 0
    """Seed of the fold split (kept apart from the training seed so that seeds of the
    model can vary over the same folds)."""
    val_fraction: float = 0.1
    """Share of each training fold held out for early stopping (``cv`` protocol). 0: no
    validation split; every fold trains exactly ``optim.epochs`` epochs and keeps the last
    epoch's model (as the ``paper`` protocol does; baselines then fit default penalties)."""
    folds_to_run: list[int] | None = None
    """Fold indices to train (None: all)."""
    baselines: list[Literal["logreg", "mlp"]] = field(default_factory=lambda: ["logreg"])
    """Text-only baselines run on the same folds and reported beside the GNN."""

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"eval.folds={self.folds}: cross-validation needs at least 2")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"eval.test_fraction={self.test_fraction} must lie in (0, 1)")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"eval.val_fraction={self.val_fraction} must lie in [0, 1)")
        bad = [i for i in self.folds_to_run or [] if not 0 <= i < self.folds]
        if bad:
            raise ValueError(f"eval.folds_to_run has {bad}, outside [0, {self.folds})")


@dataclass
class ScaleConfig:
    """Where and how wide the run goes (Ray Train)."""

    num_workers: int = 1
    """Ray Train workers (DDP ranks), on the job's cluster or a local Ray started in
    process. 0 runs the same loop in this process without Ray actors (Ray Train's local
    mode: quickest for small runs and tests)."""
    threads_per_worker: int = 2
    """Torch intra-op threads and CPUs reserved per worker."""
    use_gpu: bool = False
    """One GPU per worker (NCCL); CPU workers use gloo."""
    ray_address: str | None = None
    """Ray cluster to join (``auto``, ``ray://host:10001``); None joins the cluster of a
    ``ray job submit`` job (RAY_ADDRESS) or else starts a local one."""
    max_failures: int = 2
    """Worker-group restarts allowed; each resumes from the last checkpoint."""
    checkpoints_to_keep: int = 2
    """Checkpoints kept in storage (each holds the latest state, so 1 suffices to resume)."""
    stack_folds: bool = False
    """Train the folds of a full-batch GCN run (unit or fixed edge weights) together as
    one stacked model: one SpMM per layer serves every fold; per-fold results equal
    training each fold alone. Sampled runs, GAT and learned edge weights go fold by fold.
    Off by default: on the 2-core CPUs measured (``benchmarks/README.md``) the shared SpMM
    saved less than the stacked layout costs (0.73x of folds one by one with the
    receptive field, 1.12x without it on an AMX Xeon)."""
    precision: Literal["float32", "bfloat16"] = "float32"
    """Matmul precision of training and inference. ``bfloat16``: mixed precision
    (``torch.autocast``): the dense feature transforms run in bfloat16 while weights,
    optimiser, sparse propagation, losses and outputs stay float32. Measured on a 2-core
    AMX CPU (real GO+PPI, hidden 256): only 1.1x per step, which memory traffic and the
    sparse propagation bound there (``benchmarks/README.md``); GPUs gain more. ``float32``
    is exact (the stacked-fold and resume equivalences hold to float tolerance only there)."""
    checkpoint_every: int = 5
    """Epochs between checkpoints (and one at every fold's end); Ray Train hears of the run
    only then. A checkpoint holds only model, optimiser and fold counters, but a Ray Train
    report with a checkpoint still costs a fraction of a second, as much as a short
    full-batch epoch; each epoch's ``checkpoint_s`` in ``history.json`` shows the cost.
    A restart replays at most this many epochs."""

    def __post_init__(self) -> None:
        if self.num_workers < 0 or self.threads_per_worker < 1:
            raise ValueError(
                f"scaling.num_workers={self.num_workers} must be >= 0 and "
                f"scaling.threads_per_worker={self.threads_per_worker} >= 1"
            )
        if self.checkpoint_every < 1:
            raise ValueError(f"scaling.checkpoint_every={self.checkpoint_every} must be >= 1")
        if self.max_failures < 0 or self.checkpoints_to_keep < 1:
            raise ValueError(
                f"scaling.max_failures={self.max_failures} must be >= 0 and "
                f"scaling.checkpoints_to_keep={self.checkpoints_to_keep} >= 1"
            )


@dataclass
class TrainConfig:
    """A training run: data, model, optimiser, evaluation, scaling and outputs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    scaling: ScaleConfig = field(default_factory=ScaleConfig)
    output_dir: str = "results"
    """Parent of the run's results directory."""
    run_name: str | None = None
    """Name of the results directory; None: ``<task>-<arch>-<graph>-<timestamp>``."""
    seed: int = 0
    """Seed of model initialisation, dropout, batch order, sampling and masking."""
    init_from: str | None = None
    """A finished run directory whose kept fold models start this run's folds (fold k from
    its ``checkpoints/best_fold{k}.pt``; the model config must match): the warm start of
    the authors' masking chain (``genen-train --mask_chain``). None: a fresh
    initialisation."""
    resume: bool = False
    """Continue the run ``run_name`` (or the latest run of this task/model/graph) from
    its last checkpoint, skipping finished folds."""

    def __post_init__(self) -> None:
        hops = self.model.num_hops
        if self.data.fanouts is None:
            self.data.fanouts = [DEFAULT_FANOUT] * hops
        elif len(self.data.fanouts) != hops:
            raise ValueError(
                f"data.fanouts={self.data.fanouts} has {len(self.data.fanouts)} hops but the "
                f"model passes messages over {hops} (model.layers={self.model.layers} plus "
                f"a {self.model.output!r} output); give {hops} fanouts"
            )
