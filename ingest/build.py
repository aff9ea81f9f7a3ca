"""Orchestration: resolved sources -> parsed inputs -> node table, CSRs, labels -> store.

Stages, each logged with its wall time::

    sources     resolve_sources (download / locate, sha256)
    ppi+go      STRING links -> CSR (DuckDB + NumPy) and a summary file, while the GO
                ontology parses in a thread (ingest.obo is pure Python; DuckDB and NumPy
                release the GIL)
    gaf         GOA annotations -> (gene, GO id) pairs
    ids         the identifier map (ingest.idmap) and the user's edge lists (ingest.edges)
    nodes       genes = protein.info symbols | GAF symbols (an alias of a STRING gene is
                that gene) | edge-list genes (sorted), then
                live GO terms (sorted by id) minus exclusions; node texts (MyGene here)
    graphs      ppi, gene_go, go_go, the merged variants go, go_ppi, and one relation
                per edge list
    labels      label files -> gene ids through the identifier map -> node ids (genes
                not in the graph -> -1, counted)
    commit      StoreBuilder writes to a temporary directory and moves it into place
                (genen_core.store.swap: crash-safe, recovers what a killed run left);
                the builder is created before ``sources`` so that --force on anything
                but a store, or an unwritable parent, fails before any parse

The ``nodes``, ``graphs`` and ``labels`` stages place everything in the store's one node
space (:mod:`ingest.node_space`).

The gene set does not depend on the GO exclusions, so stores built with and without
label-bearing GO terms share their gene node ids.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from genen_core import __version__
from genen_core.config import to_dict
from genen_core.provenance import git_revision
from genen_core.store import (
    RELATIONS,
    VARIANTS,
    StoreBuilder,
)
from ingest import texts
from ingest.config import EDGE_TYPES, IngestConfig
from ingest.download import default_cache_dir
from ingest.edges import read_edge_list
from ingest.errors import IngestError
from ingest.gaf import read_gaf
from ingest.go import parse_obo
from ingest.idmap import IdMap, build_idmap
from ingest.node_space import (
    edge_list_relations,
    node_labels,
    node_table,
    relation_graphs,
    select_terms,
)
from ingest.sources import SourceFile, resolve_sources
from ingest.string_db import links_to_csr, read_protein_info

log = logging.getLogger(__name__)


class _Timer:
    """Wall time per stage, logged as each stage ends and kept for the manifest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        log.info("stage %-8s %6.2f s", name, self.seconds[name])


def build_store(cfg: IngestConfig) -> Path:
    """Build the graph store described by ``cfg`` at ``cfg.out``.

    Returns:
        The store directory.

    Raises:
        FileExistsError: ``cfg.out`` exists and ``cfg.force`` is false.
        StoreError: ``cfg.out`` exists but is not a graph store (``--force`` never
            replaces anything else), or its parent is not writable; raised before any
            input is read.
        IngestError: Any bad input file (the message names the file and line or id), a
            label directory or summary file that does not exist (checked first).
        LabelFileError: A label file that cannot be read (:mod:`genen_core.labels`).
            Nothing is written at ``cfg.out`` unless the whole build succeeds.
    """
    _check_local_inputs(cfg)
    # The builder comes first: it restores or clears what a killed run left, refuses to
    # replace anything but a store, and fails on an unwritable parent before the parse.
    with StoreBuilder(Path(cfg.out), force=cfg.force) as builder:
        return _build(cfg, builder)


def _build(cfg: IngestConfig, builder: StoreBuilder) -> Path:
    timer = _Timer()
    with timer.stage("sources"):
        sources = resolve_sources(cfg.sources)
    try:
        return _build_from(cfg, builder, timer, sources)
    except IngestError as e:
        # A cached download that fails to parse fails every later run the same way.
        cached = [
            f"{s.path.name} is a cached download ({s.path}): --refresh fetches it again"
            for s in sources.values()
            if s.url.startswith(("http://", "https://")) and s.path.name in str(e)
        ]
        if not cached:
            raise
        raise IngestError("; ".join([str(e), *cached])) from e


def _build_from(
    cfg: IngestConfig, builder: StoreBuilder, timer: _Timer, sources: dict[str, SourceFile]
) -> Path:
    con = duckdb.connect()
    try:
        if cfg.threads is not None:
            con.execute(f"SET threads = {int(cfg.threads)}")  # validated int, not user text
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")  # ours is a tqdm bar on stderr
        with timer.stage("ppi+go"), ThreadPoolExecutor(max_workers=1) as pool:
            go_future = pool.submit(parse_obo, sources["obo"].path, tuple(cfg.go_relations))
            info = read_protein_info(sources["info"].path, con)
            ppi, string_genes, ppi_stats = links_to_csr(
                sources["links"].path, sources["info"].path, min_score=cfg.min_score, con=con
            )
            # A summary file needs no gene list, so it is read while GO still parses.
            tsv = cfg.summaries not in (None, "mygene")
            summaries = texts.read_summaries(Path(cfg.summaries), con) if tsv else None
            go = go_future.result()  # parse_obo refuses an ontology with no live term
        with timer.stage("gaf"):
            annotations, gaf_stats = read_gaf(
                sources["gaf"].path,
                go,
                con,
                evidence_keep=cfg.evidence_keep,
                evidence_drop=cfg.evidence_drop,
            )
        with timer.stage("ids"):
            aliases = sources["aliases"].path if "aliases" in sources else None
            summary_file = Path(cfg.summaries) if tsv else None
            idmap = build_idmap(
                string_genes, info, aliases=aliases, summaries=summary_file, con=con
            )
            annotations, base, gaf_stats["genes_by_alias"] = _rename_gaf_genes(
                annotations, string_genes, idmap
            )
            idmap = dataclasses.replace(idmap, genes=frozenset(base))
            edge_lists = [read_edge_list(n, c, idmap, con) for n, c in cfg.edges.items()]
    finally:
        con.close()

    with timer.stage("nodes"):
        genes = sorted(set(base).union(*(e.new_genes for e in edge_lists)))
        terms, excluded = select_terms(go, cfg)
        if summaries is None:
            summaries = texts.load_summaries(
                cfg.summaries,
                genes,
                cache_dir=default_cache_dir("mygene"),
                mygene_url=cfg.mygene_url,
                species=str(cfg.species),
            )
        summaries, text_stats = idmap.rekey(summaries, genes)
        nodes, node_text_stats = node_table(genes, terms, info, summaries)
        text_stats = {**node_text_stats, **text_stats}
    num_nodes = nodes.num_rows
    with timer.stage("graphs"):
        graphs, graph_stats = relation_graphs(
            ppi, string_genes, genes, terms, go, annotations, num_nodes
        )
        extra, extra_types = edge_list_relations(edge_lists, genes, num_nodes)
        graphs.update(extra)
    with timer.stage("labels"):
        labels, tasks = node_labels(cfg, genes, idmap)

    counts = {
        "nodes": num_nodes,
        "genes": len(genes),
        "go_terms": terms.num_rows,
        "edges": {name: csr.nnz for name, csr in graphs.items()},
        "ppi": ppi_stats,
        "gaf": gaf_stats,
        "go": {**go.stats, "release": go.release, "excluded_terms": excluded},
        **graph_stats,
        "texts": text_stats,
        "idmap": idmap.stats,
        "edge_lists": {e.name: e.stats for e in edge_lists},
    }
    manifest = _manifest(cfg, sources, counts, tasks, timer.seconds)
    manifest["edge_types"].update(extra_types)
    manifest["relations"] += list(extra)
    with timer.stage("commit"):
        for name, csr in graphs.items():
            builder.write_csr(name, csr)
        builder.write_nodes(nodes)
        builder.write_labels(labels)
        alias, id_type, node = idmap.alias_rows(genes)
        builder.write_aliases(pa.table({"alias": alias, "id_type": id_type, "node": node}))
        path = builder.commit(manifest)
    log.info(
        "store %s: %d genes, %d GO terms, edges %s (%.1f s)",
        path,
        len(genes),
        terms.num_rows,
        manifest["counts"]["edges"],
        sum(timer.seconds.values()),
    )
    return path


def _check_local_inputs(cfg: IngestConfig) -> None:
    """Fail before the long parse on local inputs that do not exist."""
    if cfg.labels is not None and not Path(cfg.labels).is_dir():
        raise IngestError(f"labels={cfg.labels!r} is not a directory; pass a folder of label files")
    if cfg.summaries not in (None, "mygene") and not Path(cfg.summaries).is_file():
        raise IngestError(
            f"summaries={cfg.summaries!r} is not a file; pass a summary TSV, mygene or nothing"
        )


def _manifest(
    cfg: IngestConfig, sources: dict[str, SourceFile], counts: dict, tasks: dict, timings: dict
) -> dict:
    """Provenance and counts; the resolved config goes in whole (``params``)."""
    return {
        "species": cfg.species,
        "string_version": cfg.string_version,
        "sources": {k: _source_entry(f) for k, f in sources.items()},
        "params": to_dict(cfg),
        "counts": counts,
        "edge_types": dict(EDGE_TYPES),
        "relations": list(RELATIONS),
        "variants": {name: list(parts) for name, parts in VARIANTS.items()},
        "tasks": tasks,
        "git_revision": git_revision(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": f"genen_scale {__version__}",
        "timings_s": timings,
    }


def _rename_gaf_genes(
    annotations: pa.Table, string_genes: list[str], idmap: IdMap
) -> tuple[pa.Table, list[str], int]:
    """Annotations with GAF symbols that are aliases of STRING genes renamed to them.

    An older GAF names some STRING genes by a previous symbol (AARS for AARS1): their
    annotations belong to the STRING gene, not to a second node of the same gene.

    Returns:
        ``(annotations, genes, renamed)``: the annotations, the sorted gene keys (STRING
        genes and the GAF genes left), and how many GAF symbols were renamed.
    """
    gaf_genes, renamed = idmap.rename(annotations.column("gene").to_pylist())
    column = annotations.schema.get_field_index("gene")
    annotations = annotations.set_column(column, "gene", pa.array(gaf_genes, pa.string()))
    return annotations, sorted(set(string_genes) | set(gaf_genes)), renamed


def _source_entry(f: SourceFile) -> dict:
    return {"url": f.url, "release": f.release, "sha256": f.sha256, "path": str(f.path)}
