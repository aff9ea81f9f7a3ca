"""Your own gene-gene graphs (HuRI, BioGRID, IntAct, a screen): edge lists -> store relations.

``genen-ingest --edges huri=HuRI.tsv`` (repeatable), or a config table::

    [edges.huri]
    path = "HuRI.tsv"
    id_type = "ensembl_gene"     # auto | symbol | entrez | ensembl_gene | ensembl_protein | uniprot
    columns = ["Ensembl_A", "Ensembl_B"]   # default: the first two columns
    weight = "score"             # optional; default weight 1.0
    threshold = 400              # optional; keep rows with weight >= threshold
    weight_scale = 0.001         # optional; stored weight = weight x scale (ppi: score / 1000)

An edge list is a CSV/TSV (plain or gzipped; tab, comma or space separated, detected from
its first line) with one gene pair per row. Its ids go through the store's identifier map
(:mod:`ingest.idmap`); the relation ``NAME`` is stored like ``ppi``: undirected (both
directions), deduplicated (the largest weight wins), self-loops dropped, in the global node
space. Ids that name a gene the graph lacks (a symbol, or an Entrez id of an NCBI gene)
become new gene nodes (``new_genes``); the build gives them their summary text where the
summaries have one. With ``id_type = auto`` each id is resolved as the type it looks like,
so one file may mix symbols, Entrez and Ensembl ids (``id_type`` is then ``mixed``); only
an unknown *symbol* becomes a new gene, never an id of another type. Counts of mapped and
unmapped ids (with examples), the id type and the ids of each type (``ids_by_type``) go
into ``manifest["counts"]["edge_lists"][NAME]``. Training uses the relation with
``--data.graph NAME`` or composed, e.g. ``--data.graph ppi+NAME``.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from genen_core.files import open_maybe_gzip
from ingest.errors import IngestError
from ingest.id_claims import ID_TYPES
from ingest.idmap import IdMap, Match, Resolution, id_type_of

log = logging.getLogger(__name__)

# Relation names are directory names and ``+``-joined in data.graph: keep them plain.
RELATION_NAME = re.compile(r"[a-z][a-z0-9_]*")
RESERVED = ("ppi", "gene_go", "go_go", "go", "go_ppi")
_EXAMPLES = 5


@dataclass
class EdgeListConfig:
    """One user edge list (``[edges.NAME]`` in the ingest config)."""

    path: str = ""
    """The CSV/TSV file (plain or gzipped)."""
    id_type: str = "auto"
    """Gene id type of both columns: ``auto`` (detected from the ids), ``symbol``,
    ``entrez``, ``ensembl_gene``, ``ensembl_protein`` or ``uniprot``."""
    columns: list[str] | None = None
    """The two header names holding the gene ids (None: the first two columns)."""
    weight: str | None = None
    """Header name of a numeric edge weight (>= 0); None: every edge weighs 1.0."""
    threshold: float | None = None
    """Keep rows whose weight is >= threshold (needs ``weight``; before scaling)."""
    weight_scale: float = 1.0
    """Stored weight = weight x weight_scale. With ``model.edge_weight = fixed`` on a
    composed graph keep it on ppi's scale, STRING combined_score / 1000 (e.g. 0.001 for a
    0..1000 score)."""
    header: bool | None = None
    """Whether the first line is a header; None: a header unless its first two cells
    both name genes."""
    new_genes: bool = True
    """Ids naming no gene of the graph become gene nodes (symbols as given, Entrez ids by
    their NCBI symbol); False drops them with their edges."""

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("edges: every edge list needs a path (--edges NAME=PATH)")
        if self.id_type != "auto" and self.id_type not in ID_TYPES:
            raise ValueError(
                f"edges id_type={self.id_type!r}: choose auto or one of {list(ID_TYPES)}"
            )
        if self.columns is not None and len(self.columns) != 2:
            raise ValueError(f"edges columns={self.columns}: give the two gene id columns")
        if self.threshold is not None and self.weight is None:
            raise ValueError("edges threshold needs a weight column (weight = NAME)")
        if not (self.weight_scale > 0 and math.isfinite(self.weight_scale)):
            raise ValueError(f"edges weight_scale={self.weight_scale} must be a positive number")


def edge_configs(value: dict) -> dict[str, EdgeListConfig]:
    """``{name: path | mapping | EdgeListConfig}`` -> checked configs (names validated).

    The config loader hands mappings over as plain dicts; a bare string is the path.
    """
    out = {}
    for name, spec in value.items():
        if not RELATION_NAME.fullmatch(name) or name in RESERVED:
            raise ValueError(
                f"edges name {name!r}: use lower-case letters, digits and _ (starting with a "
                f"letter), not one of the built-in graphs {list(RESERVED)}"
            )
        if isinstance(spec, EdgeListConfig):
            out[name] = spec
        elif isinstance(spec, str):
            out[name] = EdgeListConfig(path=spec)
        elif isinstance(spec, dict):
            known = {f for f in EdgeListConfig.__dataclass_fields__}
            unknown = sorted(set(spec) - known)
            if unknown:
                raise ValueError(f"edges.{name}: unknown keys {unknown}; valid: {sorted(known)}")
            out[name] = EdgeListConfig(**spec)
        else:
            raise ValueError(f"edges.{name}: expected a path or a table, got {spec!r}")
    return out


def lift_edge_flags(argv: list[str]) -> list[str]:
    """``--edges NAME=PATH`` (repeatable) -> ``--edges.NAME.path PATH`` for the loader."""
    out, i, seen = [], 0, {}
    while i < len(argv):
        arg = argv[i]
        if arg == "--edges" and i + 1 < len(argv) or arg.startswith("--edges="):
            value = arg.split("=", 1)[1] if arg.startswith("--edges=") else argv[i + 1]
            i += 1 if arg.startswith("--edges=") else 2
            name, eq, path = value.partition("=")
            if not eq or not name or not path:
                raise ValueError(f"--edges {value!r}: write --edges NAME=PATH")
            if not RELATION_NAME.fullmatch(name):
                raise ValueError(
                    f"--edges {value!r}: the name {name!r} is invalid; it names the relation "
                    "in the store and in --data.graph, so use lower-case letters, digits and "
                    "_, starting with a letter"
                )
            if name in seen:
                raise ValueError(
                    f"--edges {name} is given twice ({seen[name]!r} and {path!r}); give "
                    "each edge list its own name"
                )
            seen[name] = path
            out += [f"--edges.{name}.path", path]
            continue
        out.append(arg)
        i += 1
    return out


@dataclass
class EdgeList:
    """An edge list read and mapped to gene symbols (not yet to node ids).

    Attributes:
        name: Relation name.
        src, dst: ``[m]`` gene symbols of each kept row (Arrow strings).
        weight: ``[m]`` float32 weights.
        new_genes: Symbols of genes the graph lacked, sorted.
        stats: Counts for the manifest.
    """

    name: str
    src: pa.Array
    dst: pa.Array
    weight: np.ndarray
    new_genes: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def node_pairs(self, genes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` int64 node ids of the rows, genes being nodes ``0..len(genes)-1``."""
        universe = pa.array(list(genes))
        src, dst = (
            pc.index_in(v, value_set=universe).fill_null(-1).to_numpy()
            for v in (self.src, self.dst)
        )
        assert src.min() >= 0 and dst.min() >= 0, "every mapped gene must be a node"
        return src.astype(np.int64), dst.astype(np.int64)


def read_edge_list(
    name: str, cfg: EdgeListConfig, idmap: IdMap, con: duckdb.DuckDBPyConnection
) -> EdgeList:
    """Read one edge list and map its ids (see the module docstring).

    Raises:
        IngestError: A missing or unreadable file, a missing column, an empty id, a
            weight that is not a finite number >= 0, or no row whose genes both map.
    """
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise IngestError(f"edges.{name}: {path} does not exist or is not a file")
    first = _first_line(path)
    delim = "\t" if "\t" in first else "," if "," in first else " "
    cells = [c.strip().strip('"') for c in first.split(delim)]
    header = cfg.header if cfg.header is not None else not _names_genes(cells[:2], cfg, idmap)
    try:
        rel = con.read_csv(str(path), delimiter=delim, header=header, all_varchar=True)
        columns = _columns(path, rel.columns, cfg)
        table = rel.select(*(duckdb.ColumnExpression(c) for c in columns)).to_arrow_table()
    except duckdb.Error as e:
        ragged = _ragged_line(path, delim, len(cells))
        why = ragged or str(e).splitlines()[0]
        raise IngestError(f"{path}: cannot be read as a {_sep(delim)} edge list: {why}") from e
    offset = 2 if header else 1  # line number of the first data row
    if table.num_rows == 0:
        why = _ragged_line(path, delim, len(cells)) or "only a header, or an empty file"
        raise IngestError(f"{path}: no gene pairs were read ({why})")
    a, b = (table.column(i).combine_chunks() for i in (0, 1))
    blank = pc.or_kleene(_blank(a), _blank(b))
    if pc.any(blank).as_py():
        i = pc.index(blank, True).as_py()
        raise IngestError(
            f"{path}:{i + offset}: a gene id is empty ({a[i].as_py()!r}, {b[i].as_py()!r})"
        )
    weight = _weights(path, table.column(2), offset) if cfg.weight else None
    rows = len(a)
    keep = np.ones(rows, dtype=bool)
    if cfg.threshold is not None:
        keep = weight >= cfg.threshold
    ids = sorted(pc.unique(pa.concat_arrays([a, b])).to_pylist())
    found, looks = _resolve(ids, cfg.id_type, idmap)
    gene_of, new = {}, set()
    for raw, gene, match, kind in zip(ids, found.genes, found.match, looks, strict=True):
        if match in (Match.EXACT, Match.ALIAS):
            gene_of[raw] = gene
        elif cfg.new_genes and match is Match.OUTSIDE:
            gene_of[raw], _ = gene, new.add(gene)
        elif cfg.new_genes and match is Match.UNKNOWN and kind == found.id_type == "symbol":
            # Only a symbol names a new gene: an unknown Entrez, Ensembl or UniProt id in
            # a symbol file is dropped, never turned into a gene called "1" or "ENSP...".
            gene_of[raw], _ = raw.strip(), new.add(raw.strip())
    # Rows -> genes in Arrow: one dictionary lookup per distinct id, none per row.
    genes = pa.array([gene_of.get(i) for i in ids], pa.string())
    src, dst = (pc.take(genes, pc.index_in(x, value_set=pa.array(ids))) for x in (a, b))
    mapped = pc.and_(src.is_valid(), dst.is_valid()).to_numpy(zero_copy_only=False)
    loops = mapped & pc.equal(src, dst).fill_null(False).to_numpy(zero_copy_only=False)
    kept = keep & mapped & ~loops
    counts = found.counts(ids)
    unmapped = sorted(i for i in ids if i not in gene_of)
    stats = {
        "path": str(path),
        "id_type": found.id_type,
        "ids_by_type": dict(sorted(Counter(looks).items())),
        "rows": rows,
        "below_threshold": int(np.count_nonzero(~keep)),
        "unmapped_rows": int(np.count_nonzero(keep & ~mapped)),
        "self_loops": int(np.count_nonzero(keep & loops)),
        "ids": len(ids),
        "mapped_ids": len(gene_of),
        "unmapped_ids": len(unmapped),
        "unmapped_examples": unmapped[:_EXAMPLES],
        "matched": {k: counts[k] for k in ("exact", "alias", "outside", "ambiguous", "unknown")},
        "new_genes": len(new),
        "new_gene_examples": sorted(new)[:_EXAMPLES],
    }
    if not kept.any():
        raise IngestError(
            f"{path}: no edge left after mapping its {len(ids)} ids as {found.id_type} "
            f"(unmapped e.g. {unmapped[:_EXAMPLES]}); set edges.{name}.id_type or columns"
        )
    log.info(
        "edges %s: %d rows, ids as %s: %d mapped (%d exact, %d by alias, %d new genes), "
        "%d unmapped (e.g. %s)",
        name,
        rows,
        found.id_type,
        len(gene_of),
        counts["exact"],
        counts["alias"],
        len(new),
        len(unmapped),
        ", ".join(unmapped[:_EXAMPLES]),
    )
    w = np.ones(int(kept.sum()), np.float32) if weight is None else weight[kept] * cfg.weight_scale
    with np.errstate(over="ignore"):
        w32 = w.astype(np.float32)
    if not np.isfinite(w32).all():
        i = int(np.flatnonzero(~np.isfinite(w32))[0])
        row = int(np.flatnonzero(kept)[i]) + offset
        raise IngestError(
            f"{path}:{row}: weight {weight[kept][i]:g} x weight_scale {cfg.weight_scale:g} "
            f"= {w[i]:g} does not fit a float32 weight (at most {np.finfo(np.float32).max:g}); "
            f"rescale the column or set edges.{name}.weight_scale"
        )
    mask = pa.array(kept)
    return EdgeList(name, src.filter(mask), dst.filter(mask), w32, sorted(new), stats)


def _resolve(ids: list[str], id_type: str, idmap: IdMap) -> tuple[Resolution, list[str]]:
    """``ids`` through the map, and the id type each one looks like.

    With ``auto`` every id is resolved as the type it looks like (one file may mix
    symbols, STRING protein ids and Entrez numbers), then, if unknown, as a symbol; the
    resolution's ``id_type`` is that type, or ``mixed`` when there are several.
    """
    looks = [id_type_of(i) for i in ids]
    if id_type != "auto":
        return idmap.resolve(ids, id_type), looks
    types = sorted(set(looks))
    genes: list[str | None] = [None] * len(ids)
    match = [Match.UNKNOWN] * len(ids)
    for t in types:
        at = [k for k, kind in enumerate(looks) if kind == t]
        found = idmap.resolve([ids[k] for k in at], t)
        for k, gene, m in zip(at, found.genes, found.match, strict=True):
            genes[k], match[k] = gene, m
    retry = [k for k, m in enumerate(match) if m is Match.UNKNOWN and looks[k] != "symbol"]
    if retry:  # a symbol that happens to look like an id (all digits, UniProt-shaped)
        found = idmap.resolve([ids[k] for k in retry], "symbol")
        for k, gene, m in zip(retry, found.genes, found.match, strict=True):
            if m in (Match.EXACT, Match.ALIAS):
                genes[k], match[k] = gene, m
    label = types[0] if len(types) == 1 else "mixed" if types else "symbol"
    if label == "mixed":
        log.warning(
            "edge list ids of several types %s: each resolved as the type it looks like",
            dict(sorted(Counter(looks).items())),
        )
    return Resolution(label, genes, match), looks


def _ragged_line(path: Path, delim: str, width: int) -> str | None:
    """``line N: k fields, the first line has w`` for the first such line (error path)."""
    try:
        with open_maybe_gzip(path, "rt", encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                n = len(line.rstrip("\r\n").split(delim))
                if line.strip() and n != width:
                    return f"line {number} has {n} field(s), the first line has {width}"
    except (OSError, EOFError):
        return None
    return None


def _first_line(path: Path) -> str:
    try:
        with open_maybe_gzip(path, "rt", encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise IngestError(f"{path}: cannot be read ({e}); is it a text edge list?") from e


def _names_genes(cells: list[str], cfg: EdgeListConfig, idmap: IdMap) -> bool:
    """Whether two header-position cells are gene ids (then the file has no header)."""
    if len(cells) < 2 or not all(cells):
        return False
    if cfg.id_type not in ("auto", "symbol"):
        return all(id_type_of(c) == cfg.id_type for c in cells)
    if all(id_type_of(c) != "symbol" for c in cells):
        return True
    found = idmap.resolve(cells, "symbol")
    return all(m in (Match.EXACT, Match.ALIAS) for m in found.match)


def _columns(path: Path, header: list[str], cfg: EdgeListConfig) -> list[str]:
    ids = cfg.columns if cfg.columns is not None else header[:2]
    wanted = [*ids, *([cfg.weight] if cfg.weight else [])]
    missing = [c for c in wanted if c not in header]
    if missing or len(header) < 2:
        raise IngestError(
            f"{path}: no column(s) {missing or ['a second column']} in the header {header}; "
            "set edges.NAME.columns / weight to header names"
        )
    return wanted


def _blank(ids: pa.Array) -> pa.Array:
    return pc.or_kleene(pc.is_null(ids), pc.equal(pc.utf8_trim_whitespace(ids), "")).fill_null(True)


def _weights(path: Path, cells: pa.ChunkedArray, offset: int) -> np.ndarray:
    """The weight column as float64; the first cell that is not a number >= 0 is an error."""
    try:
        out = pc.cast(cells, pa.float64()).to_numpy()
        bad = np.flatnonzero(~(np.isfinite(out) & (out >= 0)))
    except pa.ArrowInvalid:
        # Error path only: find the first cell that does not parse.
        bad = [i for i, c in enumerate(cells.to_pylist()) if not _is_float(c)]
    if len(bad):
        i = int(bad[0])
        raise IngestError(
            f"{path}:{i + offset}: weight {cells[i].as_py()!r} is not a finite number >= 0"
        )
    return out


def _is_float(cell: str | None) -> bool:
    try:
        float(cell)
    except (TypeError, ValueError):
        return False
    return True


def _sep(delim: str) -> str:
    return {"\t": "tab-separated", ",": "comma-separated"}.get(delim, "space-separated")
