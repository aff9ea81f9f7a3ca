"""Cached, resumable, checksum-verified HTTP downloads, and the retry loop they share.

Cache layout (the cache key is the URL)::

    <cache_dir>/<sha256(url)[:16]>/<name>          the finished file
    <cache_dir>/<sha256(url)[:16]>/<name>.sha256   "HEX  NAME" (``sha256sum -c`` format)
    <cache_dir>/<sha256(url)[:16]>/<name>.part     bytes received so far

Invariants:

* Bytes are only ever written to ``<name>.part``. The finished file appears by an atomic
  rename once it is complete and verified, and its ``.sha256`` sidecar is written after
  that rename; a file counts as cached only when its sidecar exists. A killed run can
  therefore leave a ``.part`` (which the next run resumes) but never a truncated file
  that looks complete.
* A file that fails its sha256 pin or its format check (``check``: gzip magic, the
  expected first line; and, for a gzip download, the whole stream up to its CRC) is
  deleted: nothing unverified stays in the cache, an HTML error page served with status
  200 never becomes a cache entry, and neither does a gzip stream cut short.
* The sidecar is not trusted on its own: a cached file is hashed again each time it is
  used (a fraction of a second for STRING-sized files), and the digest returned is that
  of the bytes on disk. Bytes changed since the download, a digest other than the pin,
  or a failed format check mean the entry is dropped and downloaded again.
* ``refresh`` drops the entry (file, sidecar and ``.part``) before anything else.

Why not ``pooch.retrieve``: pooch gives caching, hashing and a progress bar, but it
downloads into a randomly named temporary file that it deletes on failure, so a
connection dropped 90% into a 100 MB STRING file starts again from byte 0. Resuming needs
a stable ``.part`` name per URL and an HTTP ``Range`` request, which is a few dozen lines
on top of ``requests`` (a dependency of ours anyway); pooch is therefore not one.

Two processes downloading the same URL into the same cache at the same moment are not
coordinated; ingestion downloads from one process.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import posixpath
import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import requests
import urllib3
from tqdm.auto import tqdm

from genen_core.files import write_text_atomic
from ingest.errors import IngestError

log = logging.getLogger(__name__)

T = TypeVar("T")

CHUNK_BYTES = 1 << 20
# Statuses that a later attempt may not see again (overload, rate limit, gateway trouble).
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class TransientError(Exception):
    """A failure worth retrying: dropped connection, timeout, or a 5xx/429 answer."""


def default_cache_dir(kind: str) -> Path:
    """``$GENEN_CACHE/<kind>``, else ``~/.cache/genen_scale/<kind>``.

    ``GENEN_CACHE`` only moves the cache; it switches no behaviour.
    """
    root = os.environ.get("GENEN_CACHE") or "~/.cache/genen_scale"
    return Path(root).expanduser() / kind


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def with_retries(fn: Callable[[], T], *, what: str, retries: int, wait: float, hint: str = "") -> T:
    """Call ``fn`` until it returns, retrying a :class:`TransientError` with exponential backoff.

    Args:
        fn: the attempt; raises ``TransientError`` for failures worth retrying.
        what: names the operation (URL) in log lines and in the final error.
        retries: how many times to retry after the first attempt.
        wait: seconds before the first retry; doubled for each further retry.
        hint: what the user can do, appended to the final error.

    Raises:
        IngestError: when the last attempt fails too.
    """
    for attempt in range(retries + 1):
        try:
            return fn()
        except TransientError as e:
            if attempt == retries:
                raise IngestError(
                    f"{what}: failed after {retries + 1} attempt(s), last error: {e}. {hint}".strip()
                ) from None
            delay = wait * 2**attempt
            log.warning("%s: %s; retry %d of %d in %.1f s", what, e, attempt + 1, retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def http_request(
    method: str,
    url: str,
    *,
    session: requests.Session | None = None,
    allow: tuple[int, ...] = (),
    hint: str = "",
    **kwargs,
) -> requests.Response:
    """One HTTP request that sorts failures into retryable and fatal ones.

    Args:
        method, url: as for ``requests.request``.
        session: connection pool to reuse; a one-off request without it.
        allow: error statuses returned to the caller instead of raised (e.g. 416).
        hint: what the user can do about a fatal status, appended to the error.
        **kwargs: passed to ``requests`` (``timeout`` should be among them).

    Raises:
        TransientError: connection failure, timeout, or a status in ``TRANSIENT_STATUS``.
        IngestError: any other status >= 400 (404, 403, ...), naming the URL and status.
    """
    try:
        r = (session or requests).request(method, url, **kwargs)
    except (requests.ConnectionError, requests.Timeout) as e:
        raise TransientError(f"{type(e).__name__}: {e}") from e
    if r.status_code in allow or r.status_code < 400:
        return r
    reason = f"HTTP {r.status_code} {r.reason or ''}".strip()
    body = r.text[:200].strip() if not kwargs.get("stream") else ""
    r.close()
    if r.status_code in TRANSIENT_STATUS:
        raise TransientError(f"{reason} from {url}")
    detail = f" (server said: {body})" if body else ""
    raise IngestError(f"{method} {url} failed with {reason}{detail}. {hint}".strip())


def url_file_name(url: str) -> str:
    """The last path component of ``url``: the name the file is cached under."""
    name = posixpath.basename(urlparse(url).path)
    if not name or name in (".", ".."):
        raise IngestError(f"cannot tell a file name from URL {url!r}; give the URL of a file")
    return name


def cache_entry(url: str, cache_dir: Path) -> Path:
    """The cached file path for ``url`` (it may not exist yet)."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return cache_dir / key / url_file_name(url)


def download(
    url: str,
    cache_dir: Path,
    *,
    sha256: str | None = None,
    retries: int = 3,
    retry_wait: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
    check: Callable[[Path], None] | None = None,
    refresh: bool = False,
) -> tuple[Path, str]:
    """Download ``url`` into the cache (or find it there) and return ``(path, sha256)``.

    A cached file is returned without any request once its bytes are hashed again and
    match its sidecar and pin (see the module docstring). An interrupted download resumes from
    its ``.part`` file with a ``Range`` request, within this call (``retries``) and across
    runs; a server that ignores ``Range`` restarts it cleanly from byte 0.

    Args:
        url: http(s) URL of the file.
        cache_dir: cache root (see the module docstring for the layout).
        sha256: expected hex digest; a mismatch deletes the file and raises.
        retries: retries after the first attempt, for dropped connections, timeouts, 5xx.
        retry_wait: seconds before the first retry, doubled for each further one.
        timeout: seconds to wait for the server to connect or send the next bytes.
        progress: show a tqdm bar with bytes/s.
        check: raises :class:`IngestError` unless a file is of the expected format
            (:func:`ingest.formats.check_format`); run on a download before it is cached
            and on a cached file before it is used.
        refresh: drop the cache entry first and download afresh.

    Raises:
        IngestError: HTTP error status (naming the URL and status), retries exhausted,
            a download of the wrong format (naming the URL and what arrived), or a sha256
            mismatch (naming the file, expected and actual digests).
    """
    final = cache_entry(url, cache_dir)
    sidecar = final.with_name(final.name + ".sha256")
    part = final.with_name(final.name + ".part")
    pin = sha256.lower() if sha256 else None

    if refresh:
        log.info("refresh: dropping the cache entry of %s", url)
        for f in (sidecar, final, part):
            f.unlink(missing_ok=True)
    cached = _read_sidecar(sidecar, final)
    if cached is not None:
        problem = _cached_problem(final, cached, pin, check)
        if problem is None:
            log.info("using cached %s (%s)", final, url)
            return final, cached
        # Tampered or damaged bytes, or another version than the pin asks for (the pin
        # was updated after the remote file changed): fetch afresh and check the copy.
        log.warning("cached %s %s: downloading again", final, problem)
        sidecar.unlink()
        final.unlink(missing_ok=True)

    final.parent.mkdir(parents=True, exist_ok=True)
    actual = with_retries(
        lambda: _fetch_to_part(url, part, timeout=timeout, progress=progress),
        what=f"downloading {url}",
        retries=retries,
        wait=retry_wait,
        hint=f"The bytes received so far are kept in {part} and the next run resumes from them.",
    )
    if check is not None:
        try:
            check(part)
            _check_gzip_stream(part)
        except IngestError as e:
            part.unlink()
            _remove_if_empty(final.parent)
            raise IngestError(
                f"{url} did not send the expected file: {e}. Nothing was cached; check the "
                "URL or mirror (a server may answer with an error page and status 200), "
                "then run again: the file is downloaded afresh"
            ) from None
    if pin is not None and actual != pin:
        part.unlink()
        _remove_if_empty(final.parent)
        raise IngestError(
            f"sha256 mismatch for {final.name} downloaded from {url}: expected {pin}, got "
            f"{actual}. The file was deleted. If the source published a new version on "
            "purpose, update the sha256 pin; otherwise check the URL or mirror."
        )
    os.replace(part, final)
    write_text_atomic(sidecar, f"{actual}  {final.name}\n")
    log.info("downloaded %s -> %s (sha256 %s)", url, final, actual)
    return final, actual


def _check_gzip_stream(path: Path) -> None:
    """Raise unless a gzip file decompresses to its end-of-stream marker and CRC.

    A transfer cut short by the server can still have the advertised Content-Length, the
    gzip magic and a good first line; only reading the whole stream tells. Run once, on
    the download, so that cached files (re-hashed on every use) are known whole.
    """
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as e:
        name = path.name.removesuffix(".part")
        raise IngestError(f"{name} is truncated or corrupt ({e})") from None


def _fetch_to_part(url: str, part: Path, *, timeout: float, progress: bool) -> str:
    """Append the rest of ``url`` to ``part`` (from byte 0 if it is absent or unusable).

    Returns the hex sha256 of the whole ``part``, hashed while it streams in so that a
    large file is not read back a second time.
    """
    have = part.stat().st_size if part.exists() else 0
    # identity: Range offsets must count bytes of the file itself, not of a re-encoding.
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    r = http_request(
        "GET",
        url,
        headers=headers,
        stream=True,
        timeout=timeout,
        allow=(416,),
        hint="Check the URL (STRING version, species, mirror) or pass a local file instead.",
    )
    with r:
        restart = have and (
            r.status_code == 416
            or (r.status_code == 206 and _range_start(r.headers.get("Content-Range")) != have)
        )
        if restart:
            # The server cannot continue from our offset: the .part is complete or the
            # remote file changed under it. Neither can be trusted, so start over.
            log.warning(
                "%s: cannot resume at byte %d (HTTP %d); restarting", url, have, r.status_code
            )
            part.unlink()
            return _fetch_to_part(url, part, timeout=timeout, progress=progress)
        if have and r.status_code != 206:
            log.warning("%s: server ignored the Range request; restarting from byte 0", url)
            have = 0
        total = _expected_size(r, have)
        digest = hashlib.sha256()
        if have:
            with open(part, "rb") as f:
                for block in iter(lambda: f.read(CHUNK_BYTES), b""):
                    digest.update(block)
        with (
            open(part, "ab" if have else "wb") as f,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            try:
                # raw.stream: the bytes as sent, never transparently gunzipped.
                for chunk in r.raw.stream(CHUNK_BYTES, decode_content=False):
                    f.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            # Only network errors are retried; a local write error (disk full) propagates.
            except (urllib3.exceptions.HTTPError, requests.RequestException) as e:
                raise TransientError(f"connection lost after {f.tell()} bytes: {e}") from e
    size = part.stat().st_size
    if total is not None and size != total:
        raise TransientError(f"received {size} of {total} bytes")
    return digest.hexdigest()


def _cached_problem(
    final: Path, recorded: str, pin: str | None, check: Callable[[Path], None] | None
) -> str | None:
    """Why a cached file must not be used, or None when its bytes are as recorded."""
    actual = file_sha256(final)
    if actual != recorded:
        return f"has sha256 {actual}, its sidecar records {recorded} (changed on disk)"
    if pin is not None and actual != pin:
        return f"has sha256 {actual}, pinned {pin}"
    if check is not None:
        try:
            check(final)
        except IngestError as e:
            return f"is not the expected file ({e})"
    return None


def _range_start(content_range: str | None) -> int | None:
    m = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (content_range or "").strip())
    return int(m.group(1)) if m else None


def _expected_size(r: requests.Response, have: int) -> int | None:
    """Total file size from ``Content-Range`` (206) or ``Content-Length`` (200), if sent."""
    m = re.fullmatch(r"bytes \d+-\d+/(\d+)", r.headers.get("Content-Range", "").strip())
    if r.status_code == 206 and m:
        return int(m.group(1))
    length = r.headers.get("Content-Length")
    return have + int(length) if length and length.isdigit() else None


def _read_sidecar(sidecar: Path, final: Path) -> str | None:
    """The recorded sha256 of a finished cached file, or None when it is not cached."""
    if not (sidecar.is_file() and final.is_file()):
        return None
    fields = sidecar.read_text().split()
    if not fields or not re.fullmatch(r"[0-9a-f]{64}", fields[0]):
        log.warning("ignoring unreadable sidecar %s", sidecar)
        return None
    return fields[0]


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass
