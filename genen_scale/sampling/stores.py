"""PyG ``FeatureStore``/``GraphStore`` views of a store's features and CSR.

``NodeLoader`` given a ``(FeatureStore, GraphStore)`` pair builds each batch from the
sampler output alone and gathers only the sampled rows of each node tensor, so no worker
ever builds a COO copy of the full graph (a ``Data`` input would need a full
``edge_index``). Both stores are read-only views: rows of a memory-mapped float16 matrix
are read from disk on demand and cast to ``dtype`` per batch.

Gathering is on the loader's critical path: a 2-hop batch of 512 seeds on the 19.6k-node
PPI holds ~85% of all nodes, so each batch copies most of the feature matrix. Arrays are
therefore wrapped as tensors once (zero-copy for memory maps) and gathered with torch's
``index_select``, which uses torch's threads; numpy fancy indexing on the memmap ran on
one thread whatever ``torch.set_num_threads`` said (benchmarks/README.md, loader section).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import EdgeAttr, FeatureStore, GraphStore, TensorAttr

from genen_core.store import CSR
from genen_scale.sampling.neighbor_sampler import as_tensor


def _view(array: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """A tensor view of ``array``; numpy arrays of the unsigned dtypes that torch cannot
    ``index_select`` (uint16, uint32, uint64) stay numpy and are gathered by numpy."""
    if isinstance(array, np.ndarray) and array.dtype.kind == "u" and array.itemsize > 1:
        return array
    return as_tensor(array)


class NodeFeatureStore(FeatureStore):
    """Named per-node arrays (row ``i`` = node ``i``), gathered by node index on demand.

    Args:
        tensors: Name -> ``[num_nodes, ...]`` torch tensor or numpy array (memory maps
            are read lazily). ``"x"`` holds the features; others (``"y"``, masks) ride along.
        dtype: Floating arrays are cast to this dtype after gathering (float16 on disk,
            float32 for the model); integer and boolean arrays keep their dtype.
    """

    def __init__(self, tensors: Mapping[str, Tensor | np.ndarray], dtype=torch.float32):
        super().__init__()
        sizes = {name: len(t) for name, t in tensors.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"node arrays disagree on the number of nodes: {sizes}")
        # Tensor views, made once: a memmap stays on disk and only the gathered rows are read.
        self.__dict__["_tensors"] = {name: _view(t) for name, t in tensors.items()}
        self.__dict__["_dtype"] = dtype

    def _gather(self, value: Tensor | np.ndarray, index: Tensor) -> Tensor:
        if isinstance(value, np.ndarray):
            out = as_tensor(value[index.cpu().numpy()])
        else:
            out = value.index_select(0, index.to(value.device))
        if out.is_floating_point():
            out = out.to(self._dtype)
        return out.to(index.device)

    def _get_tensor(self, attr: TensorAttr) -> Tensor | None:
        value = self._tensors.get(attr.attr_name)
        if value is None:
            return None
        if attr.index is None:
            return self._gather(value, torch.arange(len(value)))
        return self._gather(value, attr.index)

    def _get_tensor_size(self, attr: TensorAttr) -> tuple[int, ...] | None:
        value = self._tensors.get(attr.attr_name)
        return None if value is None else tuple(value.shape)

    def get_all_tensor_attrs(self) -> list[TensorAttr]:
        return [TensorAttr(group_name=None, attr_name=name) for name in self._tensors]

    def _put_tensor(self, tensor, attr: TensorAttr) -> bool:
        raise TypeError("NodeFeatureStore is read-only; build a new one with the tensors")

    def _remove_tensor(self, attr: TensorAttr) -> bool:
        raise TypeError("NodeFeatureStore is read-only; build a new one with the tensors")


class CSRGraphStore(GraphStore):
    """A single homogeneous CSR exposed in PyG's ``GraphStore`` interface (read-only).

    The CSR of an undirected graph is also its CSC, so both layouts return the same
    ``(indptr, indices)`` pair without copying.
    """

    def __init__(self, csr: CSR):
        super().__init__()
        self.__dict__["_csr"] = csr

    def _get_edge_index(self, edge_attr: EdgeAttr) -> tuple[Tensor, Tensor] | None:
        if edge_attr.layout.value == "coo":
            return None  # the point of this store is never to build the COO copy
        return as_tensor(self._csr.indptr), as_tensor(self._csr.indices)

    def get_all_edge_attrs(self) -> list[EdgeAttr]:
        n = self._csr.num_nodes
        return [EdgeAttr(edge_type=None, layout="csr", size=(n, n))]

    def _put_edge_index(self, edge_index, edge_attr: EdgeAttr) -> bool:
        raise TypeError("CSRGraphStore is read-only; it views one store CSR")

    def _remove_edge_index(self, edge_attr: EdgeAttr) -> bool:
        raise TypeError("CSRGraphStore is read-only; it views one store CSR")
