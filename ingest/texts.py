"""The text of every node: gene summaries + UniProt function text, GO name + definition.

A gene's text is its NCBI / MyGene summary (when there is one) followed by the
protein.info annotation of its protein (STRING's UniProt-derived function text). A GO
term's text is ``name + ". " + definition``. Texts are cleaned lightly (see
:func:`clean_text`) and word counts kept, since the knowledge-bias analyses split genes
by how much text they have.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ingest.errors import IngestError

log = logging.getLogger(__name__)

NO_ANNOTATION = "annotation not available"
SUMMARY_COLUMNS = ("symbol", "summary")
# Editorial and citation tags that carry no biology and would otherwise become tokens
# shared by thousands of unrelated genes: NCBI's "[provided by RefSeq, Jul 2008]" /
# "[supplied by OMIM, Dec 2010]" provenance notes, "[PubMed 8356058]", and inline
# "(PubMed:123, PubMed:456)" / "(PMID:18089847)" references. Free-text mentions such
# as "(see PMID 20833636)" are left alone: removing them would cut sentences.
_NOISE = re.compile(
    r"\[(?:provided|supplied) by [^\]]*\]"
    r"|\[PubMed \d+(?:,\s*\d+)*\]"
    r"|\((?:(?:PubMed|PMID):\s?\d+(?:,\s*)?)+\)"
)
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:])")


def clean_text(text: str | None) -> str:
    """Remove provenance notes and citation tags, collapse whitespace; None -> ``""``."""
    if not text:
        return ""
    text = _NOISE.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def word_counts(texts: Sequence[str]) -> np.ndarray:
    """Whitespace-separated words per text.

    Shapes:
        return: ``[len(texts)]`` int32.
    """
    return np.fromiter((len(t.split()) for t in texts), dtype=np.int32, count=len(texts))


def read_summaries(path: Path, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """Gene symbol -> cleaned summary from an NCBI-style TSV (plain or gzipped).

    Args:
        path: Tab-separated file with a header holding at least ``symbol`` and
            ``summary`` (e.g. ``ncbi_gene_summaries_human.*.tsv.gz``).
        con: DuckDB connection to use; a private one when None.

    Returns:
        Symbols with a non-empty summary. A symbol listed twice keeps its first
        non-empty summary.

    Raises:
        IngestError: Missing or unreadable file, or missing columns.
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: gene summary file not found; check --summaries")
    own = con is None
    con = duckdb.connect() if own else con
    try:
        # Summaries contain quotes and no field is ever quoted: quote = '' and escape = ''.
        rel = con.sql(
            "SELECT * FROM read_csv($path, delim = '\t', header = true, quote = '', "
            "escape = '', all_varchar = true)",
            params={"path": str(path)},
        )
        missing = [c for c in SUMMARY_COLUMNS if c not in rel.columns]
        if missing:
            raise IngestError(
                f"{path}: no column(s) {missing} in the header {rel.columns}; pass a "
                "tab-separated file with 'symbol' and 'summary' columns (NCBI gene_info style)"
            )
        rows = rel.select("symbol", "summary").fetchall()
    except duckdb.Error as e:
        raise IngestError(
            f"{path}: cannot be read as a tab-separated summary file: {str(e).splitlines()[0]}"
        ) from e
    finally:
        if own:
            con.close()
    out: dict[str, str] = {}
    for symbol, summary in rows:
        text = clean_text(summary)
        if symbol and text and symbol not in out:
            out[symbol] = text
    log.info("%s: %d genes with a summary (of %d rows)", path.name, len(out), len(rows))
    return out


def protein_annotations(info: pa.Table) -> dict[str, str]:
    """Gene symbol -> cleaned protein.info annotation (``"annotation not available"`` -> none).

    A gene with several proteins gets the annotation of its first protein (by protein
    id) that has one, so the choice does not depend on file order.
    """
    rows = sorted(
        zip(
            info.column("symbol").to_pylist(),
            info.column("protein_id").to_pylist(),
            info.column("annotation").to_pylist(),
            strict=True,
        )
    )
    out: dict[str, str] = {}
    for symbol, _, annotation in rows:
        if annotation is None or annotation.strip().lower() == NO_ANNOTATION:
            continue
        text = clean_text(annotation)
        if text and symbol not in out:
            out[symbol] = text
    return out


def gene_texts(
    genes: Sequence[str], summaries: dict[str, str], annotations: dict[str, str]
) -> tuple[list[str], dict]:
    """One text per gene: summary, then annotation; the bare symbol when it has neither.

    The symbol fallback keeps every row encodable; such genes are counted so that a
    text-poor gene set is visible in the manifest.

    Returns:
        ``(texts, stats)`` with stats ``with_summary``, ``with_annotation``, ``without_text``.
    """
    texts = []
    stats = {"with_summary": 0, "with_annotation": 0, "without_text": 0}
    for gene in genes:
        parts = [p for p in (summaries.get(gene), annotations.get(gene)) if p]
        stats["with_summary"] += gene in summaries
        stats["with_annotation"] += gene in annotations
        if not parts:
            stats["without_text"] += 1
            parts = [gene]
        texts.append(" ".join(parts))
    return texts, stats


def go_texts(terms: pa.Table) -> list[str]:
    """``name + ". " + definition`` per GO term (just the name when it has no definition)."""
    out = []
    for name, definition in zip(
        terms.column("name").to_pylist(), terms.column("definition").to_pylist(), strict=True
    ):
        name = clean_text(name)
        definition = clean_text(definition)
        out.append(f"{name}. {definition}" if definition else name)
    return out


def load_summaries(
    source: str | None,
    genes: Sequence[str],
    *,
    cache_dir: Path,
    mygene_url: str,
    species: str = "human",
) -> dict[str, str]:
    """Summaries from a TSV path, from MyGene.info (``"mygene"``), or none (None)."""
    if source is None:
        return {}
    if source == "mygene":
        from ingest.mygene import fetch_summaries

        fetched = fetch_summaries(list(genes), cache_dir, base_url=mygene_url, species=species)
        return {g: t for g, t in ((g, clean_text(s)) for g, s in fetched.items()) if t}
    return read_summaries(Path(source))
