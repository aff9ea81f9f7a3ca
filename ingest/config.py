"""``IngestConfig``: all ``genen-ingest`` needs, loaded by :func:`genen_core.config.load_config`.

The resolved config is written into the store manifest (``params``), so a store always
says how it was built.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from genen_core.store import GO_NAMESPACES
from ingest.edges import EdgeListConfig, edge_configs
from ingest.go import DEFAULT_RELATIONS
from ingest.sources import SourcesConfig, local_path, normalise_string_version

# Edge type codes stored in every CSR's etype array and in manifest["edge_types"].
EDGE_TYPES = {
    "ppi": 0,
    "gene_go": 1,
    "is_a": 2,
    "part_of": 3,
    "regulates": 4,
    "positively_regulates": 5,
    "negatively_regulates": 6,
}


@dataclass
class IngestConfig:
    """Raw files -> graph store."""

    out: str | None = None
    """Store directory to create (required)."""
    string_version: str = "12"
    """STRING release (``12`` means ``12.0``); copied into ``sources``."""
    species: int = 9606
    """NCBI taxon id (9606 human); copied into ``sources``."""
    min_score: int = 150
    """Keep STRING links with ``combined_score >= min_score`` (0..1000; STRING's own
    thresholds: 150 low, 400 medium, 700 high, 900 highest confidence)."""
    go_relations: list[str] = field(default_factory=lambda: list(DEFAULT_RELATIONS))
    """GO-GO relation types kept as edges (subset of is_a, part_of, regulates,
    positively_regulates, negatively_regulates)."""
    evidence_keep: list[str] | None = None
    """GAF evidence codes to keep (None: all)."""
    evidence_drop: list[str] = field(default_factory=list)
    """GAF evidence codes to drop after ``evidence_keep`` (e.g. ``[IEA]``)."""
    exclude_go_terms: str | None = None
    """Regex (Python, case-insensitive, searched) on GO id, name and definition: matching
    terms are left out of the graph with their annotations and edges. For label-leakage
    control, e.g. ``'membrane|nucle'`` for the solubility/localization tasks."""
    exclude_go_namespace: list[str] = field(default_factory=list)
    """GO namespaces left out entirely (e.g. ``[cellular_component]``)."""
    summaries: str | None = None
    """Gene summaries: a TSV path (``symbol``/``summary`` columns), ``mygene`` to fetch
    them from MyGene.info, or None for protein.info annotations only."""
    mygene_url: str = "https://mygene.info/v3"
    """MyGene.info API root (only used with ``summaries: mygene``)."""
    labels: str | None = None
    """Directory of label CSV/TSV files (format: ``genen_core.labels``), or None."""
    edges: dict[str, EdgeListConfig] = field(default_factory=dict)
    """Your own gene-gene graphs: relation name -> edge list (a path, or a table with
    ``path``, ``id_type``, ``columns``, ``weight``, ``threshold``; see ``ingest.edges``).
    On the command line: ``--edges NAME=PATH`` (repeatable)."""
    threads: int | None = None
    """DuckDB threads (None: DuckDB's default, all cores)."""
    force: bool = False
    """Replace an existing store at ``out`` (its ``features/`` are kept for reuse)."""
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    """Where the raw files come from (catalog, mirror, ``source_dir`` or explicit paths)."""

    def __post_init__(self) -> None:
        if not self.out:
            raise ValueError(
                "out is not set; pass --out STORE_DIR (the store to create; on the command "
                "line null and ~ unset an option, so a folder of that name is ./null)"
            )
        if not 0 <= self.min_score <= 1000:
            raise ValueError(f"min_score={self.min_score} must be within 0..1000")
        unknown = [r for r in self.go_relations if r not in EDGE_TYPES or r in ("ppi", "gene_go")]
        if unknown:
            known = [r for r in EDGE_TYPES if r not in ("ppi", "gene_go")]
            raise ValueError(f"go_relations {unknown} are not GO relations; choose from {known}")
        bad_ns = [ns for ns in self.exclude_go_namespace if ns not in GO_NAMESPACES]
        if bad_ns:
            raise ValueError(
                f"exclude_go_namespace {bad_ns} are not GO namespaces; "
                f"choose from {list(GO_NAMESPACES)}"
            )
        if self.exclude_go_terms is not None:
            try:
                re.compile(self.exclude_go_terms)
            except re.error as e:
                raise ValueError(
                    f"exclude_go_terms={self.exclude_go_terms!r} is not a valid regex: {e}"
                ) from None
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads={self.threads} must be >= 1 (or unset for all cores)")
        self.string_version = normalise_string_version(self.string_version)
        self.edges = edge_configs(self.edges)
        self._sync_sources()
        self._check_out_apart()

    def local_inputs(self) -> list[tuple[str, Path]]:
        """``(field, path)`` of every local file or directory the build reads, and of the
        pins file it writes: none of them may lie in the store a rebuild replaces."""
        src = self.sources
        named = [("labels", self.labels), ("sources.source_dir", src.source_dir)]
        named += [(f"sources.{k}", getattr(src, k)) for k in ("links", "info", "aliases")]
        named += [("sources.obo", src.obo), ("sources.gaf", src.gaf)]
        named += [("sources.mirror", src.mirror), ("sources.cache_dir", src.cache_dir)]
        named += [("sources.pins", src.pins), ("sources.write_pins", src.write_pins)]
        named += [(f"edges.{name}", e.path) for name, e in self.edges.items()]
        if self.summaries != "mygene":
            named.append(("summaries", self.summaries))
        paths = [(name, local_path(where)) for name, where in named if where is not None]
        return [(name, p) for name, p in paths if p is not None]

    def _check_out_apart(self) -> None:
        """The store and the raw inputs must not overlap: ``--force`` replaces the store."""
        out = Path(self.out).expanduser().resolve()
        inputs = [(name, where.expanduser().resolve()) for name, where in self.local_inputs()]
        for name, where in inputs:
            if out == where or where in out.parents:
                inside = "" if out == where else "inside "
                raise ValueError(
                    f"out={self.out!r} is {inside}the input {name}={str(where)!r}; write the "
                    "store somewhere else, never into its raw inputs"
                )
        for name, where in inputs:
            if out in where.parents:
                raise ValueError(
                    f"the input {name}={str(where)!r} is inside out={self.out!r}, which a "
                    "rebuild replaces; move the input or choose another --out"
                )

    def _sync_sources(self) -> None:
        """Top-level string_version/species win, but never silently over a conflicting value."""
        default = SourcesConfig()
        for name in ("string_version", "species"):
            mine, theirs = getattr(self, name), getattr(self.sources, name)
            if theirs != getattr(default, name) and theirs != mine:
                raise ValueError(
                    f"sources.{name}={theirs!r} conflicts with {name}={mine!r}; "
                    f"set only the top-level {name}"
                )
        if (self.sources.string_version, self.sources.species) != (
            self.string_version,
            self.species,
        ):
            # replace() re-runs SourcesConfig's checks (e.g. a GAF for the species).
            self.sources = dataclasses.replace(
                self.sources, string_version=self.string_version, species=self.species
            )
