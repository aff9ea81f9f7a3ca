"""PyG ``BaseSampler`` over a store CSR, so that PyG's ``NodeLoader`` can drive it.

The sampler holds the CSR arrays as torch tensors that share memory with the
(memory-mapped) numpy arrays of :class:`genen_core.store.CSR`: no copy on CPU, one copy
on CUDA. Each process (main or ``DataLoader`` worker) lazily creates its own random
generator and its own node-id scratch map, so forked workers never share either.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch
from torch import Tensor
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput

from genen_core.store import CSR
from genen_scale.sampling.backends import resolve_backend, sample_fn


def as_tensor(array: np.ndarray | Tensor) -> Tensor:
    """A torch view of ``array`` without copying, also for read-only memory maps.

    torch warns that it cannot protect read-only numpy memory from writes; the store's
    arrays are only ever read, so the warning is silenced here.
    """
    if isinstance(array, Tensor):
        return array
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array)


def check_fanouts(num_neighbors: list[int]) -> list[int]:
    """Validate per-hop fanouts (``-1`` = all neighbours) and return them as ints."""
    fanouts = list(num_neighbors)
    if not fanouts or any(not isinstance(k, int) or k < -1 for k in fanouts):
        raise ValueError(
            f"num_neighbors={num_neighbors!r}: give one fanout per hop, each an int >= 0 "
            "or -1 for all neighbours, e.g. [15, 10]"
        )
    return fanouts


class CSRNeighborSampler(BaseSampler):
    """Uniform multi-hop neighbour sampling (without replacement) from a store CSR.

    Args:
        csr: The graph (each undirected edge stored in both directions).
        num_neighbors: Fanout per hop, like PyG's ``num_neighbors=[15, 10]``.
        seed: Seeds the generator of the main process; ``DataLoader`` workers seed from
            their ``worker_info.seed`` (which the loader's seeded generator determines).
        backend: ``"auto"``, ``"native"``, ``"pyg-lib"`` or ``"torch-sparse"``.
        device: Where sampling runs (``"cpu"`` or a CUDA device).
    """

    def __init__(
        self,
        csr: CSR,
        num_neighbors: list[int],
        seed: int = 0,
        backend: str = "auto",
        device: torch.device | str = "cpu",
    ):
        self.num_neighbors = check_fanouts(num_neighbors)
        self.device = torch.device(device)
        self.backend = resolve_backend(backend, self.device)
        self.seed = int(seed)
        self.num_nodes = csr.num_nodes
        self.indptr = as_tensor(csr.indptr).to(self.device)
        indices = as_tensor(csr.indices).to(self.device)
        # The compiled kernels want indices of indptr's dtype (int64): a copy of the graph.
        self.indices = indices if self.backend == "native" else indices.long()
        self._sample = sample_fn(self.backend)
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        self._lock = threading.Lock()
        self._generator: torch.Generator | None = None
        self._generator_key: tuple | None = None
        self._node_map: Tensor | None = None

    def __getstate__(self) -> dict:
        # Locks do not pickle, and generator/scratch map belong to one process.
        state = self.__dict__.copy()
        for key in ("_lock", "_generator", "_generator_key", "_node_map"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset_process_state()

    def _process_generator(self) -> torch.Generator:
        info = torch.utils.data.get_worker_info()
        key = None if info is None else (info.id, info.seed)
        if self._generator is None or key != self._generator_key:
            # A forked worker inherits the parent's generator state; reseeding from the
            # worker's own seed keeps workers (and epochs) from repeating each other.
            self._generator = torch.Generator(device=self.device)
            self._generator.manual_seed(self.seed if info is None else info.seed)
            self._generator_key = key
        return self._generator

    def sample(self, seeds: Tensor):
        """Sample around global ``seeds``; see :func:`~.csr_sampler.sample_csr`.

        Shapes:
            seeds: ``[B]`` -> a :class:`~.csr_sampler.SampledSubgraph` on :attr:`device`.
        """
        # The scratch map is per sampler; the lock keeps two threads from sharing it.
        with self._lock:
            generator = self._process_generator()
            if self.backend != "native":
                return self._sample(self.indptr, self.indices, seeds.long(), self.num_neighbors)
            if self._node_map is None:
                self._node_map = torch.full(
                    (self.num_nodes,), -1, dtype=torch.long, device=self.device
                )
            return self._sample(
                self.indptr, self.indices, seeds, self.num_neighbors, generator, self._node_map
            )

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        if index.time is not None:
            raise ValueError("temporal sampling is not supported: the gene graphs are static")
        out = self.sample(index.node)
        return SamplerOutput(
            node=out.node,
            row=out.row,
            col=out.col,
            edge=out.edge,
            batch=None,
            num_sampled_nodes=out.num_sampled_nodes,
            num_sampled_edges=out.num_sampled_edges,
            metadata=(index.input_id, index.time),
        )

    def sample_from_edges(self, index, neg_sampling=None):
        raise NotImplementedError(
            "CSRNeighborSampler samples around nodes only; link prediction would need "
            "torch_geometric.loader.LinkNeighborLoader"
        )
