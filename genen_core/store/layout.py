"""What a store directory holds: file names, table schemas, graph names, the manifest check.

The layout and its invariants are described in :mod:`genen_core.store`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow as pa

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
NODES = "nodes.parquet"
LABELS = "labels.parquet"
ALIASES = "aliases.parquet"
GRAPH_DIR = "graph"
FEATURES_DIR = "features"
# Everything a store directory may hold at its top level.
STORE_ENTRIES = frozenset({MANIFEST, NODES, LABELS, ALIASES, GRAPH_DIR, FEATURES_DIR})

RELATIONS = ("ppi", "gene_go", "go_go")
VARIANTS = {"ppi": ("ppi",), "go": ("gene_go", "go_go"), "go_ppi": ("ppi", "gene_go", "go_go")}
# Stored merged CSRs; the "ppi" variant is the ppi relation itself.
STORED_GRAPHS = ("ppi", "gene_go", "go_go", "go", "go_ppi")
# The values of nodes.parquet's ``namespace`` on GO term nodes.
GO_NAMESPACES = ("biological_process", "molecular_function", "cellular_component")
# A relation or variant name; a composed graph joins several with "+".
GRAPH_NAME = re.compile(r"[a-z][a-z0-9_]*")

NODE_SCHEMA = pa.schema(
    [
        ("node", pa.int64()),
        ("kind", pa.string()),
        ("key", pa.string()),
        ("name", pa.string()),
        ("namespace", pa.string()),
        ("text", pa.string()),
        ("word_count", pa.int32()),
    ]
)
# labels.parquet: a label file's rows (genen_core.labels.LABEL_FILE_SCHEMA) with the node
# each gene maps to (-1 where it maps to none).
STORE_LABEL_SCHEMA = pa.schema(
    [("task", pa.string()), ("gene", pa.string()), ("node", pa.int64()), ("label", pa.float64())]
)


ALIAS_SCHEMA = pa.schema([("alias", pa.string()), ("id_type", pa.string()), ("node", pa.int64())])


class StoreError(ValueError):
    """A store that is missing, incomplete or violates its invariants."""


def not_a_store_reason(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a graph store this code wrote, or None when it is one.

    A store is recognised by its manifest (JSON with a ``schema_version``) and layout
    (``nodes.parquet``, ``graph/``, and no top-level entries but :data:`STORE_ENTRIES`),
    so that replacing it can never delete a user's own files.
    """
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return "it is not a directory"
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return f"it has no readable {MANIFEST}"
    if not isinstance(manifest, dict) or "schema_version" not in manifest:
        return f"its {MANIFEST} is not a store manifest (no schema_version)"
    if not (path / NODES).is_file() or not (path / GRAPH_DIR).is_dir():
        return f"it lacks {NODES} or {GRAPH_DIR}/"
    foreign = sorted(p.name for p in path.iterdir() if p.name not in STORE_ENTRIES)
    if foreign:
        return f"it holds files a store does not ({', '.join(foreign[:5])})"
    return None


def parse_graph_spec(spec: str) -> list[str]:
    """``"ppi+huri"`` -> ``["ppi", "huri"]``; raises ValueError on a malformed spec."""
    parts = spec.split("+")
    bad = [p for p in parts if not GRAPH_NAME.fullmatch(p)]
    if bad:
        raise ValueError(
            f"graph {spec!r} is not a graph variant ({', '.join(VARIANTS)}), a relation, or "
            "relations joined by '+' (e.g. ppi+huri); names are lower-case letters, digits, _"
        )
    return parts
