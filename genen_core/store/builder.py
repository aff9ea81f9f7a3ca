"""The store writer: builds in a temporary directory and swaps the result into place.

What it writes is described in :mod:`genen_core.store`; how a build replaces an existing
store, and recovers what a killed build left, in :mod:`genen_core.store.swap`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from genen_core.store import swap
from genen_core.store.csr import CSR, check_csr
from genen_core.store.graph_store import GraphStore
from genen_core.store.layout import (
    ALIAS_SCHEMA,
    ALIASES,
    FEATURES_DIR,
    GRAPH_DIR,
    LABELS,
    MANIFEST,
    NODE_SCHEMA,
    NODES,
    SCHEMA_VERSION,
    STORE_LABEL_SCHEMA,
    StoreError,
    not_a_store_reason,
)

log = logging.getLogger(__name__)


class StoreBuilder:
    """Builds a store in a temporary sibling directory; :meth:`commit` moves it into place.

    Use as a context manager: on any exception the temporary directory is removed and an
    existing store at ``dest`` is left untouched. Construction comes first, before any
    long parse: it resolves what killed builds left (:func:`genen_core.store.swap.recover`),
    refuses to replace anything but a graph store (:func:`is_graph_store`), and creates the
    temporary directory, so an unwritable parent fails at once. With ``force`` an existing
    store is replaced at commit time by the crash-safe protocol of
    :mod:`genen_core.store.swap`; its ``features/`` directory is carried over so that the
    encoder can reuse rows whose text did not change.
    """

    def __init__(self, dest: str | os.PathLike, force: bool = False):
        self.dest = Path(dest).resolve()
        try:
            swap.recover(self.dest)
        except swap.LeftoverError as e:
            raise StoreError(str(e)) from None
        if os.path.lexists(self.dest):
            if not force:
                raise FileExistsError(
                    f"store {self.dest} already exists; pass --force to rebuild it"
                )
            why = not_a_store_reason(self.dest)
            if why:
                raise StoreError(
                    f"refusing to replace {self.dest}: {why}; --force only replaces a graph "
                    "store built by genen-ingest. Choose another --out, or move it away yourself"
                )
        self.tmp = swap.leftover_path(self.dest, swap.BUILDING)
        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():  # left by an earlier process that had our PID
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as e:
            raise StoreError(
                f"cannot create the store under {self.dest.parent}: {e.strerror or e}; "
                "choose an --out in a writable directory"
            ) from None
        self._committed = False

    def __enter__(self) -> StoreBuilder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._committed:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def write_csr(self, name: str, csr: CSR) -> None:
        d = self.tmp / GRAPH_DIR / name
        d.mkdir(parents=True, exist_ok=True)
        for field in ("indptr", "indices", "weight", "etype"):
            np.save(d / f"{field}.npy", getattr(csr, field))

    def write_nodes(self, table: pa.Table) -> None:
        pq.write_table(table.select(NODE_SCHEMA.names).cast(NODE_SCHEMA), self.tmp / NODES)

    def write_labels(self, table: pa.Table) -> None:
        pq.write_table(
            table.select(STORE_LABEL_SCHEMA.names).cast(STORE_LABEL_SCHEMA), self.tmp / LABELS
        )

    def write_aliases(self, table: pa.Table) -> None:
        pq.write_table(table.select(ALIAS_SCHEMA.names).cast(ALIAS_SCHEMA), self.tmp / ALIASES)

    def commit(self, manifest: dict) -> Path:
        """Validate, write the manifest and move the store to ``dest`` (crash-safe)."""
        manifest = {"schema_version": SCHEMA_VERSION, **manifest}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        store = GraphStore(self.tmp)  # validates presence and shapes
        # Symmetry needs a sort of every edge; the builders guarantee it by construction
        # and the tests check it, so commit runs only the linear-time checks.
        for name in store.graph_names:
            check_csr(store.csr(name), name, symmetric=False)
        if (self.dest / FEATURES_DIR).is_dir():
            shutil.copytree(self.dest / FEATURES_DIR, self.tmp / FEATURES_DIR)
        swap.swap_in(self.tmp, self.dest)
        self._committed = True
        log.info("store committed at %s", self.dest)
        return self.dest
