"""Neighbour sampling over the store's CSR graphs, behind PyG's loader interfaces.

* :mod:`.csr_sampler` — the vectorised torch sampler (CPU and CUDA, no extension needed);
* :mod:`.backends` — chooses pyg-lib / torch-sparse when installed, else ours;
* :mod:`.neighbor_sampler` — the PyG ``BaseSampler`` around them;
* :mod:`.stores` — PyG ``FeatureStore``/``GraphStore`` views of features and CSR;
* :mod:`.loader` — :func:`make_neighbor_loader` (``NodeLoader``) and :func:`full_batch`.
"""

from genen_scale.sampling.backends import BACKENDS, installed, resolve_backend
from genen_scale.sampling.csr_sampler import SampledSubgraph, floyd_offsets, sample_csr
from genen_scale.sampling.loader import full_batch, make_neighbor_loader
from genen_scale.sampling.neighbor_sampler import CSRNeighborSampler

__all__ = [
    "BACKENDS",
    "CSRNeighborSampler",
    "SampledSubgraph",
    "floyd_offsets",
    "full_batch",
    "installed",
    "make_neighbor_loader",
    "resolve_backend",
    "sample_csr",
]
