"""Neighbour sampler: invariants against a brute-force reference, uniformity, loader."""

from __future__ import annotations

import itertools
import logging
from math import comb

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from genen_core.store import csr_from_edges
from genen_scale.sampling import (
    CSRNeighborSampler,
    floyd_offsets,
    full_batch,
    make_neighbor_loader,
    resolve_backend,
    sample_csr,
)
from genen_scale.sampling import backends as backends_mod
from genen_scale.sampling.csr_sampler import _new_nodes


def random_csr(seed: int, n: int = 60, m: int = 250):
    """A small undirected graph with skewed degrees: hubs far above the fanouts, and
    nodes at or below them."""
    rng = np.random.default_rng(seed)
    p = rng.pareto(1.5, n) + 1
    p /= p.sum()
    return csr_from_edges(rng.choice(n, m, p=p), rng.integers(0, n, m), n, rng.random(m))


def tensors(csr, device="cpu"):
    return torch.from_numpy(csr.indptr).to(device), torch.from_numpy(csr.indices).to(device)


def neighbours(csr, v: int) -> list[int]:
    return csr.indices[csr.indptr[v] : csr.indptr[v + 1]].tolist()


def check_against_reference(csr, seeds: list[int], fanouts: list[int], out) -> None:
    """Replay the hops in plain Python and check every invariant of the sampled subgraph."""
    node, row, col, edge = (t.cpu().tolist() for t in (out.node, out.row, out.col, out.edge))
    assert node[: len(seeds)] == seeds, "seeds must come first, in input order"
    assert len(set(node)) == len(node), "a node appears twice in n_id"
    assert col == sorted(col), "edges must come in CSR order across hops too"
    assert len(out.num_sampled_nodes) == len(fanouts) + 1
    assert sum(out.num_sampled_nodes) == len(node) and sum(out.num_sampled_edges) == len(edge)
    visited, frontier = set(seeds), list(seeds)
    n_start, e_start = len(seeds), 0
    for hop, k in enumerate(fanouts):
        e_stop = e_start + out.num_sampled_edges[hop]
        picked: dict[int, list[int]] = {v: [] for v in frontier}
        for r, c, e in zip(
            row[e_start:e_stop], col[e_start:e_stop], edge[e_start:e_stop], strict=True
        ):
            src, dst = node[r], node[c]
            assert dst in picked, f"hop {hop}: edge into {dst}, which this hop does not expand"
            assert csr.indptr[dst] <= e < csr.indptr[dst + 1], "e_id outside the target's row"
            assert csr.indices[e] == src, "e_id does not point at the sampled edge"
            picked[dst].append(src)
        for v, nbrs in picked.items():
            full = neighbours(csr, v)
            assert len(nbrs) == len(set(nbrs)), f"node {v} drew a neighbour twice"
            assert set(nbrs) <= set(full)
            want = len(full) if k < 0 else min(len(full), k)
            assert len(nbrs) == want, f"node {v}: {len(nbrs)} neighbours, want {want}"
        new = {u for nbrs in picked.values() for u in nbrs} - visited
        hop_col = col[e_start:e_stop]
        assert hop_col == sorted(hop_col), "edges must come grouped by target (CSR order)"
        n_stop = n_start + out.num_sampled_nodes[hop + 1]
        assert set(node[n_start:n_stop]) == new, f"hop {hop}: wrong set of new nodes"
        visited |= new
        frontier = node[n_start:n_stop]
        n_start, e_start = n_stop, e_stop


@pytest.mark.parametrize("fanouts", [[3], [4, 2], [2, 3, 2], [-1, 2], [0, 5]])
def test_sample_matches_reference(fanouts):
    csr = random_csr(1)
    indptr, indices = tensors(csr)
    g = torch.Generator().manual_seed(0)
    for seeds in ([0, 5, 17], [42, 1, 7, 30, 2], list(range(59, 39, -1))):
        out = sample_csr(indptr, indices, torch.tensor(seeds), fanouts, g)
        check_against_reference(csr, seeds, fanouts, out)


def test_low_degree_nodes_keep_all_neighbours_and_map_is_restored():
    csr = random_csr(2)
    indptr, indices = tensors(csr)
    deg = np.diff(csr.indptr)
    seeds = np.flatnonzero((deg > 0) & (deg <= 4))[:10]
    assert len(seeds) >= 3, "the test graph needs low-degree nodes"
    node_map = torch.full((csr.num_nodes,), -1, dtype=torch.long)
    out = sample_csr(indptr, indices, torch.from_numpy(seeds), [4], None, node_map)
    for i, v in enumerate(seeds):
        got = out.node[out.row[out.col == i]].tolist()
        assert sorted(got) == neighbours(csr, v)
    assert bool((node_map == -1).all()), "the scratch map must be reset after sampling"


def test_isolated_seeds_stop_early_with_zero_counts():
    csr = csr_from_edges(np.array([0, 1]), np.array([1, 2]), 5)  # nodes 3 and 4 isolated
    out = sample_csr(*tensors(csr), torch.tensor([4, 3]), [3, 2, 2])
    assert out.node.tolist() == [4, 3] and out.edge.numel() == 0
    assert out.num_sampled_nodes == [2, 0, 0, 0] and out.num_sampled_edges == [0, 0, 0]


def _subset_counts(offsets: torch.Tensor, deg: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-offset counts and per-k-subset counts of a ``[draws, k]`` offset matrix."""
    k = offsets.shape[1]
    per_item = np.bincount(offsets.flatten().numpy(), minlength=deg)
    codes = (1 << offsets).sum(dim=1).numpy()  # a k-subset of offsets as a bitmask
    index = {sum(1 << i for i in s): j for j, s in enumerate(itertools.combinations(range(deg), k))}
    per_subset = np.bincount([index[c] for c in codes], minlength=comb(deg, k))
    return per_item, per_subset


def _uniform_pvalues(offsets: torch.Tensor, deg: int) -> tuple[float, float]:
    per_item, per_subset = _subset_counts(offsets, deg)
    return chisquare(per_item).pvalue, chisquare(per_subset).pvalue


def _window_sampler(deg: torch.Tensor, k: int, generator) -> torch.Tensor:
    """Biased on purpose: k consecutive offsets from a random start (cyclic).

    Every offset is equally likely, but only ``deg`` of the ``C(deg, k)`` subsets occur.
    """
    start = (torch.rand(deg.shape, generator=generator) * deg).long()
    return (start.unsqueeze(1) + torch.arange(k)) % deg.unsqueeze(1)


def _skewed_sampler(deg: torch.Tensor, k: int, generator) -> torch.Tensor:
    """Biased on purpose: top-k of random keys nudged towards low offsets.

    Offset 0 comes out about 4% more often than average and offset 7 about 8% less.
    """
    d = int(deg[0])
    keys = torch.rand(len(deg), d, generator=generator) - 0.05 * torch.arange(d) / d
    return keys.topk(k, dim=1).indices


@pytest.mark.parametrize("deg,k", [(8, 3), (7, 5), (6, 1)])
def test_floyd_draws_uniform_subsets(deg, k):
    g = torch.Generator().manual_seed(1234)
    draws = 200 * comb(deg, k)
    offsets = floyd_offsets(torch.full((draws,), deg), k, g)
    assert bool(((offsets >= 0) & (offsets < deg)).all())
    assert bool((offsets.sort(dim=1).values.diff(dim=1) > 0).all()), "offsets must be distinct"
    p_item, p_subset = _uniform_pvalues(offsets, deg)
    assert p_item > 1e-3 and p_subset > 1e-3, (p_item, p_subset)


@pytest.mark.parametrize("biased", [_window_sampler, _skewed_sampler])
def test_uniformity_check_rejects_biased_samplers(biased):
    g = torch.Generator().manual_seed(1234)
    deg, k = 8, 3
    offsets = biased(torch.full((200 * comb(deg, k),), deg), k, g)
    assert min(_uniform_pvalues(offsets, deg)) < 1e-3


def test_sample_csr_neighbours_chosen_uniformly():
    """End to end: how often each neighbour of a hub is drawn over many batches."""
    hub_deg, k = 9, 4
    src = np.zeros(hub_deg, dtype=np.int64)
    dst = np.arange(1, hub_deg + 1)
    csr = csr_from_edges(np.r_[src, 1], np.r_[dst, 2], hub_deg + 1)  # plus an edge 1-2
    indptr, indices = tensors(csr)
    g = torch.Generator().manual_seed(7)
    node_map = torch.full((csr.num_nodes,), -1, dtype=torch.long)
    counts = np.zeros(hub_deg + 1, dtype=np.int64)
    for _ in range(1500):
        out = sample_csr(indptr, indices, torch.tensor([0]), [k], g, node_map)
        counts[out.node[out.row].numpy()] += 1
    assert counts[0] == 0 and counts.sum() == 1500 * k
    assert chisquare(counts[1:]).pvalue > 1e-3


def test_sampler_is_deterministic_under_seed():
    csr = random_csr(3)
    seeds = torch.tensor([3, 9, 27, 31])

    def draw(seed):
        s = CSRNeighborSampler(csr, [3, 3], seed=seed)
        return [s.sample(seeds) for _ in range(3)]

    a, b, c = draw(5), draw(5), draw(6)
    for x, y in zip(a, b, strict=True):
        for f in ("node", "row", "col", "edge"):
            assert torch.equal(getattr(x, f), getattr(y, f))
    assert any(not torch.equal(x.edge, z.edge) for x, z in zip(a, c, strict=True))


def _check_batch(batch, csr, x):
    n_id, e_id = batch.n_id, batch.e_id
    assert torch.equal(batch.x, torch.from_numpy(x[n_id.numpy()].astype(np.float32)))
    assert torch.equal(batch.edge_weight, torch.from_numpy(csr.weight[e_id.numpy()]))
    src, dst = n_id[batch.edge_index[0]].numpy(), n_id[batch.edge_index[1]].numpy()
    assert np.array_equal(csr.indices[e_id.numpy()], src), "n_id[edge_index] must be real edges"
    rows = np.searchsorted(csr.indptr, e_id.numpy(), side="right") - 1
    assert np.array_equal(rows, dst)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_covers_every_seed_once_per_epoch(tiny_store, num_workers):
    csr = tiny_store.csr("go_ppi")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((tiny_store.num_nodes, 8)).astype(np.float16)
    seeds = torch.arange(tiny_store.num_genes)

    def epochs(n):
        loader = make_neighbor_loader(
            csr, x, seeds, [5, 3], batch_size=64, shuffle=True, seed=11, num_workers=num_workers
        )
        return [list(loader) for _ in range(n)]

    run = epochs(2)
    for batches in run:
        assert [b.batch_size for b in batches] == [64] * 4 + [300 - 256]
        got = torch.cat([b.n_id[: b.batch_size] for b in batches])
        assert sorted(got.tolist()) == seeds.tolist()
        for b in batches:
            assert torch.equal(seeds[b.input_id], b.n_id[: b.batch_size])
            _check_batch(b, csr, x)
    assert not torch.equal(run[0][0].n_id, run[1][0].n_id), "epochs must reshuffle"
    again = epochs(1)[0]
    for a, b in zip(run[0], again, strict=True):
        assert torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index)


@pytest.mark.parametrize("num_nodes,num_nbr", [(50, 400), (5000, 40)])
def test_new_nodes_equal_unique_of_unmapped(num_nodes, num_nbr):
    """Both ways of collecting a hop's new nodes (scan of the scratch map when the graph is
    small next to the candidates, else unique) give unique's sorted ids and leave the map."""
    g = torch.Generator().manual_seed(num_nodes)
    node_map = torch.full((num_nodes,), -1, dtype=torch.long)
    node_map[torch.randperm(num_nodes, generator=g)[: num_nodes // 3]] = 4
    nbr = torch.randint(0, num_nodes, (num_nbr,), generator=g)
    before = node_map.clone()
    got = _new_nodes(node_map, nbr)
    assert torch.equal(got, torch.unique(nbr[before[nbr] < 0])) and got.numel() > 0
    assert torch.equal(node_map, before), "the scratch map must come back unchanged"


def test_batch_features_are_the_memmapped_rows_of_its_nodes(tiny_store, tmp_path):
    """A float16 memory-mapped feature matrix (as a store holds it) is viewed, not read
    whole or copied, and each batch's x is float32 rows n_id of it, seeds first in the
    order given; an integer node array rides along with its dtype."""
    n = tiny_store.num_nodes
    rng = np.random.default_rng(3)
    np.save(tmp_path / "x.npy", rng.standard_normal((n, 6)).astype(np.float16))
    np.save(tmp_path / "y.npy", rng.integers(0, 9, n))
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    y = np.load(tmp_path / "y.npy", mmap_mode="r")
    ids = np.arange(n, dtype=np.uint32) * 3  # torch has no index_select for uint32
    seeds = torch.tensor([7, 3, 250, 0, 41])
    loader = make_neighbor_loader(
        tiny_store.csr("go_ppi"), x, seeds, [4, 2], 3, False, 0, node_attrs={"y": y, "ids": ids}
    )
    held = loader.data[0]._tensors
    assert np.shares_memory(held["x"].numpy(), x) and np.shares_memory(held["y"].numpy(), y)
    batches = list(loader)
    assert [b.n_id[: b.batch_size].tolist() for b in batches] == [[7, 3, 250], [0, 41]]
    for b in batches:
        assert b.x.dtype == torch.float32 and b.y.dtype == torch.int64
        assert np.array_equal(b.x.numpy(), x[b.n_id.numpy()].astype(np.float32))
        assert np.array_equal(b.y.numpy(), y[b.n_id.numpy()])
        assert b.ids.dtype == torch.uint32 and np.array_equal(b.ids.numpy(), ids[b.n_id.numpy()])


def test_training_batches_come_in_csr_order(tiny_store, monkeypatch):
    """GraphBatches hands the model edges grouped by target whether or not the backend
    emits them so (the native sampler does; a compiled one need not)."""
    from genen_scale.models.gnn import ModelConfig
    from genen_scale.training import batches as batches_mod

    csr = tiny_store.csr("go_ppi")
    x = torch.randn(tiny_store.num_nodes, 4)
    nodes = torch.arange(40)

    def shuffled_loader(*args, **kwargs):
        for b in make_neighbor_loader(*args, **kwargs):
            perm = torch.randperm(b.edge_index.shape[1], generator=torch.Generator().manual_seed(0))
            b.edge_index, b.edge_weight, b.e_id = (
                b.edge_index[:, perm],
                b.edge_weight[perm],
                b.e_id[perm],
            )
            yield b

    def edges(batches) -> list[tuple[torch.Tensor, list]]:
        """Each batch's targets in the order given, and its edges as a sorted set."""
        out = []
        for b in batches(nodes, 5):
            cols = (b.edge_index[1], b.edge_index[0], b.e_id, b.edge_weight)
            out.append((b.edge_index[1], sorted(zip(*(c.tolist() for c in cols), strict=True))))
            assert torch.equal(b.edge_weight, torch.from_numpy(csr.weight[b.e_id.numpy()]))
        return out

    device, model = torch.device("cpu"), ModelConfig()
    native = edges(batches_mod.GraphBatches(csr, x, [4, 3], 16, False, device, model))
    monkeypatch.setattr(batches_mod, "make_neighbor_loader", shuffled_loader)
    resorted = edges(batches_mod.GraphBatches(csr, x, [4, 3], 16, False, device, model))
    for (dst, got), (dst2, got2) in zip(native, resorted, strict=True):
        assert bool((dst.diff() >= 0).all()) and bool((dst2.diff() >= 0).all())
        assert got == got2


@pytest.mark.parametrize("arch", ["gat", "gcn"])
def test_training_batches_gather_x_rows_of_the_sampled_nodes(tiny_store, arch):
    """GraphBatches gathers x itself (the loader samples without features): a GAT batch's
    x is the float32 rows of the nodes the loader samples for the same seed, seeds first;
    a GCN batch reads the whole float32 matrix by global id in its first layer instead."""
    from genen_scale.models.gnn import ModelConfig
    from genen_scale.training.batches import GraphBatches

    csr = tiny_store.csr("go_ppi")
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((csr.num_nodes, 5)))
    x = x.to(torch.float16)  # cast to float32 on the way, as the loader did
    nodes = torch.tensor([9, 4, 120, 33, 2, 77, 150])
    cfg = ModelConfig(arch=arch)
    got = list(GraphBatches(csr, x, [3, 2], 3, False, torch.device("cpu"), cfg)(nodes, 8))
    want = list(make_neighbor_loader(csr, x, nodes, [3, 2], 3, False, 8))
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g.seeds, w.n_id[: w.batch_size])
        if arch == "gat":
            assert g.x.dtype == torch.float32 and torch.equal(g.x, x[w.n_id].float())
            assert g.x.shape[0] == w.num_nodes and g.adj is None
            continue
        first = g.layers[0].adj
        assert g.x.dtype == torch.float32 and torch.equal(g.x, x.float())
        assert g.adj.num_nodes == w.num_nodes and first.shape[1] == csr.num_nodes
        assert set(first.col.tolist()) <= set(w.n_id.tolist())


def test_full_batch_has_sampled_batch_fields(tiny_store):
    csr = tiny_store.csr("ppi")
    x = np.random.default_rng(1).standard_normal((tiny_store.num_nodes, 4)).astype(np.float16)
    data = full_batch(csr, x)
    assert data.batch_size == data.num_nodes == csr.num_nodes
    assert data.edge_index.shape == (2, csr.nnz)
    assert torch.equal(data.e_id, torch.arange(csr.nnz))
    _check_batch(data, csr, x)


def test_backend_resolution(caplog, monkeypatch):
    monkeypatch.setattr(
        backends_mod, "installed", lambda: {"pyg-lib": False, "torch-sparse": False}
    )
    backends_mod._log_once.cache_clear()
    with caplog.at_level(logging.INFO, logger="genen_scale.sampling.backends"):
        assert resolve_backend("auto") == "native"
    assert (
        "neighbour sampler backend: native (pyg-lib and torch-sparse not installed)" in caplog.text
    )
    with pytest.raises(ValueError, match="pip install pyg-lib"):
        resolve_backend("pyg-lib")
    with pytest.raises(ValueError, match="unknown sampler backend 'dgl'"):
        resolve_backend("dgl")
    monkeypatch.setattr(backends_mod, "installed", lambda: {"pyg-lib": True, "torch-sparse": True})
    assert resolve_backend("auto") == "pyg-lib"
    assert resolve_backend("auto", "cuda") == "native"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_backend("torch-sparse", "cuda")


def test_bad_fanouts_are_rejected():
    with pytest.raises(ValueError, match="num_neighbors"):
        CSRNeighborSampler(random_csr(0), [15, -2])
    with pytest.raises(ValueError, match="num_neighbors"):
        CSRNeighborSampler(random_csr(0), [])


@pytest.mark.gpu
def test_cuda_sampling_matches_reference_and_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    csr = random_csr(4)
    seeds = [5, 0, 33, 12]
    g = torch.Generator(device="cuda").manual_seed(0)
    for fanouts in ([3, 2], [4, 4, 1]):
        out = sample_csr(*tensors(csr, "cuda"), torch.tensor(seeds), fanouts, g)
        assert out.node.is_cuda and out.edge.is_cuda
        check_against_reference(csr, seeds, fanouts, out)
    # With fanouts above every degree no randomness is involved: CPU and CUDA agree.
    big = int(np.diff(csr.indptr).max())
    cpu = sample_csr(*tensors(csr), torch.tensor(seeds), [big, big])
    gpu = sample_csr(*tensors(csr, "cuda"), torch.tensor(seeds), [big, big])
    for f in ("node", "row", "col", "edge"):
        assert torch.equal(getattr(cpu, f), getattr(gpu, f).cpu())
