"""One identifier map for the genes of a store: any id a user's file holds -> the gene symbol.

Edge lists and label files name genes by whatever their source uses: current or old
symbols, Entrez ids, Ensembl gene or protein ids, UniProt accessions. The store's gene
nodes are keyed by STRING's ``preferred_name`` (plus GAF-only symbols). :func:`build_idmap`
collects *claims* ``(id_type, alias, gene, rank)`` from STRING's ``protein.info`` and
``protein.aliases`` and the NCBI summaries file (:mod:`ingest.id_claims` says which source
claims what) and keeps, per alias, the best-ranked gene.

The build renames GAF symbols that are aliases of STRING genes (an older GAF keeps old
names), resolves edge lists and label files through the map, and stores the aliases that
name a node in ``aliases.parquet`` for label files given at training time.

Precedence, per alias: a value that *is* a gene key matches exactly; otherwise the claims
of the best rank (current symbol > previous symbol > synonym) decide, and an alias that the
best rank gives to several genes is ambiguous and unused. Identifiers are normalised
before lookup (:func:`ingest.id_claims.normalise`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from ingest.id_claims import (
    ID_TYPES,
    PATTERNS,
    info_claims,
    ncbi_claims,
    normalise,
    read_alias_claims,
    read_ncbi,
)

log = logging.getLogger(__name__)

_EXAMPLES = 5


def id_type_of(value: str) -> str:
    """The id type a single value looks like (``symbol`` when no pattern fits)."""
    for id_type, pattern in PATTERNS.items():
        if pattern.fullmatch(normalise(value, id_type)):
            return id_type
    return "symbol"


def detect_id_type(values: Iterable[str]) -> str:
    """The id type most of ``values`` look like (ties and empty input: ``symbol``)."""
    counts = Counter(id_type_of(v) for v in values)
    if not counts:
        return "symbol"
    best, n = counts.most_common(1)[0]
    return best if n > counts.get("symbol", 0) else "symbol"


class Match(IntEnum):
    """How one input id was resolved."""

    EXACT = 0  # the id is a gene key
    ALIAS = 1  # the map gives a gene of the graph
    OUTSIDE = 2  # the map gives a gene the graph lacks (an NCBI gene STRING has not)
    AMBIGUOUS = 3  # the best rank gives several genes
    UNKNOWN = 4  # the map has no such id


@dataclass
class Resolution:
    """The genes a list of ids resolves to.

    Attributes:
        id_type: The id type used (detected when ``auto`` was asked).
        genes: Per input id: the gene symbol it names (``OUTSIDE``: a gene the graph
            lacks), or None (ambiguous / unknown).
        match: Per input id, how it resolved.
    """

    id_type: str
    genes: list[str | None]
    match: list[Match]

    def counts(self, ids: Sequence[str]) -> dict:
        """Distinct ids per outcome, with a few examples of the ones not mapped."""
        seen: dict[str, Match] = dict(zip(ids, self.match, strict=True))
        by = Counter(seen.values())
        lost = {
            m.name.lower(): sorted(i for i, mm in seen.items() if mm is m)[:_EXAMPLES]
            for m in (Match.OUTSIDE, Match.AMBIGUOUS, Match.UNKNOWN)
        }
        return {
            "id_type": self.id_type,
            "exact": by[Match.EXACT],
            "alias": by[Match.ALIAS],
            "outside": by[Match.OUTSIDE],
            "ambiguous": by[Match.AMBIGUOUS],
            "unknown": by[Match.UNKNOWN],
            "examples": lost,
        }


@dataclass
class IdMap:
    """Alias tables per id type (see the module docstring for how they are built).

    Attributes:
        genes: The gene keys of the graph when the map was built.
        tables: ``id_type -> {alias: gene}`` for the unambiguous aliases.
        ambiguous: ``id_type -> aliases`` the best rank gives to several genes.
        stats: Claims and aliases per id type, for the manifest.
    """

    genes: frozenset[str]
    tables: dict[str, dict[str, str]] = field(default_factory=dict)
    ambiguous: dict[str, frozenset[str]] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def resolve(
        self, ids: Sequence[str], id_type: str = "auto", genes: Collection[str] | None = None
    ) -> Resolution:
        """Map ``ids`` to gene symbols.

        Args:
            ids: The identifiers, as read from a file.
            id_type: One of :data:`ID_TYPES`, or ``auto`` to detect it from ``ids``.
            genes: Gene keys that count as exact matches (default: the map's own; the
                build passes the final node set, which may hold genes an edge list added).
        """
        if id_type == "auto":
            id_type = detect_id_type(ids)
        if id_type not in ID_TYPES:
            raise ValueError(f"id_type={id_type!r}: choose auto or one of {list(ID_TYPES)}")
        keys = self.genes if genes is None else genes
        table = self.tables.get(id_type, {})
        ambiguous = self.ambiguous.get(id_type, frozenset())
        out_genes: list[str | None] = []
        out_match: list[Match] = []
        for raw in ids:
            value = normalise(raw, id_type)
            if id_type == "symbol" and value in keys:
                gene, match = value, Match.EXACT
            elif value in table:
                gene = table[value]
                match = Match.ALIAS if gene in keys else Match.OUTSIDE
            else:
                gene = None
                match = Match.AMBIGUOUS if value in ambiguous else Match.UNKNOWN
            out_genes.append(gene)
            out_match.append(match)
        return Resolution(id_type, out_genes, out_match)

    def rename(self, symbols: Sequence[str]) -> tuple[list[str], int]:
        """Each symbol that is an alias of a gene key replaced by that key (others as they
        are); returns the symbols and how many distinct ones were renamed."""
        distinct = sorted(set(symbols))
        found = self.resolve(distinct, "symbol")
        new = {
            s: g
            for s, g, m in zip(distinct, found.genes, found.match, strict=True)
            if m is Match.ALIAS
        }
        return [new.get(s, s) for s in symbols], len(new)

    def alias_rows(self, genes: Sequence[str]) -> tuple[list[str], list[str], list[int]]:
        """``(alias, id_type, node)`` of every alias naming a node (genes are nodes
        ``0..len(genes)-1``), for the store's ``aliases.parquet``.

        Gene keys are left out (they match as themselves), and so is an alias string
        that two id types give to different genes.
        """
        node = {g: i for i, g in enumerate(genes)}
        seen: dict[str, tuple[str, int] | None] = {}
        for id_type in ID_TYPES:
            for alias, gene in self.tables.get(id_type, {}).items():
                if alias in node or gene not in node:
                    continue
                if alias not in seen:
                    seen[alias] = (id_type, node[gene])
                elif seen[alias] is not None and seen[alias][1] != node[gene]:
                    seen[alias] = None
        rows = sorted((a, *v) for a, v in seen.items() if v is not None)
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    def rekey(self, by_symbol: dict[str, str], genes: Collection[str]) -> tuple[dict, dict]:
        """``by_symbol`` (e.g. summaries) with entries under another name of a gene also
        under that gene's key, where it has none (NCBI's ``GBA1`` text for STRING's ``GBA``).

        Returns:
            ``(mapping, {"summaries_by_alias": n})``.
        """
        keys = frozenset(genes)
        others = [s for s in by_symbol if s not in keys]
        found = self.resolve(others, "symbol", keys)
        out = dict(by_symbol)
        added = 0
        for name, gene, match in zip(others, found.genes, found.match, strict=True):
            if match is Match.ALIAS and gene not in out:
                out[gene] = by_symbol[name]
                added += 1
        return out, {"summaries_by_alias": added}


def build_idmap(
    genes: Iterable[str],
    info: pa.Table,
    *,
    aliases: Path | None = None,
    summaries: Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> IdMap:
    """Build the identifier map of a store's genes.

    Args:
        genes: The gene keys the map resolves to exactly: STRING's symbols (the build
            renames GAF symbols through the map, then sets ``genes`` to the node set).
        info: STRING protein.info as read by :func:`ingest.string_db.read_protein_info`.
        aliases: STRING ``protein.aliases`` of the same release, or None.
        summaries: The NCBI-style summaries TSV (``id``, ``symbol``, ``synonyms``
            columns are read where present), or None.
        con: DuckDB connection to use; a private one when None.

    Raises:
        IngestError: An unreadable aliases or summaries file.
    """
    genes = frozenset(genes)
    own = con is None
    con = duckdb.connect() if own else con
    try:
        claims = [info_claims(info)]
        if aliases is not None:
            claims.append(read_alias_claims(Path(aliases), info, con))
        if summaries is not None:
            entrez = claims[-1] if aliases is not None else None
            claims.append(ncbi_claims(read_ncbi(Path(summaries), con), genes, entrez))
    finally:
        if own:
            con.close()
    table = pd.concat(claims, ignore_index=True)
    idmap = _resolve_claims(genes, table)
    log.info(
        "identifier map: %s aliases (%s ambiguous) from %d claims",
        {t: len(v) for t, v in idmap.tables.items()},
        {t: len(v) for t, v in idmap.ambiguous.items()},
        len(table),
    )
    return idmap


def _resolve_claims(genes: frozenset[str], claims: pd.DataFrame) -> IdMap:
    """Best rank per alias; unique gene -> table, several -> ambiguous."""
    claims = claims.dropna(subset=["alias", "gene"]).drop_duplicates()
    claims = claims[claims["alias"] != ""]
    best = claims.groupby(["id_type", "alias"])["rank"].transform("min")
    top = claims[claims["rank"] == best]
    n_genes = top.groupby(["id_type", "alias"])["gene"].transform("nunique")
    tables: dict[str, dict[str, str]] = {}
    ambiguous: dict[str, frozenset[str]] = {}
    stats: dict = {}
    for id_type in ID_TYPES:
        mine = top[top["id_type"] == id_type]
        one = mine[n_genes[mine.index] == 1]
        tables[id_type] = dict(zip(one["alias"], one["gene"], strict=False))
        ambiguous[id_type] = frozenset(mine.loc[n_genes[mine.index] > 1, "alias"])
        stats[id_type] = {"aliases": len(tables[id_type]), "ambiguous": len(ambiguous[id_type])}
    return IdMap(genes, tables, ambiguous, stats)
