"""GOA annotation file (GAF 2.1 / 2.2) -> distinct (gene symbol, primary GO id) pairs.

The file is read by DuckDB (``ingest/sql/gaf_lines.sql``), checked
(``gaf_checks.sql``) and each line is given one fate (``gaf_annotations.sql``):
filtered by aspect or evidence, ``NOT``-qualified, obsolete, unknown, kept via an alt
id, or kept. Annotation files usually come from another release than the ontology, so
obsolete and unknown ids are expected and counted rather than fatal; malformed lines
are fatal.

Every annotation line is counted exactly once::

    rows == aspect_dropped + evidence_dropped + not_qualified + obsolete_dropped
            + unknown_dropped + duplicates + kept

where ``kept`` is the number of distinct (gene, GO id) pairs returned and ``alt_mapped``
counts the lines among the kept ones (duplicates included) whose id was an alt id.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from genen_core.files import is_gzip, open_maybe_gzip
from ingest.errors import IngestError
from ingest.go import GoOntology

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).parent / "sql"
ASPECTS = ("P", "F", "C")
# Fates from gaf_annotations.sql that drop a line, in the order they are tested.
DROP_FATES = (
    "aspect_dropped",
    "evidence_dropped",
    "not_qualified",
    "obsolete_dropped",
    "unknown_dropped",
)
KEEP_FATES = ("alt_mapped", "kept")
# Temporary names this module creates in the caller's connection and removes again.
_TABLES = ("gaf_lines", "gaf_fates")
_VIEWS = ("gaf_go_live", "gaf_go_alt", "gaf_go_obsolete")
_RELEASE_TAGS = ("date-generated", "generated")
_GO_ID = re.compile(r"GO:[0-9]{7}")
_MIN_COLUMNS = 15

PAIR_SCHEMA = pa.schema(
    [pa.field("gene", pa.string(), nullable=False), pa.field("go_id", pa.string(), nullable=False)]
)
_ALT = pa.schema([("alt_id", pa.string()), ("primary_id", pa.string())])
_IDS = pa.schema([("id", pa.string())])


def read_gaf(
    path: Path,
    go: GoOntology,
    con: duckdb.DuckDBPyConnection | None = None,
    evidence_keep: Sequence[str] | None = None,
    evidence_drop: Sequence[str] = (),
    aspects: Sequence[str] | None = None,
) -> tuple[pa.Table, dict]:
    """Read gene -> GO annotations, mapped onto the live terms of ``go``.

    Args:
        path: GAF 2.x file, plain or ``.gz``.
        go: The ontology the annotations are mapped onto (:func:`ingest.go.parse_obo`).
        con: DuckDB connection to work in; a private in-memory one when None. Temporary
            tables named ``gaf_*`` are created in it and dropped again.
        evidence_keep: Evidence codes to keep (column 7), or None for all.
        evidence_drop: Evidence codes to drop (e.g. ``("IEA",)``), applied after
            ``evidence_keep``.
        aspects: Aspects to keep among ``P``, ``F``, ``C`` (column 9), or None for all.

    Returns:
        ``(pairs, stats)``: pairs has columns ``gene`` (column 3, DB object symbol) and
        ``go_id`` (primary id), distinct and sorted by ``(gene, go_id)``. stats has
        ``rows, kept, aspect_dropped, evidence_dropped, not_qualified, alt_mapped,
        obsolete_dropped, unknown_dropped, duplicates, genes, release`` (see the module
        docstring for how they add up).

    Raises:
        ValueError: ``aspects`` holds something other than P, F, C.
        IngestError: The file is missing, is not gzip/text, is truncated, has lines with
            fewer than 15 or more than 17 columns, an empty symbol, or a value in column
            5 that is not a GO id. The message names the file and the first lines.
    """
    path = Path(path)
    bad = sorted(set(aspects or ()) - set(ASPECTS))
    if bad:
        raise ValueError(f"aspects {bad} are not GAF aspects; use a subset of {list(ASPECTS)}")
    release, gzipped = _read_header(path)
    own = con is None
    con = duckdb.connect() if own else con
    try:
        _register_ontology(con, go)
        _run(
            con,
            path,
            "gaf_lines.sql",
            {"path": str(path), "compression": "gzip" if gzipped else "none"},
        )
        _check_lines(con, path)
        params = {
            "aspects": list(aspects) if aspects is not None else None,
            "evidence_keep": list(evidence_keep) if evidence_keep is not None else None,
            "evidence_drop": list(evidence_drop),
        }
        _run(con, path, "gaf_annotations.sql", params)
        fates = dict(con.execute("SELECT fate, count(*) FROM gaf_fates GROUP BY fate").fetchall())
        pairs = con.sql(
            "SELECT DISTINCT gene, go_id FROM gaf_fates WHERE list_contains($keep, fate) "
            "ORDER BY gene, go_id",
            params={"keep": list(KEEP_FATES)},
        ).to_arrow_table()
    finally:
        _drop_temporaries(con)
        if own:
            con.close()
    if not fates:
        raise IngestError(
            f"{path}: the file has a header but no annotation lines; pass the complete GAF "
            "file (download it again if it was cut short)"
        )
    pairs = pairs.cast(PAIR_SCHEMA)
    kept_lines = sum(fates.get(f, 0) for f in KEEP_FATES)
    stats = {
        "rows": sum(fates.values()),
        "kept": pairs.num_rows,
        **{fate: fates.get(fate, 0) for fate in DROP_FATES},
        "alt_mapped": fates.get("alt_mapped", 0),
        "duplicates": kept_lines - pairs.num_rows,
        "genes": len(pairs["gene"].unique()),
        "release": release,
    }
    log.info(
        "%s: %d lines -> %d (gene, GO) pairs on %d genes; dropped %s",
        path.name,
        stats["rows"],
        stats["kept"],
        stats["genes"],
        {fate: stats[fate] for fate in DROP_FATES if stats[fate]},
    )
    return pairs, stats


def _register_ontology(con: duckdb.DuckDBPyConnection, go: GoOntology) -> None:
    alt = sorted(go.alt_ids.items())
    con.register("gaf_go_live", go.terms.select(["id"]))
    con.register(
        "gaf_go_alt",
        pa.table({"alt_id": [a for a, _ in alt], "primary_id": [p for _, p in alt]}, schema=_ALT),
    )
    con.register("gaf_go_obsolete", pa.table({"id": sorted(go.obsolete)}, schema=_IDS))


def _drop_temporaries(con: duckdb.DuckDBPyConnection) -> None:
    for table in _TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")  # fixed names, not user input
    for view in _VIEWS:
        try:
            con.unregister(view)
        except duckdb.Error:  # never registered: the read failed before that point
            pass


def _run(con: duckdb.DuckDBPyConnection, path: Path, sql_file: str, params: dict) -> None:
    """Execute one SQL file; DuckDB's read errors (with their line number) name the file."""
    try:
        con.execute((SQL_DIR / sql_file).read_text(), params)
    except duckdb.IOException as e:
        raise IngestError(
            f"{path}: cannot be read ({e}); the file is corrupt or truncated, download it again"
        ) from e
    except duckdb.InvalidInputException as e:
        # Keep DuckDB's line number and line; drop its hints about reader options.
        detail = str(e).split("\nPossible fixes")[0]
        raise IngestError(f"{path}: not a GAF 2.x file (17 tab-separated columns): {detail}") from e


def _check_lines(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Fail on malformed lines, naming the problems, example values and first lines."""
    problems = con.execute((SQL_DIR / "gaf_checks.sql").read_text()).fetchall()
    if not problems:
        return
    described = "; ".join(
        f"{problem}: {n} line(s), e.g. GO ids {go_ids} symbols {symbols}"
        for problem, n, go_ids, symbols in problems
    )
    lines = ", ".join(str(n) for n in _malformed_lines(path, limit=5))
    raise IngestError(
        f"{path}: not a valid GAF 2.x file (first bad line(s): {lines}): {described}; "
        "each annotation line needs at least 15 tab-separated columns, a symbol in "
        "column 3 and a GO id (GO:NNNNNNN) in column 5"
    )


def _malformed_lines(path: Path, limit: int) -> list[int]:
    """1-based numbers of the first malformed annotation lines (error path only).

    The same rules as gaf_checks.sql, applied line by line because DuckDB does not
    report the source line of a row that parsed.
    """
    found = []
    for number, line in _numbered_lines(path):
        if line.startswith("!") or not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if (
            len(fields) < _MIN_COLUMNS
            or not fields[_MIN_COLUMNS - 1]
            or not fields[2]
            or not _GO_ID.fullmatch(fields[4])
        ):
            found.append(number)
            if len(found) == limit:
                break
    return found


def _read_header(path: Path) -> tuple[str, bool]:
    """The release (``!date-generated:`` / ``!Generated:`` value) and whether it is gzip.

    Also checks that the start of the file decompresses and that ``!gaf-version`` is 2.x.
    """
    release = ""
    try:
        for number, line in _numbered_lines(path):
            if not line.startswith("!"):
                break
            tag, _, value = line[1:].partition(":")
            tag, value = tag.strip().lower(), value.strip()
            if tag == "gaf-version" and not value.startswith("2"):
                raise IngestError(
                    f"{path}:{number}: gaf-version {value!r} is not supported; "
                    "convert the file to GAF 2.1 or 2.2"
                )
            if tag in _RELEASE_TAGS and not release:
                release = value
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise IngestError(
            f"{path}: cannot be read as a GAF file ({e}); the file is corrupt, truncated or "
            "not text, download it again"
        ) from e
    if not release:
        log.warning("%s: no '!date-generated:' or '!Generated:' header; release unknown", path)
    # By content, not name: DuckDB guesses from the suffix, which a renamed file defeats.
    return release, is_gzip(path)


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise IngestError(f"{path}: GAF file not found; check the path")
    with open_maybe_gzip(path, "rt", encoding="utf-8") as lines:
        yield from enumerate(lines, 1)
