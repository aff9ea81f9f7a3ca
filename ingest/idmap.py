"""One identifier map for the genes of a store: any id a user's file holds -> the gene symbol.

Edge lists and label files name genes by whatever their source uses: current or old
symbols, Entrez ids, Ensembl gene or protein ids, UniProt accessions. The store's gene
nodes are keyed by STRING's ``preferred_name`` (plus GAF-only symbols). :func:`build_idmap`
collects *claims* ``(id_type, alias, gene, rank)`` from

* STRING ``protein.info``: each protein id (``9606.ENSP…`` and bare ``ENSP…``) claims its
  gene;
* STRING ``protein.aliases`` (when resolved): the sources in :data:`ALIAS_SOURCES` (and, for
  other species, sources named like them, see :func:`classify_source`) give Ensembl gene
  and protein ids, UniProt accessions, Entrez ids, current, previous and alias symbols;
* the summaries file (NCBI ``id``, ``symbol``, ``synonyms``): rows sharing an Entrez id are
  one gene; it is linked to the graph gene whose key is one of its symbols, else to the one
  its Entrez id names in the aliases, else to the single graph gene among its synonyms.
  Its symbols claim that gene as current symbols, its synonyms as synonyms, its id as
  the Entrez id. A gene the graph does not hold still claims its own names, so that a
  synonym shared with it is recognised as ambiguous, and so that an edge list can add it
  as a new gene node under its NCBI symbol.

The build renames GAF symbols that are aliases of STRING genes (an older GAF keeps old
names), resolves edge lists and label files through the map, and stores the aliases that
name a node in ``aliases.parquet`` for label files given at training time.

Precedence, per alias: a value that *is* a gene key matches exactly; otherwise the claims
of the best rank (current symbol > previous symbol > synonym) decide, and an alias that the
best rank gives to several genes is ambiguous and unused. Identifiers are normalised
before lookup: Ensembl versions (``.5``), UniProt isoforms (``-2``) and STRING taxon
prefixes (``9606.``) are dropped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from ingest.errors import IngestError
from ingest.string_files import check_header, detect_compression, read_error, read_sql

log = logging.getLogger(__name__)

ID_TYPES = ("symbol", "entrez", "ensembl_gene", "ensembl_protein", "uniprot")
ALIASES_HEADER = ("#string_protein_id", "alias", "source")
# What an identifier of each type looks like (after normalisation); "symbol" is the rest.
PATTERNS = {
    "ensembl_gene": re.compile(r"ENS[A-Z]*G\d{6,}"),
    "ensembl_protein": re.compile(r"ENS[A-Z]*P\d{6,}"),
    "uniprot": re.compile(r"[OPQ]\d[A-Z\d]{3}\d|[A-NR-Z]\d(?:[A-Z][A-Z\d]{2}\d){1,2}"),
    "entrez": re.compile(r"\d+"),
}
_VERSION = re.compile(r"^(ENS[A-Z]*[GPT]\d+)\.\d+$")
_ISOFORM = re.compile(r"^([A-Z\d]{6,10})-\d+$")
_TAXON = re.compile(r"^\d+\.(ENS[A-Z]*P\d+)$")
_SYNONYM_SPLIT = re.compile(r"\s*[;|]\s*")
_EXAMPLES = 5


class Rank(IntEnum):
    """How strongly a claim ties an alias to a gene (lower wins)."""

    CURRENT = 1
    PREVIOUS = 2
    SYNONYM = 3


# STRING v12 alias sources read by the map (one source per row in protein.aliases);
# everything else there (descriptions, PDB, RefSeq, paralogs ...) is ignored.
ALIAS_SOURCES: dict[str, tuple[str, Rank]] = {
    "Ensembl_HGNC_symbol": ("symbol", Rank.CURRENT),
    "Ensembl_HGNC": ("symbol", Rank.CURRENT),
    "BioMart_HUGO": ("symbol", Rank.CURRENT),
    "UniProt_GN_Name": ("symbol", Rank.CURRENT),
    "KEGG_NAME": ("symbol", Rank.CURRENT),
    "Ensembl_HGNC_prev_symbol": ("symbol", Rank.PREVIOUS),
    "Ensembl_HGNC_alias_symbol": ("symbol", Rank.SYNONYM),
    "Ensembl_external_synonym_HGNC": ("symbol", Rank.SYNONYM),
    "UniProt_GN_Synonyms": ("symbol", Rank.SYNONYM),
    "KEGG_NAME_SYNONYM": ("symbol", Rank.SYNONYM),
    "Ensembl_gene": ("ensembl_gene", Rank.CURRENT),
    "Ensembl_HGNC_ensembl_gene_id": ("ensembl_gene", Rank.CURRENT),
    "Ensembl_protein_id": ("ensembl_protein", Rank.CURRENT),
    "Ensembl_translation": ("ensembl_protein", Rank.CURRENT),
    "UniProt_AC": ("uniprot", Rank.CURRENT),
    "Ensembl_UniProt": ("uniprot", Rank.CURRENT),
    "Ensembl_HGNC_uniprot_ids": ("uniprot", Rank.CURRENT),
    "Ensembl_HGNC_entrez_id": ("entrez", Rank.CURRENT),
    "UniProt_DR_GeneID": ("entrez", Rank.CURRENT),
}


def classify_source(source: str) -> tuple[str, Rank] | None:
    """The id type and rank of a protein.aliases source, or None when it is not read.

    Known human sources come from :data:`ALIAS_SOURCES`; other species' nomenclature
    sources (``Ensembl_MGI_symbol``, ``..._prev_symbol``, ``..._alias_symbol``) by name.
    """
    if source in ALIAS_SOURCES:
        return ALIAS_SOURCES[source]
    if source.endswith("_prev_symbol"):
        return "symbol", Rank.PREVIOUS
    if source.endswith("_alias_symbol") or source.startswith("Ensembl_external_synonym"):
        return "symbol", Rank.SYNONYM
    if source.endswith("_symbol"):
        return "symbol", Rank.CURRENT
    return None


def normalise(value: str, id_type: str) -> str:
    """Strip what varies between sources for one id: versions, isoforms, taxon prefixes."""
    value = value.strip()
    if id_type in ("ensembl_gene", "ensembl_protein"):
        value = _TAXON.sub(r"\1", value)
        value = _VERSION.sub(r"\1", value)
    elif id_type == "uniprot":
        value = _ISOFORM.sub(r"\1", value)
    return value


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
        claims = [_info_claims(info)]
        if aliases is not None:
            claims.append(read_alias_claims(Path(aliases), info, con))
        if summaries is not None:
            entrez = claims[-1] if aliases is not None else None
            claims.append(_ncbi_claims(_read_ncbi(Path(summaries), con), genes, entrez))
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


def _info_claims(info: pa.Table) -> pd.DataFrame:
    proteins = [normalise(p, "ensembl_protein") for p in info.column("protein_id").to_pylist()]
    return _claims("ensembl_protein", proteins, info.column("symbol").to_pylist(), Rank.CURRENT)


def _claims(id_type: str, aliases: Sequence, genes: Sequence, rank) -> pd.DataFrame:
    return pd.DataFrame({"id_type": id_type, "alias": aliases, "gene": genes, "rank": rank})


def read_alias_claims(path: Path, info: pa.Table, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Claims from a STRING ``protein.aliases`` file (sources per :func:`classify_source`).

    Identifier values that do not look like their type (a symbol under an Entrez source)
    are dropped, since a few STRING sources mix both.
    """
    check_header(path, ALIASES_HEADER, "\t", "protein.aliases")
    params = {"path": str(path), "compression": detect_compression(path)}
    try:
        con.execute(read_sql("string_aliases_staging.sql"))
        listed = "SELECT DISTINCT source FROM string_aliases($path, $compression)"
        sources = [s for (s,) in con.execute(listed, params).fetchall() if s is not None]
        kinds = {s: k for s in sources if (k := classify_source(s)) is not None}
        con.register("string_info", info)
        try:
            rows = con.execute(
                read_sql("string_aliases.sql"), {**params, "sources": sorted(kinds)}
            ).df()
        finally:
            con.unregister("string_info")
            con.execute("DROP MACRO TABLE IF EXISTS string_aliases")
    except duckdb.Error as e:
        raise read_error(path, e) from e
    kind = rows["source"].map(kinds)
    rows["id_type"] = kind.map(lambda k: k[0])
    rows["rank"] = kind.map(lambda k: int(k[1]))
    rows["alias"] = [normalise(a, t) for a, t in zip(rows["alias"], rows["id_type"], strict=True)]
    fits = [
        t == "symbol" or bool(PATTERNS[t].fullmatch(a))
        for a, t in zip(rows["alias"], rows["id_type"], strict=True)
    ]
    rows = rows[fits]
    log.info("%s: %d alias rows from %d sources", path.name, len(rows), len(kinds))
    return rows.rename(columns={"symbol": "gene"})[["id_type", "alias", "gene", "rank"]]


def _read_ncbi(path: Path, con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """``(id, symbol, synonyms)`` rows of a summaries TSV (a missing column reads as None)."""
    try:
        rel = con.sql(
            "SELECT * FROM read_csv($path, delim = '\t', header = true, quote = '', "
            "escape = '', all_varchar = true)",
            params={"path": str(path)},
        )
        if "symbol" not in rel.columns:
            raise IngestError(f"{path}: no 'symbol' column in the header {rel.columns}")
        columns = [c if c in rel.columns else "NULL" for c in ("id", "symbol", "synonyms")]
        return rel.select(*columns).filter("symbol IS NOT NULL").fetchall()
    except duckdb.Error as e:
        raise IngestError(f"{path}: cannot be read as a summaries TSV: {e}") from e


def _ncbi_claims(
    rows: list[tuple], genes: frozenset[str], alias_claims: pd.DataFrame | None
) -> pd.DataFrame:
    """Claims of the NCBI genes (rows grouped by Entrez id), linked to graph genes."""
    by_entrez: dict[str, str] = {}
    if alias_claims is not None:
        ez = alias_claims[alias_claims["id_type"] == "entrez"]
        counts = ez.groupby("alias")["gene"].nunique()
        unique = ez[ez["alias"].isin(counts.index[counts == 1])]
        by_entrez = dict(zip(unique["alias"], unique["gene"], strict=True))
    entities: dict[str, tuple[list[str], list[str]]] = {}
    for entrez, symbol, synonyms in rows:
        key = entrez if entrez else f"symbol:{symbol}"
        symbols, syns = entities.setdefault(key, ([], []))
        if symbol not in symbols:
            symbols.append(symbol)
        syns.extend(s for s in _SYNONYM_SPLIT.split(synonyms or "") if s and s not in syns)
    ncbi_symbols = {s for symbols, _ in entities.values() for s in symbols}
    out: list[tuple[str, str, str, int]] = []
    for key, (symbols, syns) in entities.items():
        entrez = None if key.startswith("symbol:") else key
        gene = _link(symbols, syns, entrez, genes, by_entrez, ncbi_symbols)
        if gene is None:
            continue
        out += [("symbol", s, gene, Rank.CURRENT) for s in symbols]
        out += [("symbol", s, gene, Rank.SYNONYM) for s in syns if s not in symbols]
        if entrez is not None:
            out.append(("entrez", entrez, gene, Rank.CURRENT))
    return pd.DataFrame(out, columns=["id_type", "alias", "gene", "rank"])


def _link(symbols, syns, entrez, genes, by_entrez, ncbi_symbols) -> str | None:
    """The graph gene an NCBI gene is (its own first symbol when the graph lacks it)."""
    linked = {s for s in symbols if s in genes}
    if len(linked) == 1:
        return linked.pop()
    if linked:  # two graph genes are one NCBI gene: leave both to their exact keys
        return None
    if entrez in by_entrez:
        return by_entrez[entrez]
    # A synonym that is another NCBI gene's symbol belongs to that gene, not this one.
    candidates = {s for s in syns if s in genes and s not in ncbi_symbols}
    if len(candidates) == 1:
        return candidates.pop()
    return symbols[0]


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
