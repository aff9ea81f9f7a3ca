"""Gene Ontology OBO file -> live terms, child -> parent edges, alt ids and obsolete ids.

:func:`parse_obo` reads an OBO 1.2/1.4 file (plain or ``.gz``) with :mod:`ingest.obo` (obonet's
stanza semantics, several times faster) and checks what the graph store relies on:

* the file has at least one live term;
* every term id appears in one ``[Term]`` stanza only, and no alt id is also a term id or
  claimed by two terms;
* every kept edge joins two *live* terms (a parent that is obsolete, an alt id or absent
  is a dangling parent);
* ``is_a`` / ``part_of`` edges form no cycle (GO is a DAG under them; ``regulates`` is
  not required to be acyclic by the ontology, so it is not checked).

Obsolete terms are dropped from ``terms`` and ``edges`` but kept in ``obsolete`` so that
annotation files from an older release can be mapped and counted (:mod:`ingest.gaf`).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from genen_core.files import is_gzip, open_maybe_gzip
from ingest.errors import IngestError
from ingest.obo import read_sections

log = logging.getLogger(__name__)

DEFAULT_RELATIONS = (
    "is_a",
    "part_of",
    "regulates",
    "positively_regulates",
    "negatively_regulates",
)
# Relations under which GO is a DAG; a cycle through them is a broken ontology.
ACYCLIC_RELATIONS = ("is_a", "part_of")
# The tags read, and whether each is singular (obonet's term/header tag tables): the last
# value of a singular tag wins, the others collect a list.
TERM_TAGS = {
    "id": True,
    "name": True,
    "namespace": True,
    "def": True,
    "is_obsolete": True,
    "alt_id": False,
    "is_a": False,
    "relationship": False,
}
HEADER_TAGS = {"format-version": True, "data-version": True, "date": True}

TERM_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("namespace", pa.string()),
        pa.field("definition", pa.string()),
    ]
)
EDGE_SCHEMA = pa.schema(
    [
        pa.field("src", pa.string(), nullable=False),
        pa.field("dst", pa.string(), nullable=False),
        pa.field("relation", pa.string(), nullable=False),
    ]
)

# def: "text with \" escapes" [xrefs]  ->  text
# (the escape loop unrolled: the same matches, without one alternation per character)
_DEF = re.compile(r'^"(?P<text>[^"\\]*(?:\\.[^"\\]*)*)"\s*(?:\[.*\])?\s*$')
_UNESCAPE = re.compile(r"\\(.)")
# How many offending ids an error message lists before "... and N more".
_SHOW = 10


@dataclass
class GoOntology:
    """One parsed GO release.

    Attributes:
        terms: Live terms sorted by id: ``id, name, namespace, definition`` (definition
            without its quotes and trailing ``[xrefs]``; null when the term has none).
        edges: Child -> parent edges between live terms, only the kept relation types,
            sorted by ``(src, dst, relation)``: ``src, dst, relation``.
        alt_ids: Alternative id -> primary id, for live and obsolete terms.
        obsolete: Ids of obsolete terms.
        release: The ``data-version`` header without a leading ``releases/``
            (``date`` when there is no ``data-version``; empty when neither is present).
        stats: ``terms``, ``obsolete``, ``edges`` (relation -> count), ``alt_ids``.
    """

    terms: pa.Table
    edges: pa.Table
    alt_ids: dict[str, str] = field(default_factory=dict)
    obsolete: set[str] = field(default_factory=set)
    release: str = ""
    stats: dict = field(default_factory=dict)


def parse_obo(path: Path, relations: Sequence[str] = DEFAULT_RELATIONS) -> GoOntology:
    """Parse and validate an OBO ontology file.

    Args:
        path: ``.obo`` or ``.obo.gz`` file.
        relations: Edge types to keep (``is_a`` and ``relationship:`` type names).

    Returns:
        The live terms, kept edges, alt-id map, obsolete ids, release and counts.

    Raises:
        IngestError: The file is not an OBO file (no ``format-version`` header, a line
            that is not ``tag: value``, not text, corrupt gzip), it has no live term, a
            term id is duplicated, an alt id is ambiguous, a kept edge has a dangling
            parent, or ``is_a`` / ``part_of`` edges form a cycle. The message names the file and the ids.
    """
    path = Path(path)
    header, stanzas = _read_stanzas(path)
    if "format-version" not in header:
        raise IngestError(
            f"{path}: not an OBO file (no 'format-version:' header line before the first "
            "stanza); pass a Gene Ontology .obo or .obo.gz file such as go-basic.obo"
        )
    live, obsolete, alt_ids = _split_terms(path, stanzas)
    if not live:
        raise IngestError(
            f"{path}: the ontology has no terms ({len(stanzas)} [Term] stanza(s), "
            f"{len(obsolete)} obsolete); pass a Gene Ontology file such as go-basic.obo"
        )
    keep = set(relations)
    edges = [
        (child, parent, rel)
        for child, stanza in live.items()
        for rel, parent in _term_edges(stanza)
        if rel in keep
    ]
    edges = sorted(set(edges))
    _check_parents(path, edges, live, obsolete, alt_ids)
    check_acyclic(path, [e for e in edges if e[2] in ACYCLIC_RELATIONS])

    ids = sorted(live)
    terms = pa.table(
        {
            "id": ids,
            "name": [live[i].get("name") for i in ids],
            "namespace": [live[i].get("namespace") for i in ids],
            "definition": [_definition(live[i].get("def")) for i in ids],
        },
        schema=TERM_SCHEMA,
    )
    edge_table = pa.table(
        {k: [e[j] for e in edges] for j, k in enumerate(EDGE_SCHEMA.names)},
        schema=EDGE_SCHEMA,
    )
    per_relation = Counter(e[2] for e in edges)
    release = header.get("data-version") or header.get("date") or ""
    stats = {
        "terms": len(ids),
        "obsolete": len(obsolete),
        "edges": {rel: per_relation.get(rel, 0) for rel in relations},
        "alt_ids": len(alt_ids),
    }
    log.info(
        "%s: %d live terms, %d obsolete, edges %s",
        path.name,
        len(ids),
        len(obsolete),
        stats["edges"],
    )
    return GoOntology(
        terms=terms,
        edges=edge_table,
        alt_ids=alt_ids,
        obsolete=obsolete,
        release=release.removeprefix("releases/"),
        stats=stats,
    )


def _read_stanzas(path: Path) -> tuple[dict, list[dict]]:
    """The header and the ``[Term]`` stanzas (obsolete ones included), as obonet parses them.

    Stanzas rather than ``obonet.read_obo``'s graph: read_obo drops obsolete terms (needed
    to map older annotations), merges duplicate stanzas silently, adds a bare node for
    every dangling parent and builds a networkx graph nothing here uses.
    """
    if not path.is_file():
        raise IngestError(f"{path}: GO ontology file not found; check the path")
    gzipped = is_gzip(path)  # by content: a renamed .gz still reads
    try:
        with open_maybe_gzip(path, "rt", encoding="utf-8") as lines:
            progress = tqdm(
                lines, desc=f"parse {path.name}", unit=" lines", leave=False, disable=None
            )
            return read_sections(progress, TERM_TAGS, HEADER_TAGS, str(path))
    except UnicodeDecodeError as e:
        raise IngestError(f"{path}: not an OBO file ({e}); pass a .obo or .obo.gz file") from e
    except (OSError, EOFError, zlib.error) as e:
        raise IngestError(
            f"{path}: cannot be read as {'gzip' if gzipped else 'text'} ({e}); the file is "
            "corrupt or truncated, download it again"
        ) from e


def _split_terms(
    path: Path, stanzas: list[dict]
) -> tuple[dict[str, dict], set[str], dict[str, str]]:
    """Live stanzas by id, obsolete ids and the alt id -> primary id map; checks uniqueness."""
    live: dict[str, dict] = {}
    obsolete: set[str] = set()
    alt_ids: dict[str, str] = {}
    seen: Counter[str] = Counter()
    ambiguous: list[str] = []
    for number, stanza in enumerate(stanzas, 1):
        term_id = stanza.get("id")
        if not term_id:
            raise IngestError(f"{path}: [Term] stanza number {number} has no 'id:' line")
        seen[term_id] += 1
        if stanza.get("is_obsolete", "false") == "true":
            obsolete.add(term_id)
        else:
            live[term_id] = stanza
        for alt in stanza.get("alt_id", []):
            if alt in alt_ids and alt_ids[alt] != term_id:
                ambiguous.append(f"{alt} (alt id of {alt_ids[alt]} and {term_id})")
            alt_ids[alt] = term_id
    duplicated = sorted(i for i, n in seen.items() if n > 1)
    if duplicated:
        raise IngestError(
            f"{path}: {len(duplicated)} term id(s) appear in more than one [Term] stanza: "
            f"{_listing(duplicated)}; merge or remove the duplicate stanzas"
        )
    ambiguous += [
        f"{alt} (alt id of {alt_ids[alt]} and a term id)" for alt in alt_ids if alt in seen
    ]
    if ambiguous:
        raise IngestError(
            f"{path}: {len(ambiguous)} alt id(s) are ambiguous: {_listing(sorted(ambiguous))}"
        )
    return live, obsolete, alt_ids


def _term_edges(stanza: dict) -> list[tuple[str, str]]:
    """(relation, parent) pairs of one term: ``is_a`` lines and ``relationship:`` lines."""
    edges = [("is_a", parent) for parent in stanza.get("is_a", [])]
    for value in stanza.get("relationship", []):
        rel, _, parent = value.partition(" ")
        edges.append((rel, parent.strip()))
    return edges


def _check_parents(
    path: Path,
    edges: list[tuple[str, str, str]],
    live: dict[str, dict],
    obsolete: set[str],
    alt_ids: dict[str, str],
) -> None:
    """Every kept edge must end in a live term; name the dangling ones and why."""
    dangling = sorted({(c, p, r) for c, p, r in edges if p not in live})
    if not dangling:
        return

    def why(parent: str) -> str:
        if parent in obsolete:
            return "obsolete"
        if parent in alt_ids:
            return f"an alt id of {alt_ids[parent]}"
        return "not defined"

    shown = [f"{c} {r} {p} ({why(p)})" for c, p, r in dangling]
    raise IngestError(
        f"{path}: {len(dangling)} edge(s) point to a parent that is not a live term: "
        f"{_listing(shown)}; edges must join live terms by their primary ids"
    )


def check_acyclic(path: Path, edges: list[tuple[str, str, str]]) -> None:
    """Raise naming the terms of one cycle if the child -> parent edges are not a DAG.

    Kahn's algorithm, one whole level at a time with numpy: GO is ~20 levels deep, so
    this is a few vectorised passes over the edge arrays instead of a Python-level DFS
    over 80k edges (networkx ``find_cycle`` costs more than the rest of the validation).

    Args:
        path: The file the edges came from, for the message.
        edges: ``(child, parent, relation)`` triples.

    Raises:
        IngestError: Naming the terms of one cycle, in child -> parent order.
    """
    if not edges:
        return
    index: dict[str, int] = {}
    codes = [index.setdefault(term, len(index)) for c, p, _ in edges for term in (c, p)]
    names = list(index)
    src, dst = np.array(codes[0::2]), np.array(codes[1::2])
    alive = np.ones(len(src), dtype=bool)  # edges whose child is not yet peeled
    in_degree = np.bincount(dst, minlength=len(names))
    removed = np.zeros(len(names), dtype=bool)
    frontier = np.flatnonzero(in_degree == 0)
    while frontier.size:
        removed[frontier] = True
        leaving = alive & removed[src]
        alive &= ~leaving
        in_degree -= np.bincount(dst[leaving], minlength=len(names))
        frontier = np.flatnonzero((in_degree == 0) & ~removed)
    if removed.all():
        return
    # Every term left has a child left (else it would have been peeled), so walking from
    # parent to child never stops; the walk from the first repeated term is a cycle.
    child_of = {int(d): int(s) for s, d in zip(src[alive], dst[alive], strict=True)}
    order: dict[int, int] = {}
    node = next(iter(child_of))
    while node not in order:
        order[node] = len(order)
        node = child_of[node]
    cycle = [names[n] for n, i in order.items() if i >= order[node]][::-1]
    raise IngestError(
        f"{path}: the {'/'.join(ACYCLIC_RELATIONS)} edges form a cycle through "
        f"{' -> '.join([*cycle, cycle[0]])} ({int((~removed).sum())} term(s) on or above "
        "cycles); a term cannot be its own ancestor, fix the parent links"
    )


def _definition(raw: str | None) -> str | None:
    """``"text" [xrefs]`` -> ``text``; a value without quotes is returned stripped."""
    if raw is None:
        return None
    match = _DEF.match(raw)
    if match is None:
        return raw.strip()
    text = match.group("text")
    return _UNESCAPE.sub(r"\1", text) if "\\" in text else text


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOW])
    return shown + (f" ... and {len(items) - _SHOW} more" if len(items) > _SHOW else "")
