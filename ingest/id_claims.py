"""Identifier types, and the claims ``(id_type, alias, gene, rank)`` each source makes.

:func:`ingest.idmap.build_idmap` collects claims from

* STRING ``protein.info`` (:func:`info_claims`): each protein id (``9606.ENSP…`` and bare
  ``ENSP…``) claims its gene;
* STRING ``protein.aliases`` (:func:`read_alias_claims`, when resolved): the sources in
  :data:`ALIAS_SOURCES` (and, for other species, sources named like them, see
  :func:`classify_source`) give Ensembl gene and protein ids, UniProt accessions, Entrez
  ids, current, previous and alias symbols;
* the summaries file (NCBI ``id``, ``symbol``, ``synonyms``; :func:`read_ncbi`,
  :func:`ncbi_claims`): rows sharing an Entrez id are one gene; it is linked to the graph
  gene whose key is one of its symbols, else to the one its Entrez id names in the
  aliases, else to the single graph gene among its synonyms. Its symbols claim that gene
  as current symbols, its synonyms as synonyms, its id as the Entrez id. A gene the graph
  does not hold still claims its own names, so that a synonym shared with it is
  recognised as ambiguous, and so that an edge list can add it as a new gene node under
  its NCBI symbol.

Identifiers are normalised (:func:`normalise`) before they claim or are looked up:
Ensembl versions (``.5``), UniProt isoforms (``-2``) and STRING taxon prefixes
(``9606.``) are dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
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


def info_claims(info: pa.Table) -> pd.DataFrame:
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


def read_ncbi(path: Path, con: duckdb.DuckDBPyConnection) -> list[tuple]:
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


def ncbi_claims(
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
