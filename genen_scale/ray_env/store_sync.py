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
* Skipped when unchanged: the remote's *fingerprint* is written beside the copy when it
  is complete; a later call that finds the same fingerprint copies nothing. It is a
  SHA-256 over every file's relative path and size, the *bytes* of every file up to
  ``CONTENT_BYTES`` (the manifest, feature sidecars, small arrays) and the modification
  time of larger ones (reading those would cost a full download on every start; any
  rewrite, such as features re-encoded with the same shape, gives them a new time). A
  store that changed (features added or re-encoded by ``genen-encode``, a rebuild) is
  copied again.
* Nothing lands outside the copy: a listed key that is absolute or has an empty, ``.``
  or ``..`` part (object stores allow them) is refused before anything is copied, and
  every destination is checked to resolve inside the copy.
* Never hangs silently: a log line says what is listed before the first network call,
  and a ``gs://`` URI gives up after ``REMOTE_TIMEOUT_S`` (its ``retry_limit_seconds``,
  unless the URI sets one).
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

FINGERPRINT = "fingerprint.json"
CONTENT_BYTES = 1 << 20
"""Files up to this size are fingerprinted by their bytes, larger ones by size and time."""
REMOTE_TIMEOUT_S = 60
"""Seconds a ``gs://`` store may take to answer (credentials, network) before we give up."""


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


def local_store(location: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """The local path of the store at ``location``, copying it to ``cache_dir`` if a URI.

    ``cache_dir`` has no default here: the one default is ``DataConfig.store_cache``.
    """
    location = str(location)
    if not is_uri(location):
        return Path(location)
    return sync_store(location, cache_dir).path


def sync_store(uri: str, cache_dir: str | os.PathLike) -> SyncResult:
    """Copy the store at ``uri`` into ``cache_dir`` once per node (see the module docstring).

    Raises:
        StoreError: ``uri`` cannot be opened, or holds no ``manifest.json``.
    """
    fs, root = open_uri(uri)
    log.info("store %s: listing it (waits for the network and credentials it needs)", uri)
    files, fingerprint = _listing(fs, root, uri)
    cache = Path(cache_dir).expanduser()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file where the folder should be, or no permission
        raise StoreError(
            f"store cache {cache} cannot be used as a folder ({e.strerror}); point "
            "data.store_cache at a folder on local disk"
        ) from None
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
    infos = sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: i.path)
    files = [(i.path, _relative_key(i.path, root, uri), i.size) for i in infos]
    h = hashlib.sha256(manifest)
    for info, (src, rel, size) in zip(infos, files, strict=True):
        h.update(f"\0{rel}\0{size}\0".encode())
        if size <= CONTENT_BYTES:
            with fs.open_input_stream(src) as f:
                h.update(f.read())
        else:
            h.update(str(info.mtime_ns).encode())
    return files, h.hexdigest()


def open_uri(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for ``uri`` and the store's root path in it.

    Raises:
        StoreError: The URI names no filesystem pyarrow can open.
    """
    try:
        return pafs.FileSystem.from_uri(_with_timeout(uri))
    except (OSError, ValueError) as e:
        raise StoreError(f"store URI {uri!r} cannot be opened: {e}") from None


def _with_timeout(uri: str) -> str:
    """``uri`` with a retry time limit where its filesystem takes one and it sets none."""
    parsed = urlparse(uri)
    if parsed.scheme != "gs" or "retry_limit_seconds" in parsed.query:
        return uri
    query = "&".join(q for q in (parsed.query, f"retry_limit_seconds={REMOTE_TIMEOUT_S}") if q)
    return parsed._replace(query=query).geturl()


def _relative_key(path: str, root: str, uri: str) -> str:
    """``path`` relative to ``root``, refused if it could land outside the local copy."""
    rel = path[len(root) + 1 :] if path.startswith(root + "/") else path
    parts = rel.split("/")
    if not path.startswith(root + "/") or any(p in ("", ".", "..") for p in parts):
        raise StoreError(
            f"store URI {uri!r} lists the key {path!r}, which is not a plain path inside "
            f"{root!r} (absolute, or with an empty, '.' or '..' part); nothing was copied"
        )
    return rel


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
        inside = incoming.resolve()
        for src, rel, size in files:
            dst = incoming / rel
            if not dst.resolve().is_relative_to(inside):  # _relative_key makes this hold
                raise StoreError(f"store URI {uri!r}: {rel} would be written outside {slot}")
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
