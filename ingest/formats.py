"""What the first bytes of each raw input must be, checked before a download is cached.

A server can answer a wrong URL, an expired link or a captive portal with an HTML page
and status 200. Kept as a finished cache entry, that page would fail every later run;
:func:`check_format` recognises each input by its first line (and gzip magic where the
name promises gzip) so that such a download is rejected and never cached. The parsers
check the whole file later; this is only the cheap gate.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

from genen_core.files import is_gzip, open_maybe_gzip
from ingest.errors import IngestError
from ingest.string_db import INFO_HEADER, LINKS_HEADER

# key -> (what the file is, test of its first line)
FIRST_LINE: dict[str, tuple[str, Callable[[str], bool]]] = {
    "links": ("a STRING protein.links file", lambda line: tuple(line.split(" ")) == LINKS_HEADER),
    "info": ("a STRING protein.info file", lambda line: tuple(line.split("\t")) == INFO_HEADER),
    "aliases": (
        "a STRING protein.aliases file",
        lambda line: line.startswith(f"{INFO_HEADER[0]}\t"),
    ),
    "obo": ("a GO OBO file", lambda line: line.startswith("format-version:")),
    "gaf": ("a GAF annotation file", lambda line: line.startswith("!gaf-version:")),
}


def check_format(key: str) -> Callable[[Path], None]:
    """A check that raises :class:`IngestError` unless a file looks like input ``key``."""
    what, first_line_ok = FIRST_LINE[key]

    def check(path: Path) -> None:
        name = path.name.removesuffix(".part")
        if name.endswith(".gz") and not is_gzip(path):
            raise IngestError(
                f"{name} is not gzip-compressed (it starts with {_first_line(path)!r}); "
                f"expected {what}"
            )
        try:
            line = _first_line(path)
        except (OSError, EOFError, zlib.error) as e:
            raise IngestError(f"{name} cannot be decompressed ({e}); expected {what}") from e
        if not first_line_ok(line):
            raise IngestError(f"{name} starts with {line[:80]!r}; expected {what}")

    return check


def _first_line(path: Path) -> str:
    with open_maybe_gzip(path, "rb") as f:
        return f.readline(4096).decode("utf-8", errors="replace").rstrip("\r\n")
