"""Reading STRING's flat files: header check, compression, DuckDB read errors, SQL text.

The plumbing shared by every STRING reader (:mod:`ingest.string_db` for ``protein.info``
and ``protein.links``, :mod:`ingest.idmap` for ``protein.aliases``): each checks the
header in Python first, so that a wrong or corrupt file fails with a message naming it
before DuckDB's CSV sniffer reports something less direct, then runs a query from
``ingest/sql/`` and turns DuckDB's errors into an :class:`IngestError` naming the file.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from genen_core.files import is_gzip, open_maybe_gzip
from ingest.errors import IngestError

SQL_DIR = Path(__file__).parent / "sql"


def check_header(path: Path, expected: Sequence[str], delim: str, kind: str) -> None:
    """Fail early on a missing file, unreadable gzip or a header other than ``expected``.

    Args:
        path: The STRING file.
        expected: Its header fields.
        delim: The field separator (tab or space).
        kind: The file kind for messages, e.g. ``"protein.info"``.

    Raises:
        IngestError: The file is missing, corrupt or truncated, or has another header.
    """
    if not path.is_file():
        raise IngestError(f"{path}: STRING {kind} file not found; check the path")
    try:
        with open_maybe_gzip(path, "rt", encoding="utf-8") as f:
            first = f.readline().rstrip("\r\n")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise IngestError(
            f"{path}: cannot be read ({e}); the file is corrupt or truncated, download it again"
        ) from e
    if tuple(first.split(delim)) != tuple(expected):
        sep = "tab" if delim == "\t" else "space"
        raise IngestError(
            f"{path}:1: header {first[:200]!r} is not the STRING {kind} header "
            f"{delim.join(expected)!r} ({sep}-separated); pass the {kind} file here"
        )


def fetch_arrow(
    con: duckdb.DuckDBPyConnection, path: Path, sql_file: str, params: dict
) -> pa.Table:
    """Run ``sql_file`` on ``path`` (bound as ``$path``) and fetch the result as Arrow.

    Raises:
        IngestError: DuckDB could not read or convert the file (see :func:`read_error`).
    """
    # The relation is lazy: conversion errors (a non-numeric protein_size) surface only
    # when it is fetched, so the fetch is inside the try too.
    try:
        return con.sql(read_sql(sql_file), params={"path": str(path), **params}).to_arrow_table()
    except duckdb.Error as e:
        raise read_error(path, e) from e


def read_error(path: Path, e: duckdb.Error, columns: int | None = None) -> IngestError:
    """DuckDB's read error as an IngestError naming the file and, if possible, the line.

    Args:
        path: The file DuckDB was reading.
        e: DuckDB's error.
        columns: Fields per line of a space-separated file whose last field is an
            integer; used to find the bad line when DuckDB's message has no line number.
    """
    if isinstance(e, duckdb.IOException):
        return IngestError(
            f"{path}: cannot be read ({e}); the file is corrupt or truncated, download it again"
        )
    # Keep DuckDB's "CSV Error on Line: N", the line and the conversion message; drop its
    # hints about reader options, which do not apply to a fixed format.
    detail = " | ".join(str(e).split("\n\n")[0].splitlines()[:3])
    if "Line:" not in detail and columns is not None:
        # The dialect sniffer fails before reading (a bad line in a small file); name
        # the line ourselves (error path only, so a Python scan is fine).
        found = _first_malformed_line(path, columns)
        if found is not None:
            detail = (
                f"line {found[0]}: {found[1][:200]!r} is not {columns} space-separated "
                "fields ending in an integer score"
            )
    return IngestError(f"{path}: not a valid STRING file: {detail}")


def _first_malformed_line(path: Path, columns: int) -> tuple[int, str] | None:
    with open_maybe_gzip(path, "rt", encoding="utf-8", errors="replace") as f:
        next(f, None)  # the header was checked already
        for number, line in enumerate(f, 2):
            fields = line.rstrip("\r\n").split(" ")
            if len(fields) != columns or not fields[-1].lstrip("-").isdigit():
                return number, line.rstrip("\r\n")
    return None


def detect_compression(path: Path) -> str:
    """``"gzip"`` or ``"none"``, as DuckDB's ``compression`` option takes it."""
    # By content, not name: DuckDB guesses from the suffix, which a renamed file defeats.
    return "gzip" if is_gzip(path) else "none"


def read_sql(name: str) -> str:
    """The text of ``ingest/sql/<name>``."""
    return (SQL_DIR / name).read_text()
