"""Feature files in a store: ``features/<name>.npy`` with its ``<name>.json`` sidecar.

Files for one feature name, all in ``<store>/features/``:

* ``<name>.npy``: ``[num_nodes, dim]`` float16|float32, row i = node i; read with
  ``np.load(..., mmap_mode="r")``.
* ``<name>.json``: the sidecar: model, revision, pooling, dim, max_length, dtype,
  compute_dtype (``bfloat16`` marks the CPU fast path: its rows are never reused for a
  float32 run, nor the other way round), counts
  and ``row_hashes``, the blake2b-128 hex digest of each node's exact text (UTF-8).
* ``<name>.npy.partial`` and ``<name>.progress.json``: only while a run is under way or was
  interrupted: the memory-mapped rows written so far and the shards already done.

Invariants: readers never see a half-written ``<name>.npy`` (it appears by rename once
complete); a sidecar always describes the ``.npy`` beside it (the old sidecar is removed
before the new file is renamed in, so a crash between the renames leaves features without
a sidecar, which the next run re-encodes, never a sidecar that lies about its rows).
Rows are reused by text hash, never by position: a rebuilt store may order nodes
differently.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genen_core.files import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

HASH = "blake2b-128 of UTF-8 text"
# Sidecar keys that must match for stored rows to be reused: they fix what a row means.
IDENTITY_KEYS = ("model", "revision", "pooling", "max_length", "dim", "dtype", "compute_dtype")
# What a sidecar written before a key was part of the identity meant by it.
IDENTITY_DEFAULTS = {"compute_dtype": "auto"}


def text_hashes(texts: Sequence[str]) -> list[str]:
    """Hex digest of each text (see :data:`HASH`)."""
    return [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in texts]


def fingerprint(*parts) -> str:
    """A short digest of JSON-able values and arrays, to tell whether a plan is unchanged."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True).encode())
    return h.hexdigest()


def _write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))


@dataclass(frozen=True)
class FeatureFiles:
    """Paths of one feature name inside a store's ``features/`` directory."""

    directory: Path
    name: str

    @property
    def npy(self) -> Path:
        return self.directory / f"{self.name}.npy"

    @property
    def sidecar(self) -> Path:
        return self.directory / f"{self.name}.json"

    @property
    def partial(self) -> Path:
        return self.directory / f"{self.name}.npy.partial"

    @property
    def progress(self) -> Path:
        return self.directory / f"{self.name}.progress.json"


@dataclass
class Previous:
    """A complete earlier feature file whose rows may be reused.

    Attributes:
        rows: The memory-mapped matrix. Shape ``[old_num_nodes, dim]``.
        meta: Its sidecar.
        row_of_hash: Text hash -> row of a non-empty text.
    """

    rows: np.ndarray
    meta: dict
    row_of_hash: dict[str, int]


def read_previous(files: FeatureFiles, identity: dict) -> Previous | None:
    """The existing features if complete and made with the same ``identity``, else ``None``.

    The reason for not reusing is logged, so a user who wonders why everything is being
    re-encoded can tell (another model revision, pooling, ...).
    """
    if not files.npy.is_file():
        return None
    if not files.sidecar.is_file():
        log.warning("%s has no sidecar %s; re-encoding every row", files.npy, files.sidecar.name)
        return None
    try:
        meta = json.loads(files.sidecar.read_text())
        rows = np.load(files.npy, mmap_mode="r")
    except (OSError, ValueError) as e:
        log.warning("cannot read %s (%s); re-encoding every row", files.npy, e)
        return None
    stored = {k: meta.get(k, IDENTITY_DEFAULTS.get(k)) for k in IDENTITY_KEYS}
    changed = {k: (stored[k], identity[k]) for k in IDENTITY_KEYS if stored[k] != identity[k]}
    if changed:
        log.info("%s was made with other settings %s (old, new); re-encoding", files.npy, changed)
        return None
    hashes = meta.get("row_hashes", [])
    empty = set(meta.get("empty_rows", []))
    if rows.ndim != 2 or len(hashes) != rows.shape[0]:
        log.warning(
            "%s: %d hashes for %s rows; re-encoding", files.sidecar, len(hashes), rows.shape
        )
        return None
    row_of_hash = {h: i for i, h in enumerate(hashes) if i not in empty}
    return Previous(rows, meta, row_of_hash)


class PartialFeatures:
    """The feature matrix under construction (``*.npy.partial``) and its progress record.

    The progress record names the plan it belongs to (``plan``, a fingerprint of settings,
    texts and shards) and the shards already written. Opening with the same plan resumes;
    any other plan starts over.

    Shapes:
        the matrix is ``[num_nodes, dim]`` of ``dtype``.
    """

    def __init__(self, files: FeatureFiles, shape: tuple[int, int], dtype: str, plan: str):
        self.files = files
        self.plan = plan
        self.done: set[int] = set()
        files.directory.mkdir(parents=True, exist_ok=True)
        self.resumed = self._try_resume(shape, dtype)
        if not self.resumed:
            files.progress.unlink(missing_ok=True)
            self.rows = np.lib.format.open_memmap(
                files.partial, mode="w+", dtype=dtype, shape=shape
            )

    def _try_resume(self, shape: tuple[int, int], dtype: str) -> bool:
        f = self.files
        if not (f.progress.is_file() and f.partial.is_file()):
            return False
        try:
            progress = json.loads(f.progress.read_text())
            rows = np.load(f.partial, mmap_mode="r+")
        except (OSError, ValueError) as e:
            log.warning("cannot resume from %s (%s); starting over", f.partial, e)
            return False
        if progress.get("plan") != self.plan or rows.shape != shape or rows.dtype != dtype:
            log.info(
                "%s belongs to another plan (texts or settings changed); starting over", f.partial
            )
            return False
        self.rows = rows
        self.done = set(progress["done"])
        log.info("resuming %s: %d shards already done", f.partial, len(self.done))
        return True

    def write(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Store ``values[i]`` as row ``rows[i]`` (cast to the file's dtype)."""
        self.rows[rows] = values

    def commit_progress(self, done: int | None = None) -> None:
        """Flush the rows, then record shard ``done`` (if given) as finished.

        Flushing first is the ordering that makes resuming safe: a shard is only ever
        listed once its rows are on disk.
        """
        self.rows.flush()
        if done is not None:
            self.done.add(done)
        _write_json_atomic(self.files.progress, {"plan": self.plan, "done": sorted(self.done)})

    def finish(self, sidecar: dict) -> Path:
        """Write the sidecar and rename the finished matrix into place; returns its path."""
        f = self.files
        self.rows.flush()
        del self.rows
        with atomic_path(f.sidecar) as tmp:
            tmp.write_text(json.dumps(sidecar, indent=1, sort_keys=True))
            # Remove the old sidecar first: features without a sidecar are re-encoded, a
            # sidecar beside rows it does not describe would be trusted.
            f.sidecar.unlink(missing_ok=True)
            os.replace(f.partial, f.npy)
        f.progress.unlink(missing_ok=True)
        return f.npy
