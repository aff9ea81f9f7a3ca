"""Pin files: the sha256 of every input of a run, written once and required later.

Format (JSON; ``file`` and ``url`` are for the reader, only ``sha256`` is checked)::

    {"links": {"sha256": "<hex>", "file": "9606.protein.links.v12.0.txt.gz", "url": "..."}, ...}
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from genen_core.files import write_text_atomic
from ingest.errors import IngestError

if TYPE_CHECKING:
    from ingest.sources import SourceFile

log = logging.getLogger(__name__)


def write_pins(path: Path, files: dict[str, SourceFile]) -> None:
    """Record the digest of each resolved input in a pin file (see the module docstring)."""
    pins = {k: {"sha256": f.sha256, "file": f.path.name, "url": f.url} for k, f in files.items()}
    try:
        write_text_atomic(path, json.dumps(pins, indent=2, sort_keys=True) + "\n")
    except OSError as e:  # a folder at ``path``, or no permission: nothing is left behind
        raise IngestError(f"write_pins {path} cannot be written ({e}); give a file path") from e
    log.info("wrote the sha256 pins of %d inputs to %s", len(pins), path)


def read_pins(path: Path, keys: tuple[str, ...]) -> dict[str, str]:
    """Key -> hex sha256 from a pin file; IngestError naming the file if it is unusable."""
    try:
        data = json.loads(path.read_text())
        pins = {k: str(v["sha256"]).lower() for k, v in data.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise IngestError(
            f"pins file {path} is unreadable ({type(e).__name__}: {e}); it must be the JSON "
            'that write_pins writes: {"links": {"sha256": "<hex>", ...}, ...}'
        ) from None
    bad = sorted(
        k for k, v in pins.items() if k not in keys or not re.fullmatch(r"[0-9a-f]{64}", v)
    )
    if bad:
        raise IngestError(f"pins file {path}: entries {bad} are not a known key with a sha256")
    return pins
