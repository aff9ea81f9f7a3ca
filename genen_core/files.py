"""Reading inputs that may be gzip-compressed, and writing outputs so that none is half-written.

* :func:`is_gzip` / :func:`open_maybe_gzip`: compression is told by the file's first
  bytes, not its name: a renamed ``.gz`` still reads, and DuckDB, which guesses from the
  suffix, is told what :func:`is_gzip` found.
* :func:`atomic_path`: write beside the target, rename onto it at the end. A reader
  never sees half a file, a failed or killed write leaves the previous file as it was,
  and a write that raises leaves no temporary file behind.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
PARTIAL = ".partial"
"""Suffix of the temporary file :func:`atomic_path` writes beside its target."""


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` starts with gzip's magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def open_maybe_gzip(path: str | os.PathLike, mode: str = "rt", **kwargs: Any) -> IO:
    """``open(path, mode, **kwargs)``, decompressing when the file's content is gzip.

    Errors of a corrupt or truncated gzip stream (``OSError``, ``EOFError``,
    ``zlib.error``) surface while reading, for the caller to name the file.
    """
    return (gzip.open if is_gzip(path) else open)(path, mode, **kwargs)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to, renamed onto ``path`` when the block
    ends; removed, and ``path`` left untouched, when the block raises.

    Example::

        with atomic_path(out / "rows.parquet") as tmp:
            table.to_parquet(tmp)
    """
    path = Path(path)
    tmp = path.with_name(path.name + PARTIAL)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
