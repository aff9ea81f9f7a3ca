"""A store on every node: a local path as is, or a URI copied once per node to local disk.

Training workers memory-map the store, so every node needs it on a local (or shared)
filesystem. ``data.store`` may therefore be

* a path: used as is; on a cluster it must be the same path on every node (an NFS or
  other shared mount, or a copy made beforehand);
* a URI that pyarrow's filesystems open (``file://``, ``s3://``, ``gs://``, ``hdfs://``,
  ``abfs://``): :func:`local_store` copies it into ``<cache>/<key>/store`` on the node
  that asks, then hands out that path.

Invariants the copy keeps:

* One copy per node: an exclusive lock on ``<cache>/<key>.lock`` (``filelock``, an
  ``fcntl`` lock on POSIX) serialises every process of the node, so of several workers
  on one node the first copies and the others wait, then reuse it.
* Skipped when unchanged: the remote's *fingerprint* (SHA-256 of ``manifest.json`` and of
  every file's relative path and size) is written beside the copy when it is complete;
  a later call that finds the same fingerprint copies nothing. A store that changed
  (features added by ``genen-encode``, a rebuild) is copied again.
* Never half-visible: files go to ``<key>/incoming`` and replace ``<key>/store`` only
  when complete and size-checked. A process that still maps the old copy keeps reading
  it (its files are unlinked, not overwritten).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs
from filelock import FileLock
from tqdm import tqdm

from genen_core.store import MANIFEST, StoreError

log = logging.getLogger(__name__)

DEFAULT_CACHE = "~/.cache/genen_scale/stores"
FINGERPRINT = "fingerprint.json"


@dataclass(frozen=True)
class SyncResult:
    """Where a node's copy of a store lies and whether this call made it.

    Attributes:
        path: Local directory of the store, ready for ``GraphStore.open``.
        copied: True if this call copied files; False if it found the copy up to date.
        fingerprint: SHA-256 over the remote's manifest and file listing.
        bytes: Bytes copied by this call (0 when ``copied`` is False).
    """

    path: Path
    copied: bool
    fingerprint: str
    bytes: int = 0


def is_uri(location: str) -> bool:
    """True for ``scheme://...`` (``file://`` included); False for a plain path."""
    return "://" in location and len(urlparse(location).scheme) > 1


def store_location(location: str | os.PathLike) -> str:
    """The form of ``location`` to hand to every worker: a URI unchanged, a path absolute."""
    location = str(location)
    return location if is_uri(location) else str(Path(location).resolve())


def local_store(location: str | os.PathLike, cache_dir: str | os.PathLike = DEFAULT_CACHE) -> Path:
    """The local path of the store at ``location``, copying it to ``cache_dir`` if a URI."""
    location = str(location)
    if not is_uri(location):
        return Path(location)
    return sync_store(location, cache_dir).path


def sync_store(uri: str, cache_dir: str | os.PathLike = DEFAULT_CACHE) -> SyncResult:
    """Copy the store at ``uri`` into ``cache_dir`` once per node (see the module docstring).

    Raises:
        StoreError: ``uri`` cannot be opened, or holds no ``manifest.json``.
    """
    try:
        fs, root = pafs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as e:
        raise StoreError(f"store URI {uri!r} cannot be opened: {e}") from None
    files, fingerprint = _listing(fs, root, uri)
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(uri.encode()).hexdigest()[:16]
    slot = cache / key
    with FileLock(str(cache / f"{key}.lock")):
        if _synced_fingerprint(slot) == fingerprint:
            log.info("store %s: local copy %s is up to date", uri, slot / "store")
            return SyncResult(slot / "store", False, fingerprint)
        size = _copy(fs, files, slot, uri)
        (slot / FINGERPRINT).write_text(json.dumps({"uri": uri, "fingerprint": fingerprint}))
    log.info("store %s: copied %d files (%.1f MB) to %s", uri, len(files), size / 1e6, slot)
    return SyncResult(slot / "store", True, fingerprint, size)


def _listing(fs: pafs.FileSystem, root: str, uri: str) -> tuple[list[tuple[str, str, int]], str]:
    """(remote path, relative path, size) of every file under ``root``, and the fingerprint."""
    root = root.rstrip("/")
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
        manifest = fs.open_input_file(f"{root}/{MANIFEST}").read()
    except (FileNotFoundError, OSError) as e:
        raise StoreError(
            f"store URI {uri!r} is not a store (no readable {MANIFEST}): {e}"
        ) from None
    files = sorted(
        (i.path, i.path[len(root) + 1 :], i.size) for i in infos if i.type == pafs.FileType.File
    )
    h = hashlib.sha256(manifest)
    for _, rel, size in files:
        h.update(f"\0{rel}\0{size}".encode())
    return files, h.hexdigest()


def _synced_fingerprint(slot: Path) -> str | None:
    try:
        return json.loads((slot / FINGERPRINT).read_text())["fingerprint"]
    except (OSError, ValueError, KeyError):
        return None


def _copy(fs: pafs.FileSystem, files: list[tuple[str, str, int]], slot: Path, uri: str) -> int:
    """Copy ``files`` into ``slot/incoming``, check sizes, then swap it in as ``slot/store``."""
    incoming, final = slot / "incoming", slot / "store"
    shutil.rmtree(incoming, ignore_errors=True)  # a copy a killed process left half-done
    (slot / FINGERPRINT).unlink(missing_ok=True)
    local = pafs.LocalFileSystem()
    total = sum(size for *_, size in files)
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"sync {uri}") as bar:
        for src, rel, size in files:
            dst = incoming / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            pafs.copy_files(src, str(dst), source_filesystem=fs, destination_filesystem=local)
            if dst.stat().st_size != size:
                raise StoreError(
                    f"store URI {uri!r}: {rel} copied as {dst.stat().st_size} bytes, "
                    f"listed as {size}; the store changed during the copy, try again"
                )
            bar.update(size)
    if final.exists():
        old = slot / "replaced"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    incoming.rename(final)
    return total
