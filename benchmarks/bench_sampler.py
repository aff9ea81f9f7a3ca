"""Neighbour-sampler benchmark: sampled edges/s and batches/s, ours against the extensions.

One run measures every available backend side by side on the same graph, seeds and
settings (fanouts ``[15, 10]``, batch 512, 384-d float16 features gathered per batch):

* ``native``: :func:`genen_scale.sampling.sample_csr` (vectorised torch, CPU or CUDA);
* ``pyg-lib`` / ``torch-sparse``: the compiled kernels, when installed (reported as
  "not installed" otherwise; this script never builds them).

For each it times whole loader batches (sampling + feature gather + edge weights, what
training sees) and the sampler alone, after a warm-up; on CUDA it synchronises before
reading the clock. The graph is, by default, the PPI CSR of the generated full-size data
set (``python -m ingest.generate --preset full``: 19.6k proteins, 13.7M link lines,
cached in ``benchmarks/out/full``) built with ``ingest.string_db.links_to_csr``;
``--synthetic`` uses a quick Chung-Lu graph of the same size, ``--store`` a built store.
Results (hardware, versions, config, date, load average) go to
``benchmarks/results/sampler.json``. Targets: >= 0.73M sampled edges/s on CPU (what
torch-sparse reached on our machines) and >= 30M/s on CUDA.

    python benchmarks/bench_sampler.py                      # generated graph, CPU
    python benchmarks/bench_sampler.py --device cuda
    python benchmarks/bench_sampler.py --store STORE --graph go_ppi --features minilm
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from genen_core.store import CSR, GraphStore, csr_from_edges
from genen_scale.sampling import installed, make_neighbor_loader

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sampler.json"
GENERATED = ROOT / "benchmarks" / "out" / "full"
TARGETS = {"cpu": 0.73e6, "cuda": 30e6}  # sampled edges per second


def synthetic_csr(nodes: int, edges: int, seed: int) -> CSR:
    """A heavy-tailed undirected graph (Chung-Lu with Pareto weights), about ``edges`` nnz."""
    rng = np.random.default_rng(seed)
    w = rng.pareto(1.5, nodes) + 1.0
    p = w / w.sum()
    # Oversample pairs: duplicates and self-loops collapse in csr_from_edges.
    pairs = int(edges / 2 * 1.25)
    return csr_from_edges(rng.choice(nodes, pairs, p=p), rng.choice(nodes, pairs, p=p), nodes)


def generated_csr(source: Path) -> CSR:
    """PPI CSR of a generated data set (generated first, if ``source`` lacks it)."""
    from ingest.string_db import links_to_csr

    links = source / "9606.protein.links.v12.0.txt.gz"
    if not links.is_file():
        subprocess.run(
            [sys.executable, "-m", "ingest.generate", "--out", str(source), "--preset", "full"],
            check=True,
        )
    csr, _, _ = links_to_csr(links, source / "9606.protein.info.v12.0.txt.gz")
    return csr


def load_graph(args) -> tuple[CSR, np.ndarray | None, str]:
    """The CSR, the store's features if asked for, and a description of the source."""
    if args.store:
        store = GraphStore(args.store)
        x = store.features(args.features) if args.features else None
        return store.csr(args.graph), x, f"store {args.store} graph {args.graph}"
    if args.synthetic:
        return synthetic_csr(args.nodes, args.edges, args.seed), None, "synthetic Chung-Lu"
    return generated_csr(args.generated), None, f"generated full preset ({args.generated})"


def memmap_features(num_nodes: int, dim: int, directory: Path, seed: int) -> np.ndarray:
    """Random float16 features written to disk and memory-mapped, like a store's."""
    path = directory / "features.npy"
    rng = np.random.default_rng(seed)
    np.save(path, rng.standard_normal((num_nodes, dim), dtype=np.float32).astype(np.float16))
    return np.load(path, mmap_mode="r")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_backend(csr: CSR, x, backend: str, device: torch.device, args) -> dict:
    """Throughput of whole loader batches and of the sampler alone for one backend."""
    seeds = torch.arange(csr.num_nodes)
    loader = make_neighbor_loader(
        csr, x, seeds, args.fanouts, args.batch_size, True, args.seed, backend, device=device
    )

    def batches():
        while True:
            yield from loader

    it = batches()
    for _ in range(args.warmup):
        next(it)
    _sync(device)
    edges = nodes = 0
    start = time.perf_counter()
    for _ in range(args.batches):
        batch = next(it)
        edges += batch.edge_index.shape[1]
        nodes += batch.num_nodes
    _sync(device)
    loader_s = time.perf_counter() - start

    sampler = loader.node_sampler
    order = torch.randperm(csr.num_nodes, generator=torch.Generator().manual_seed(args.seed))
    chunks = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    sample_edges = 0
    start = time.perf_counter()
    for i in range(args.batches):
        sample_edges += sampler.sample(chunks[i % len(chunks)]).edge.numel()
    _sync(device)
    sample_s = time.perf_counter() - start
    target = TARGETS[device.type]
    return {
        "backend": backend,
        "batches": args.batches,
        "loader_seconds": round(loader_s, 4),
        "loader_edges_per_s": round(edges / loader_s),
        "loader_batches_per_s": round(args.batches / loader_s, 2),
        "mean_edges_per_batch": round(edges / args.batches),
        "mean_nodes_per_batch": round(nodes / args.batches),
        "sampler_edges_per_s": round(sample_edges / sample_s),
        "sampler_batches_per_s": round(args.batches / sample_s, 2),
        # Both timed back to back in one process: the figure to compare on a loaded machine.
        "loader_over_sampler": round((edges / loader_s) / (sample_edges / sample_s), 3),
        "target_edges_per_s": target,
        "target_met": edges / loader_s >= target,
    }


def environment(device: torch.device) -> dict:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {"python": platform.python_version()}
    for pkg in ("torch", "torch-geometric", "numpy", "pyg-lib", "torch-sparse"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        rev = "unknown"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": rev,
        "cpu": f"{os.cpu_count()} x {cpu}",
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch_threads": torch.get_num_threads(),
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, help="a built store (default: the generated graph)")
    p.add_argument("--graph", default="ppi", help="graph variant of --store")
    p.add_argument("--features", help="feature name in --store (default: random float16)")
    p.add_argument("--generated", type=Path, default=GENERATED, help="generated data set dir")
    p.add_argument("--synthetic", action="store_true", help="a quick Chung-Lu graph instead")
    p.add_argument("--nodes", type=int, default=19_600, help="synthetic graph nodes")
    p.add_argument("--edges", type=int, default=13_700_000, help="synthetic graph nnz")
    p.add_argument("--fanouts", type=int, nargs="+", default=[15, 10])
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--dim", type=int, default=384, help="random feature width")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.add_argument("--batches", type=int, default=100, help="timed batches per backend")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--note", default="", help="what else ran on the machine (kept with the figures)"
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    csr, x, source = load_graph(args)
    graph_s = time.perf_counter() - t0
    deg = np.diff(csr.indptr)
    with tempfile.TemporaryDirectory() as tmp:
        if x is None:
            x = memmap_features(csr.num_nodes, args.dim, Path(tmp), args.seed)
        feats = torch.from_numpy(np.asarray(x)).to(device) if device.type == "cuda" else x
        results = {}
        for backend in ("native", "pyg-lib", "torch-sparse"):
            if backend != "native" and not installed()[backend]:
                results[backend] = "not installed"
            elif backend != "native" and device.type == "cuda":
                results[backend] = "CPU only"
            else:
                results[backend] = time_backend(csr, feats, backend, device, args)
    report = {
        "benchmark": "sampler",
        **environment(device),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "machine_note": args.note,
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "config": {
            "device": str(device),
            "fanouts": args.fanouts,
            "batch_size": args.batch_size,
            "feature_dim": int(x.shape[1]),
            "feature_dtype": str(x.dtype),
            "warmup": args.warmup,
            "seed": args.seed,
        },
        "graph": {
            "source": source,
            "nodes": csr.num_nodes,
            "nnz": csr.nnz,
            "max_degree": int(deg.max()),
            "median_degree": float(np.median(deg)),
            "load_seconds": round(graph_s, 1),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(_markdown(report))
    return report


def _markdown(report: dict) -> str:
    lines = [
        f"| backend ({report['config']['device']}) | loader edges/s | loader batches/s "
        "| sampler edges/s | loader / sampler | target | met |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in report["results"].items():
        if isinstance(r, str):
            lines.append(f"| {name} | {r} | | | | | |")
        else:
            lines.append(
                f"| {name} | {r['loader_edges_per_s'] / 1e6:.2f}M | {r['loader_batches_per_s']} "
                f"| {r['sampler_edges_per_s'] / 1e6:.2f}M "
                f"| {r['loader_edges_per_s'] / r['sampler_edges_per_s']:.2f} "
                f"| {r['target_edges_per_s'] / 1e6:.2f}M "
                f"| {'yes' if r['target_met'] else '**no**'} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
