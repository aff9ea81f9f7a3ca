"""Mini-batch and full-batch loaders over a store CSR, with NeighborLoader-shaped batches.

A batch from :func:`make_neighbor_loader` is a ``torch_geometric.data.Data`` with the same
fields as one from PyG's ``NeighborLoader``: ``x`` (float32), ``edge_index`` (local ids,
``[neighbour, target]``), ``edge_weight`` (the CSR weight of each sampled edge), ``n_id``,
``e_id`` (CSR positions), ``batch_size``, ``input_id``, ``num_sampled_nodes``,
``num_sampled_edges``. The seeds are ``n_id[:batch_size]``, so a model's predictions for
them are ``out[:batch.batch_size]``. :func:`full_batch` returns the whole graph with the
same fields, for graphs small enough to train on at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data, TensorAttr
from torch_geometric.loader import NodeLoader

from genen_core.store import CSR
from genen_scale.sampling.neighbor_sampler import CSRNeighborSampler, as_tensor
from genen_scale.sampling.stores import CSRGraphStore, NodeFeatureStore


class GatherEdgeWeight:
    """Batch transform: ``edge_weight = weight[e_id]``, then an optional user transform.

    PyG's store-backed ``NodeLoader`` gathers node tensors only, so the edge weight is
    looked up here from the sampled edges' CSR positions.
    """

    def __init__(self, weight: Tensor, then: Callable[[Data], Data] | None = None):
        self.weight = weight
        self.then = then

    def __call__(self, data: Data) -> Data:
        data.edge_weight = self.weight.index_select(0, data.e_id.to(self.weight.device)).to(
            data.e_id.device
        )
        # Set from n_id, not from a gathered x: a loader without features has none.
        data.num_nodes = data.n_id.numel()
        return data if self.then is None else self.then(data)


def _default_device(x: Tensor | np.ndarray | None, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    return x.device if isinstance(x, Tensor) else torch.device("cpu")


def make_neighbor_loader(
    csr: CSR,
    x: Tensor | np.ndarray | None,
    input_nodes: Tensor,
    num_neighbors: list[int],
    batch_size: int,
    shuffle: bool,
    seed: int,
    backend: str = "auto",
    num_workers: int = 0,
    drop_last: bool = False,
    device: torch.device | str | None = None,
    node_attrs: Mapping[str, Tensor | np.ndarray] | None = None,
    transform: Callable[[Data], Data] | None = None,
    **kw,
) -> NodeLoader:
    """A PyG ``NodeLoader`` sampling ``num_neighbors`` per hop around ``input_nodes``.

    Each epoch visits every input node exactly once as a seed (the last batch may be
    short unless ``drop_last``). Batches are reproducible for a given ``seed`` with the
    native backend: the order comes from a seeded ``torch.Generator`` and so do the
    neighbours (per process; workers derive theirs from the loader's generator).

    Args:
        csr: Graph to sample from (e.g. ``GraphStore.csr("ppi")``); arrays may be memmaps.
        x: Node features, row ``i`` = node ``i``; a float16 memmap is read row-wise per
            batch and returned as float32. None: batches carry no ``x``, for a consumer
            that gathers ``x[n_id]`` itself where it computes (on the GPU it trains on,
            rather than on the CPU and then copied: see ``training.batches``).
        input_nodes: Seed node ids (or a boolean mask over nodes).
        num_neighbors: Fanout per hop, e.g. ``[15, 10]``; ``-1`` keeps all neighbours.
        batch_size: Seeds per batch.
        shuffle: Shuffle seeds each epoch.
        seed: Seeds the shuffle and the neighbour draws.
        backend: ``"auto"``, ``"native"``, ``"pyg-lib"`` or ``"torch-sparse"``.
        num_workers: ``DataLoader`` worker processes (CPU sampling only).
        drop_last: Drop the last short batch.
        device: Where sampling runs and batches live; default ``x``'s device (CPU for
            numpy). On CUDA the CSR is copied to the device once.
        node_attrs: More per-node arrays gathered like ``x`` (e.g. ``{"y": labels}``).
        transform: Applied to each batch after ``edge_weight`` is attached.
        **kw: Passed on to ``NodeLoader``/``torch.utils.data.DataLoader``.

    Shapes:
        batch.x: ``[n, dim]``; batch.edge_index: ``[2, e]``; batch.edge_weight,
        batch.e_id: ``[e]``; batch.n_id: ``[n]`` with ``n_id[:batch_size]`` the seeds.
    """
    device = _default_device(x, device)
    if device.type == "cuda" and num_workers:
        raise ValueError(
            f"num_workers={num_workers} with CUDA sampling: CUDA cannot be used in forked "
            "workers; sample on CUDA with num_workers=0, or on CPU with workers"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: need at least one seed per batch")
    if x is not None and len(x) != csr.num_nodes:
        raise ValueError(f"x has {len(x)} rows but the graph has {csr.num_nodes} nodes")
    sampler = CSRNeighborSampler(csr, num_neighbors, seed=seed, backend=backend, device=device)
    features = NodeFeatureStore({**({} if x is None else {"x": x}), **(node_attrs or {})})
    weight = as_tensor(csr.weight).to(device)
    return NodeLoader(
        (features, CSRGraphStore(csr)),
        node_sampler=sampler,
        input_nodes=torch.as_tensor(input_nodes).cpu(),
        transform=GatherEdgeWeight(weight, transform),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        **kw,
    )


def full_batch(
    csr: CSR,
    x: Tensor | np.ndarray,
    device: torch.device | str | None = None,
    node_attrs: Mapping[str, Tensor | np.ndarray] | None = None,
) -> Data:
    """The whole graph as one batch with the fields of a sampled batch (small graphs).

    Every node is a seed (``batch_size = num_nodes``, ``n_id = arange``) and every CSR
    entry an edge (``e_id = arange(nnz)``), pointing from the neighbour to its row node as
    in sampled batches. Builds the ``[2, nnz]`` COO in memory: use
    :func:`make_neighbor_loader` for large graphs.

    Shapes:
        x: ``[N, dim]`` -> Data(x ``[N, dim]``, edge_index ``[2, nnz]``, edge_weight ``[nnz]``).
    """
    device = _default_device(x, device)
    n = csr.num_nodes
    tensors = {"x": x, **(node_attrs or {})}
    everything = torch.arange(n, device=device)
    gathered = NodeFeatureStore(tensors).multi_get_tensor(
        [TensorAttr(None, name, everything) for name in tensors]
    )
    indptr = as_tensor(csr.indptr).to(device)
    target = torch.repeat_interleave(everything, indptr.diff())
    data = Data(
        edge_index=torch.stack([as_tensor(csr.indices).to(device).long(), target]),
        # A copy: a view of a read-only memmap would crash on an in-place edit.
        edge_weight=as_tensor(csr.weight).to(device, torch.float32, copy=True),
        num_nodes=n,
        **dict(zip(tensors, gathered, strict=True)),
    )
    data.n_id = everything
    data.e_id = torch.arange(csr.nnz, device=device)
    data.input_id = everything
    data.batch_size = n
    return data
