"""Which neighbour-sampling kernel runs: pyg-lib, torch-sparse, or our own (``native``).

pyg-lib and torch-sparse are compiled extensions that cannot be installed on every
machine (none of ours has them), so they are optional accelerators: ``"auto"`` uses
pyg-lib, else torch-sparse, else :func:`~genen_scale.sampling.csr_sampler.sample_csr`.
Both extensions sample on CPU only, so ``"auto"`` picks ``native`` for CUDA tensors.

Every backend has the signature of :data:`SampleFn` and returns the same
:class:`~genen_scale.sampling.csr_sampler.SampledSubgraph` conventions (edges from the
neighbour to the expanded node, ``edge`` = CSR position). The extensions draw from their
own random state, not from our ``torch.Generator``: only ``native`` is reproducible
under the loader's ``seed``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import torch
import torch_geometric.typing as pyg_typing
from torch import Tensor

from genen_scale.sampling.csr_sampler import SampledSubgraph, sample_csr

log = logging.getLogger(__name__)

BACKENDS = ("auto", "native", "pyg-lib", "torch-sparse")

SampleFn = Callable[[Tensor, Tensor, Tensor, list[int], "torch.Generator | None"], SampledSubgraph]


def installed() -> dict[str, bool]:
    """Whether each compiled backend was importable (as PyG detected it at import time)."""
    return {"pyg-lib": pyg_typing.WITH_PYG_LIB, "torch-sparse": pyg_typing.WITH_TORCH_SPARSE}


def resolve_backend(name: str, device: torch.device | str = "cpu") -> str:
    """Turn ``name`` (one of :data:`BACKENDS`) into the backend that will run.

    Raises:
        ValueError: for an unknown name, a missing extension or a CUDA device with an
            extension (they sample on CPU only).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown sampler backend {name!r}; choose one of {', '.join(BACKENDS)}")
    on_cuda = torch.device(device).type == "cuda"
    have = installed()
    if name == "auto":
        if on_cuda:
            chosen, why = "native", "sampling on CUDA; the extensions sample on CPU only"
        elif have["pyg-lib"]:
            chosen, why = "pyg-lib", "installed"
        elif have["torch-sparse"]:
            chosen, why = "torch-sparse", "installed; pyg-lib is not"
        else:
            chosen, why = "native", "pyg-lib and torch-sparse not installed"
        _log_once(f"neighbour sampler backend: {chosen} ({why})")
        return chosen
    if name != "native":
        if not have[name]:
            raise ValueError(
                f"sampler backend {name!r} is not installed; install it with "
                f"`pip install {name}` (wheels: https://data.pyg.org/whl) or use backend='native'"
            )
        if on_cuda:
            raise ValueError(
                f"sampler backend {name!r} samples on CPU only, but device={device!s}; "
                "use backend='native' (or 'auto') for CUDA sampling"
            )
    _log_once(f"neighbour sampler backend: {name} (requested)")
    return name


@functools.cache
def _log_once(message: str) -> None:
    log.info(message)


def sample_fn(backend: str) -> SampleFn:
    """The sampling function of a resolved backend name."""
    return {"native": sample_csr, "pyg-lib": _pyg_lib, "torch-sparse": _torch_sparse}[backend]


def _pyg_lib(indptr, indices, seeds, fanouts, generator=None) -> SampledSubgraph:
    # Mirrors torch_geometric.sampler.NeighborSampler._sample (PyG 2.8): the CSR of an
    # undirected graph is its CSC, so neighbour -> node edges come out as (row, col).
    args = (indptr, indices, seeds.to(indptr.dtype), fanouts, None)
    if pyg_typing.WITH_EDGE_TIME_NEIGHBOR_SAMPLE:
        args += (None,)
    args += (None,)
    if pyg_typing.WITH_WEIGHTED_NEIGHBOR_SAMPLE:
        args += (None,)
    args += (True, False, True, False, "uniform", True)  # csc, replace, directed, disjoint
    out = torch.ops.pyg.neighbor_sample(*args)
    row, col, node, edge = out[:4]
    # pyg-lib > 0.1 also reports per-hop counts.
    num_nodes = list(out[4]) if len(out) >= 6 else None
    num_edges = list(out[5]) if len(out) >= 6 else None
    return SampledSubgraph(node, row, col, edge, num_nodes, num_edges)


def _torch_sparse(indptr, indices, seeds, fanouts, generator=None) -> SampledSubgraph:
    node, row, col, edge = torch.ops.torch_sparse.neighbor_sample(
        indptr,
        indices,
        seeds,
        fanouts,
        False,
        True,  # replace, directed
    )
    # torch-sparse does not report per-hop counts.
    return SampledSubgraph(node, row, col, edge, None, None)
