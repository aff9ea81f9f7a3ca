"""Where the raw input files come from: the catalog, a mirror, an offline directory, or paths.

:func:`resolve_sources` turns a :class:`SourcesConfig` into local files, one per key:

========== =========================================== ===========================
key        file                                        needed
========== =========================================== ===========================
links      STRING ``{species}.protein.links.v{V}``     always
info       STRING ``{species}.protein.info.v{V}``      always
aliases    STRING ``{species}.protein.aliases.v{V}``   ``with_aliases`` or set
obo        GO ``go-basic.obo``                         always
gaf        GO annotations (``goa_human.gaf.gz`` ...)   always
========== =========================================== ===========================

For each key the first of these that is set wins: the explicit per-file override (a path
or URL), ``source_dir`` (offline: the catalog file name, searched recursively), ``mirror``
(a base URL serving the catalog file names), then the catalog URL. Every returned file
exists locally and carries the sha256 of its bytes as read now (a cached download is
hashed again, never taken on its sidecar's word), checked against a pin when one is
known. Downloads are checked for their format before they are cached
(:mod:`ingest.formats`).

Pins make a frozen release reproducible: ``write_pins FILE`` records the digest of every
input a run used, and a later run given ``pins FILE`` requires each input to be listed
there and to match::

    {"links": {"sha256": "<hex>", "file": "9606.protein.links.v12.0.txt.gz", "url": "..."}, ...}
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from ingest.download import default_cache_dir, download, file_sha256, url_file_name
from ingest.errors import IngestError
from ingest.formats import check_format
from ingest.pins import read_pins, write_pins

log = logging.getLogger(__name__)

KEYS = ("links", "info", "aliases", "obo", "gaf")

# STRING release -> (download root, tag used in paths and file names). 12.0 moved to a new
# host; older releases stay on stringdb-static.org.
STRING_RELEASES = {
    "12.0": ("https://stringdb-downloads.org/download", "v12.0"),
    "11.5": ("https://stringdb-static.org/download", "v11.5"),
    "11.0": ("https://stringdb-static.org/download", "v11.0"),
}
STRING_TABLES = {"links": "protein.links", "info": "protein.info", "aliases": "protein.aliases"}
# https: the GO Consortium's current.geneontology.org serves both over TLS.
GO_OBO_URL = "https://current.geneontology.org/ontology/go-basic.obo"
GAF_ROOT = "https://current.geneontology.org/annotations"
# NCBI taxon (as STRING numbers species) -> GO Consortium GAF file stem.
GAF_NAMES = {
    9606: "goa_human",
    10090: "mgi",
    10116: "rgd",
    7955: "zfin",
    7227: "fb",
    6239: "wb",
    4932: "sgd",
    3702: "tair",
}
# Published sha256 digests by URL. None are known yet: STRING publishes no digests and
# the GO "current" files change with every release. Pin a frozen release per run with
# SourcesConfig.pins (a file written by write_pins) or SourcesConfig.sha256.
KNOWN_SHA256: dict[str, str] = {}

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class CatalogFile:
    """One file of the catalog: its official name (``stem + suffix``), URL and release."""

    stem: str
    suffix: str
    url: str
    release: str

    @property
    def name(self) -> str:
        return self.stem + self.suffix

    @property
    def sha256(self) -> str | None:
        return KNOWN_SHA256.get(self.url)


@dataclass
class SourceFile:
    """A resolved input file: present locally, hashed."""

    key: str
    """Which input this is: one of ``KEYS``."""
    path: Path
    """The local file (in the download cache, the source dir, or where the user put it)."""
    url: str
    """Where it came from: the download URL, or a ``file://`` URI for a local file."""
    release: str
    """Source release: STRING version (``12.0``), a date found in the file name, GO
    ``current`` for a fresh download, or ``unknown``."""
    sha256: str
    """Hex sha256 of the file's bytes."""


def normalise_string_version(version: str) -> str:
    """``"12"`` -> ``"12.0"``; raises ValueError listing the known releases."""
    v = str(version).strip().removeprefix("v")
    v = v if "." in v else f"{v}.0"
    if v not in STRING_RELEASES:
        raise ValueError(
            f"string_version={version!r} is not in the catalog; known STRING releases: "
            f"{', '.join(STRING_RELEASES)} (or pass links/info as explicit paths or URLs)"
        )
    return v


def catalog(string_version: str, species: int) -> dict[str, CatalogFile]:
    """The official files for a STRING release and species (``gaf`` only where known)."""
    version = normalise_string_version(string_version)
    root, tag = STRING_RELEASES[version]
    files = {}
    for key, table in STRING_TABLES.items():
        stem = f"{species}.{table}.{tag}"
        files[key] = CatalogFile(stem, ".txt.gz", f"{root}/{table}.{tag}/{stem}.txt.gz", version)
    files["obo"] = CatalogFile("go-basic", ".obo", GO_OBO_URL, "current")
    if species in GAF_NAMES:
        stem = GAF_NAMES[species]
        files["gaf"] = CatalogFile(stem, ".gaf.gz", f"{GAF_ROOT}/{stem}.gaf.gz", "current")
    return files


@dataclass
class SourcesConfig:
    """Where ingestion reads its raw files from."""

    string_version: str = "12"
    """STRING release: one of ``STRING_RELEASES`` (``12`` means ``12.0``)."""
    species: int = 9606
    """NCBI taxon id, as STRING numbers species (9606 human, 10090 mouse)."""
    mirror: str | None = None
    """Base URL (http, https or file) serving the catalog's file names, flat."""
    source_dir: str | None = None
    """Offline mode: find the catalog file names under this directory (recursively). A
    name with an extra tag before the suffix also matches (``go-basic.2022-07-01.obo.gz``
    for ``go-basic.obo``) when the exact name is absent."""
    links: str | None = None
    """Explicit path or URL of the STRING links file; beats source_dir and mirror."""
    info: str | None = None
    """Explicit path or URL of the STRING protein.info file."""
    aliases: str | None = None
    """Explicit path or URL of the STRING protein.aliases file (implies with_aliases)."""
    obo: str | None = None
    """Explicit path or URL of the GO ontology (go-basic.obo, plain or gzipped)."""
    gaf: str | None = None
    """Explicit path or URL of the GO annotation file (GAF 2.x); required for a species
    without a catalog GAF."""
    with_aliases: bool = False
    """Also resolve the STRING aliases file."""
    sha256: dict[str, str] = field(default_factory=dict)
    """Pins by key (``{"links": "<hex>"}``): a file with another digest is an error."""
    pins: str | None = None
    """JSON pin file (as ``write_pins`` writes it): every input must be listed there and
    match its digest, so a frozen release is reproduced byte for byte."""
    write_pins: str | None = None
    """Write the sha256 of every input this run used to this JSON file, for ``pins``."""
    refresh: bool = False
    """Drop the cached downloads of this run's inputs and download them again."""
    cache_dir: str | None = None
    """Download cache; default ``$GENEN_CACHE/downloads`` or ``~/.cache/genen_scale/downloads``."""
    retries: int = 3
    """Retries per download after the first attempt (dropped connections, timeouts, 5xx)."""
    retry_wait: float = 1.0
    """Seconds before the first retry; doubled for each further one."""
    timeout: float = 60.0
    """Seconds to wait for a server to connect or send more bytes."""

    def __post_init__(self) -> None:
        self.string_version = normalise_string_version(self.string_version)
        if self.species <= 0:
            raise ValueError(f"species={self.species} must be a positive NCBI taxon id")
        if self.mirror is not None and urlparse(self.mirror).scheme not in (
            "http",
            "https",
            "file",
        ):
            raise ValueError(
                f"mirror={self.mirror!r} must be an http(s):// or file:// URL; "
                "for a local directory use source_dir"
            )
        bad_keys = sorted(set(self.sha256) - set(KEYS))
        if bad_keys:
            raise ValueError(f"sha256 pins for unknown keys {bad_keys}; valid keys: {list(KEYS)}")
        for key, digest in self.sha256.items():
            if not re.fullmatch(r"[0-9a-fA-F]{64}", str(digest)):
                raise ValueError(f"sha256.{key}={digest!r} is not a 64-digit hex sha256")
        if self.write_pins is not None:
            target = Path(self.write_pins).expanduser()
            if target.is_dir() or not target.parent.is_dir():
                raise ValueError(
                    f"write_pins={self.write_pins!r} must be a file path in an existing "
                    "folder (it is a folder, or its folder does not exist)"
                )
        if self.retries < 0:
            raise ValueError(f"retries={self.retries} must be >= 0")
        if self.retry_wait < 0 or self.timeout <= 0:
            raise ValueError(
                f"retry_wait={self.retry_wait} must be >= 0 and timeout={self.timeout} > 0"
            )
        if self.gaf is None and self.species not in GAF_NAMES:
            known = ", ".join(f"{k} ({v})" for k, v in GAF_NAMES.items())
            raise ValueError(
                f"species={self.species} has no GO annotation file in the catalog (known: "
                f"{known}); pass gaf=PATH_OR_URL"
            )


def resolve_sources(cfg: SourcesConfig, cache_dir: Path | None = None) -> dict[str, SourceFile]:
    """Make every input file of ``cfg`` local, hashed and checked.

    Args:
        cfg: where to look (see the module docstring for the order).
        cache_dir: download cache; beats ``cfg.cache_dir`` and the default.

    Returns:
        ``{"links", "info", ["aliases"], "obo", "gaf"} -> SourceFile``.

    Raises:
        IngestError: a missing local file, a file absent from ``source_dir``, an HTTP error,
            exhausted retries, or a sha256 that does not match its pin.
    """
    cache = Path(cache_dir or cfg.cache_dir or default_cache_dir("downloads")).expanduser()
    files = catalog(cfg.string_version, cfg.species)
    keys = [k for k in KEYS if k != "aliases" or cfg.with_aliases or cfg.aliases is not None]
    pins = _pins(cfg, keys)
    index = _index_dir(Path(cfg.source_dir)) if cfg.source_dir else None
    out = {key: _resolve(key, cfg, files.get(key), index, cache, pins.get(key)) for key in keys}
    for f in out.values():
        log.info("%s: %s (release %s, sha256 %s)", f.key, f.path, f.release, f.sha256[:12])
    if cfg.write_pins:
        write_pins(Path(cfg.write_pins), out)
    return out


def _pins(cfg: SourcesConfig, keys: list[str]) -> dict[str, str]:
    """The pin of each key: ``sha256`` and the ``pins`` file (which must list every key)."""
    explicit = {k: v.lower() for k, v in cfg.sha256.items()}
    if cfg.pins is None:
        return explicit
    from_file = read_pins(Path(cfg.pins), KEYS)
    missing = [k for k in keys if k not in from_file]
    if missing:
        raise IngestError(
            f"pins file {cfg.pins} has no digest for {missing}; every input must be pinned "
            "(write a complete file with write_pins)"
        )
    clash = sorted(k for k in explicit if explicit[k] != from_file.get(k, explicit[k]))
    if clash:
        raise IngestError(f"sha256 pins for {clash} differ from those in {cfg.pins}; keep one")
    return {**from_file, **explicit}


def _resolve(
    key: str,
    cfg: SourcesConfig,
    entry: CatalogFile | None,
    index: dict[str, list[Path]] | None,
    cache: Path,
    pin: str | None,
) -> SourceFile:
    explicit = getattr(cfg, key)
    if explicit is not None:
        if urlparse(explicit).scheme in ("http", "https"):
            name = url_file_name(explicit)
            release = entry.release if entry and name == entry.name else _release(name, key, entry)
            return _fetch(key, explicit, release, pin, cfg, cache)
        return _local(key, _as_path(explicit), entry, pin, f"{key}={explicit!r}")
    assert entry is not None, "SourcesConfig.__post_init__ requires gaf for unknown species"
    if index is not None:
        return _local(key, _find(entry, index, key, cfg.source_dir), entry, pin, "source_dir")
    pin = pin or entry.sha256
    if cfg.mirror is not None:
        url = f"{cfg.mirror.rstrip('/')}/{entry.name}"
        if urlparse(url).scheme == "file":
            return _local(key, _as_path(url), entry, pin, f"mirror {cfg.mirror}")
        return _fetch(key, url, entry.release, pin, cfg, cache)
    return _fetch(key, entry.url, entry.release, pin, cfg, cache)


def _fetch(
    key: str, url: str, release: str, pin: str | None, cfg: SourcesConfig, cache: Path
) -> SourceFile:
    path, digest = download(
        url,
        cache,
        sha256=pin,
        retries=cfg.retries,
        retry_wait=cfg.retry_wait,
        timeout=cfg.timeout,
        check=check_format(key),
        refresh=cfg.refresh,
    )
    return SourceFile(key, path, url, release, digest)


def _local(
    key: str, path: Path, entry: CatalogFile | None, pin: str | None, origin: str
) -> SourceFile:
    if not path.is_file():
        raise IngestError(f"{key}: {path} (from {origin}) does not exist or is not a file")
    digest = file_sha256(path)
    if pin is not None and digest != pin.lower():
        raise IngestError(
            f"sha256 mismatch for {key} file {path}: expected {pin.lower()}, got {digest}; "
            "replace the file or update the sha256 pin"
        )
    return SourceFile(
        key, path.resolve(), path.resolve().as_uri(), _release(path.name, key, entry), digest
    )


def _release(name: str, key: str, entry: CatalogFile | None) -> str:
    """A date in the file name, else the STRING release, else ``unknown``."""
    m = _DATE.search(name)
    if m:
        return m.group(0)
    return entry.release if entry is not None and key in STRING_TABLES else "unknown"


def local_path(location: str) -> Path | None:
    """The local path a path or ``file://`` URL names; None for an http(s) URL."""
    return None if urlparse(location).scheme in ("http", "https") else _as_path(location)


def _as_path(location: str) -> Path:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(location).expanduser()


def _index_dir(root: Path) -> dict[str, list[Path]]:
    """File name -> paths under ``root``, in one walk (sorted so results are stable)."""
    if not root.is_dir():
        raise IngestError(f"source_dir {root} is not a directory; pass an existing directory")
    index: dict[str, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            index.setdefault(name, []).append(Path(dirpath) / name)
    return index


def _find(entry: CatalogFile, index: dict[str, list[Path]], key: str, root: str | None) -> Path:
    """The catalog file under the source dir: exact name first, then a tagged variant."""
    # Either compression state of the suffix is accepted: readers open both.
    suffixes = [entry.suffix, entry.suffix.removesuffix(".gz")]
    if not entry.suffix.endswith(".gz"):
        suffixes[1] = entry.suffix + ".gz"
    exact = [p for s in suffixes for p in index.get(entry.stem + s, [])]
    tagged = re.compile(
        rf"{re.escape(entry.stem)}\.[^/]+?(?:{'|'.join(re.escape(s) for s in suffixes)})"
    )
    for candidates in (exact, [p for n, ps in index.items() if tagged.fullmatch(n) for p in ps]):
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            listed = ", ".join(str(p) for p in sorted(candidates))
            raise IngestError(
                f"{key}: several candidates for {entry.name} under source_dir {root}: {listed}; "
                f"pass the one to use as {key}=PATH"
            )
    raise IngestError(
        f"{key}: no file named {entry.name} (or {entry.stem}.<tag>{entry.suffix}) under "
        f"source_dir {root}; put it there or pass {key}=PATH"
    )
