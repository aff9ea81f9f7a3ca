"""CPU time per step of the neighbour loader: sampling, feature gather, edge weights, rest.

Counters (process CPU time) wrapped around the loader's own steps time every batch of
``make_neighbor_loader`` (fanouts ``[15, 10]``, batch 512, 384-d float16 memory-mapped
features, as ``bench_sampler.py``); the sampler alone then runs on as many batches, back to
back in the same process. CPU time and the loader/sampler ratio stay meaningful on a
shared, loaded machine, where wall-clock throughput does not (benchmarks/README.md,
sampler section). "rest" is PyG's batch assembly (``NodeLoader``, ``Data``).

``--isolated N`` appends N nodes without edges: a store's ``ppi`` CSR spans every node of
the store (GO terms have no PPI edge), so ``bench_sampler.py --store S --graph ppi`` seeds
batches mostly with isolated nodes, which gather features but add no edge.

    python benchmarks/loader_stages.py --synthetic --threads 1 --isolated 45000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from bench_sampler import GENERATED, load_graph, memmap_features

from genen_core.store import CSR
from genen_scale.sampling import loader as loader_mod
from genen_scale.sampling import make_neighbor_loader, neighbor_sampler, stores

STEPS = {
    "sample": (neighbor_sampler.CSRNeighborSampler, "sample"),
    "gather": (stores.NodeFeatureStore, "_gather"),
    "edge_weight": (loader_mod.GatherEdgeWeight, "__call__"),
}


@contextmanager
def timed_steps(spent: dict[str, float]):
    """Wrap each of :data:`STEPS` with a CPU-time counter adding to ``spent``; restored on
    exit, so the loader classes are left as they were."""
    originals = {step: getattr(cls, name) for step, (cls, name) in STEPS.items()}

    def counting(step, inner):
        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[step] += time.process_time() - start

        return wrapper

    try:
        for step, (cls, name) in STEPS.items():
            setattr(cls, name, counting(step, originals[step]))
        yield
    finally:
        for step, (cls, name) in STEPS.items():
            setattr(cls, name, originals[step])


def with_isolated(csr: CSR, n: int) -> CSR:
    indptr = np.concatenate([csr.indptr, np.full(n, csr.indptr[-1], csr.indptr.dtype)])
    return CSR(indptr, csr.indices, csr.weight, csr.etype)


def measure(csr: CSR, x, batches: int, seed: int) -> dict:
    spent = dict.fromkeys(STEPS, 0.0)
    with timed_steps(spent):
        return _measure(csr, x, batches, seed, spent)


def _measure(csr: CSR, x, batches: int, seed: int, spent: dict[str, float]) -> dict:
    seeds = torch.arange(csr.num_nodes)
    loader = make_neighbor_loader(csr, x, seeds, [15, 10], 512, True, seed, "native")

    def forever():
        while True:
            yield from loader

    it = forever()
    for _ in range(5):  # warm-up
        next(it)
    spent.update(dict.fromkeys(STEPS, 0.0))
    start, edges = time.process_time(), 0
    for _ in range(batches):
        edges += next(it).edge_index.shape[1]
    loader_s = time.process_time() - start
    per_batch = {k: round(v / batches * 1e3, 2) for k, v in spent.items()}
    per_batch["rest"] = round(loader_s / batches * 1e3 - sum(per_batch.values()), 2)
    order = torch.randperm(csr.num_nodes, generator=torch.Generator().manual_seed(seed))
    chunks = order[: batches * 512].split(512)
    start, sampled = time.process_time(), 0
    for i in range(batches):
        sampled += loader.node_sampler.sample(chunks[i % len(chunks)]).edge.numel()
    sampler_s = time.process_time() - start
    return {
        "loader_edges_per_cpu_s": round(edges / loader_s),
        "sampler_edges_per_cpu_s": round(sampled / sampler_s),
        "loader_over_sampler": round((edges / loader_s) / (sampled / sampler_s), 3),
        "loader_cpu_ms_per_batch": per_batch,
        "edges_per_batch": round(edges / batches),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, help="a built store (default: the generated graph)")
    p.add_argument("--graph", default="ppi", help="graph variant of --store")
    p.add_argument("--synthetic", action="store_true", help="a Chung-Lu graph of STRING's size")
    p.add_argument("--nodes", type=int, default=19_600)
    p.add_argument("--edges", type=int, default=13_700_000)
    p.add_argument("--isolated", type=int, default=0, help="nodes without edges to append")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--batches", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.features, args.generated = None, GENERATED
    torch.set_num_threads(args.threads)
    csr, _, source = load_graph(args)
    csr = with_isolated(csr, args.isolated) if args.isolated else csr
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        x = memmap_features(csr.num_nodes, 384, Path(tmp), args.seed)
        result = measure(csr, x, args.batches, args.seed)
    result.update(
        graph=f"{source}, {csr.num_nodes:,} nodes ({args.isolated:,} isolated), {csr.nnz:,} nnz",
        threads=args.threads,
        load_average=[round(v, 2) for v in load_before + os.getloadavg()],
    )
    print(result)
    return result


if __name__ == "__main__":
    main()
