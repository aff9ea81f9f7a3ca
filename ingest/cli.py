"""``genen-ingest``: raw STRING / GO / GOA / text / label files -> a graph store.

Usage::

    genen-ingest [--config FILE] --out STORE [--string-version 12] [--species 9606]
                 [--min-score 400] [--source-dir DIR | --mirror URL] [--summaries FILE|mygene]
                 [--labels DIR] [--edges NAME=PATH ...] [--force] [--key value ...]

Every field of :class:`ingest.config.IngestConfig` is a ``--key value`` override (dashes
read as underscores, dotted paths reach nested sections, a bare ``--flag`` is true). The
fields of the ``sources`` section may be given flat: ``--source-dir``, ``--mirror``,
``--links``, ``--info``, ``--obo``, ``--gaf``, ``--cache-dir``, ``--refresh``, ``--pins``,
``--write-pins`` ... mean ``--sources.X``.
Bad input ends with one line on stderr and exit code 2; no partial store is left.
``--force`` replaces only a graph store genen-ingest built, never another directory or
file, and never one that holds or lies inside the inputs.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from genen_core.command_line import begin_entry_point, parse_command_line
from genen_core.labels import LabelFileError
from genen_core.store import GraphStore, StoreError
from ingest.build import build_store
from ingest.config import IngestConfig
from ingest.edges import lift_edge_flags
from ingest.errors import IngestError
from ingest.sources import SourcesConfig


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 success, 2 bad config or input)."""
    argv = begin_entry_point(argv, IngestConfig, __doc__, flat=("sources",))
    if argv is None:
        return 0
    try:
        cfg = parse_command_line(IngestConfig, lift_edge_flags(_lift_source_flags(argv)))
    except ValueError as e:
        _error(f"{e} (see genen-ingest --help)")
        return 2
    try:
        store = GraphStore(build_store(cfg))
    except (IngestError, LabelFileError, StoreError, FileExistsError) as e:
        _error(str(e))
        return 2
    counts = store.manifest["counts"]
    summary = {
        "store": str(store.path),
        "nodes": counts["nodes"],
        "genes": counts["genes"],
        "go_terms": counts["go_terms"],
        "edges": counts["edges"],
        "tasks": {t: info.get("genes_in_graph") for t, info in store.tasks.items()},
        "seconds": round(sum(store.manifest["timings_s"].values()), 2),
    }
    print(json.dumps(summary, indent=2))
    return 0


def _error(message: str) -> None:
    # One line, whatever the message holds: scripts grep it and CI logs show it whole.
    print("genen-ingest: error: " + " | ".join(message.splitlines()), file=sys.stderr)


def _lift_source_flags(argv: list[str]) -> list[str]:
    """``--source-dir X`` -> ``--sources.source_dir X`` for fields only ``sources`` has."""
    own = {f.name for f in dataclasses.fields(IngestConfig)}
    lifted = {f.name for f in dataclasses.fields(SourcesConfig)} - own
    out = []
    for arg in argv:
        if arg.startswith("--") and not arg.startswith("--sources."):
            key, eq, value = arg[2:].partition("=")
            if key.replace("-", "_") in lifted:
                arg = f"--sources.{key.replace('-', '_')}{eq}{value}"
        out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
