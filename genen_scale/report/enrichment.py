"""``python -m genen_scale.report.enrichment RUN_DIR``: GO enrichment of embedding clusters.

The paper's Figure 3b/d for one training run: the run's genes (its task's genes, or every
gene) are clustered by k-means in the refined space (``RUN_DIR/embeddings.npy``, or one
fold's ``embeddings_fold{k}.npy``) and, for contrast, in the store's text features the
run trained on; each cluster's top GO terms (hypergeometric test, Benjamini–Hochberg; see
:mod:`genen_scale.report.go_enrichment`) go into ``RUN_DIR/enrichment.md`` as a table,
and a 2-D map of each space coloured by cluster and labelled by its top term into
``RUN_DIR/figures/enrichment.png``.

Usage::

    python -m genen_scale.report.enrichment RUN_DIR [--clusters 8] [--genes task|all]
        [--namespace biological_process] [--fold K] [--projection tsne|pca] [--key value ...]
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from genen_core.command_line import run_entry_point
from genen_core.known_labels import LABEL_SUFFIXES
from genen_core.store import GO_NAMESPACES, StoreError
from genen_scale.predict.trained_run import PredictError, TrainedRun
from genen_scale.report.go_enrichment import Enrichment, enrich, go_annotations, kmeans_clusters
from genen_scale.report.tables import markdown
from genen_scale.tasks.task import load_task, load_user_task

log = logging.getLogger(__name__)


@dataclass
class EnrichmentConfig:
    """Which genes to cluster, how, and what to test."""

    run_dir: str = ""
    """The run directory ``genen-train`` printed after ``results:``."""
    store: str | None = None
    """The store, where it moved since training; None: the one the run recorded."""
    genes: Literal["task", "all"] = "task"
    """Cluster the run's task genes (as the paper's Figure 3) or every gene node."""
    fold: int | None = None
    """Refined embeddings of this fold's kept model; None: ``embeddings.npy`` (the fold
    with the best validation metric)."""
    clusters: int = 8
    """k of k-means, the same in both spaces."""
    namespace: str = "biological_process"
    """GO namespace whose terms are tested."""
    min_term_genes: int = 3
    """Smallest term tested, in annotated genes among those clustered."""
    top: int = 3
    """Terms listed per cluster."""
    alpha: float = 0.05
    """Largest adjusted p (q) listed."""
    projection: Literal["tsne", "pca"] = "tsne"
    """2-D map of the figure (``pca`` is faster)."""
    points: int = 3000
    """At most this many genes (a seeded sample) drawn in the figure; clusters and
    tests use every gene."""
    seed: int = 0
    """Seed of k-means and of the map."""
    output: str | None = None
    """Markdown file to write; None: ``RUN_DIR/enrichment.md`` (figure in ``figures/``
    beside it)."""

    def __post_init__(self) -> None:
        if not self.run_dir:
            raise ValueError(
                "give the run directory: python -m genen_scale.report.enrichment RUN_DIR"
            )
        if self.namespace not in GO_NAMESPACES:
            raise ValueError(f"namespace={self.namespace!r}: use one of {list(GO_NAMESPACES)}")
        if self.clusters < 2 or min(self.top, self.min_term_genes, self.points) < 1:
            raise ValueError(
                "clusters must be at least 2, and top, min_term_genes and points at least 1"
            )
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha={self.alpha} must lie in (0, 1]")


def run_enrichment(cfg: EnrichmentConfig) -> Path:
    """Cluster, test, and write the markdown and the figure; returns the markdown path.

    Raises:
        PredictError: Not a finished run directory, its store is gone, or the embeddings
            asked for are missing or do not match the store.
    """
    run = TrainedRun.open(cfg.run_dir, cfg.store)
    emb_file = _embedding_file(run, cfg.fold)
    refined = np.load(emb_file, mmap_mode="r")
    if refined.shape[0] != run.store.num_genes:
        raise PredictError(
            f"{emb_file}: {refined.shape[0]} rows, but the store has {run.store.num_genes} "
            "genes; pass --store with the store this run trained on"
        )
    genes = _genes(run, cfg.genes)
    text = np.asarray(run.store.features(run.cfg.data.features)[genes], dtype=np.float32)
    spaces = {"refined": np.asarray(refined[genes], dtype=np.float32), "text": text}
    ann = go_annotations(run.store, genes, cfg.namespace)
    results = {
        name: enrich(name, kmeans_clusters(x, cfg.clusters, cfg.seed), ann, cfg.min_term_genes)
        for name, x in spaces.items()
    }
    out = Path(cfg.output) if cfg.output else run.path / "enrichment.md"
    figure = enrichment_figure(spaces, results, cfg, out.parent / "figures" / "enrichment.png")
    out.write_text(
        _markdown(run, emb_file, len(genes), results, cfg, figure.relative_to(out.parent))
    )
    log.info("enrichment: %s", out)
    return out


def _embedding_file(run: TrainedRun, fold: int | None) -> Path:
    if fold is None:
        path = run.path / "embeddings.npy"
    else:
        by_fold = {f.fold: f.embeddings for f in run.folds}
        if fold not in by_fold:
            raise PredictError(f"{run.path}: no finished fold {fold} (finished: {sorted(by_fold)})")
        path = by_fold[fold]
    if not path.is_file():
        raise PredictError(f"{path} is missing; give --fold K to read embeddings_fold{{K}}.npy")
    return path


def _genes(run: TrainedRun, which: str) -> np.ndarray:
    if which == "all":
        return np.arange(run.store.num_genes, dtype=np.int64)
    task_name = run.cfg.data.task
    try:
        if Path(task_name).suffix in LABEL_SUFFIXES:
            task = load_user_task(task_name, run.store)
        else:
            task = load_task(run.store, task_name)
    except ValueError as e:
        raise PredictError(f"{run.path}: task {task_name!r}: {e}") from None
    return np.sort(task.nodes)


def _markdown(run, emb_file, n_genes, results, cfg, figure) -> str:
    what = "The run's task's" if cfg.genes == "task" else "All"
    lines = [
        f"# GO enrichment of embedding clusters: {run.path.name}",
        "",
        f"{what} {n_genes} genes ({run.cfg.data.task}, {run.cfg.model.arch} on "
        f"{run.cfg.data.graph}), k-means k = {cfg.clusters} (seed {cfg.seed}) on unit-length "
        f"rows of the refined embeddings `{emb_file.name}` and of the store's "
        f"`{run.cfg.data.features}` text features. Each cluster tested for every "
        f"{cfg.namespace} term carried by at least {cfg.min_term_genes} of the annotated "
        "genes (direct annotations of the store; one-sided hypergeometric test; "
        "Benjamini–Hochberg over all tests of a space). Listed: up to "
        f"{cfg.top} terms per cluster at q < {cfg.alpha}.",
        "",
        "The refined embeddings were computed by message passing over the graph; on a "
        "graph with GO terms their clusters' enrichment partly restates these annotations.",
        "",
    ]
    for res in results.values():
        universe = res.hits[0].universe if res.hits else 0
        lines += [
            f"## {res.space}: {res.enriched_clusters(cfg.alpha)} of {cfg.clusters} clusters "
            f"enriched ({res.tests} tests, {universe} annotated genes)",
            "",
            _table(res, cfg),
            "",
        ]
    lines.append(f"![enrichment]({figure.as_posix()})")
    return "\n".join(lines) + "\n"


def _table(res: Enrichment, cfg: EnrichmentConfig) -> str:
    body = []
    for c, size in enumerate(res.sizes):
        terms = [
            f"{h.name} ({h.term}) {h.in_cluster}/{h.cluster_size}, q = {h.q:.1e}"
            for h in res.top(c, cfg.top, cfg.alpha)
        ]
        body.append([str(c), str(size), "; ".join(terms) or "none"])
    return markdown(["cluster", "genes", f"top terms (k/n annotated, q < {cfg.alpha})"], body)


def enrichment_figure(
    spaces: dict[str, np.ndarray], results: dict[str, Enrichment], cfg: EnrichmentConfig, path: Path
) -> Path:
    """One 2-D map per space, genes coloured by cluster, each labelled by its top term.

    Shapes:
        spaces: name -> ``[n, d]``, rows aligned with each result's ``clusters``.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    n = len(next(iter(spaces.values())))
    rng = np.random.default_rng(cfg.seed)
    pick = np.sort(rng.choice(n, size=min(cfg.points, n), replace=False))
    fig, axes = plt.subplots(1, len(spaces), figsize=(6.5 * len(spaces), 5.5))
    for ax, (name, x) in zip(np.atleast_1d(axes), spaces.items(), strict=True):
        res = results[name]
        xy = _project(x[pick], cfg.projection, cfg.seed)
        for c in range(cfg.clusters):
            top = res.top(c, 1, cfg.alpha)
            label = f"{c}: {top[0].name[:40]}" if top else f"{c}: none"
            sel = res.clusters[pick] == c
            ax.scatter(xy[sel, 0], xy[sel, 1], s=5, alpha=0.7, label=label)
        ax.set_title(f"{name}: {res.enriched_clusters(cfg.alpha)}/{cfg.clusters} clusters enriched")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(markerscale=3, fontsize=7, loc="best")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _project(x: np.ndarray, how: str, seed: int) -> np.ndarray:
    if how == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    from sklearn.manifold import TSNE

    return TSNE(
        n_components=2, init="pca", random_state=seed, perplexity=min(30, len(x) - 1)
    ).fit_transform(x)


def main(argv: list[str] | None = None) -> int:
    return run_entry_point(
        "genen-enrichment",
        EnrichmentConfig,
        __doc__,
        argv,
        ("run_dir",),
        lambda cfg: f"enrichment: {run_enrichment(cfg)}",
        (StoreError, PredictError, ValueError),
    )


if __name__ == "__main__":
    sys.exit(main())
