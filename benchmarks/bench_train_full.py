"""Full-batch training benchmark (``python benchmarks/bench_train.py --full-batch``).

Full batch (``--full-batch``, JSON in ``results/train_full_batch.json``): seconds per
training step (median of ``--epochs`` after a warm-up) of our sparse GCN and a plain PyG
``GCNConv`` ``edge_index`` model of the same shape (preset ``gcn``), hidden 64 and 256,
each in a fresh process for its peak RSS, on the real GO+PPI store (/work/stores/human)
and the generated full-size one (/work/stores/gen-full, random features); the
fold-stacking ratio (5 folds, same epochs, sequential wall / stacked wall, real store);
one whole 5-fold run of preset ``gcn`` with early stopping; the demo main job cold and
cached. ``--parts epoch,stack,whole,demo`` picks parts; results merge into the JSON.

    flock /tmp/genen-bench.lock python benchmarks/bench_train.py --full-batch
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np
import ray
import torch
from bench_train import HERE  # a sibling script

from genen_core.config import load_config
from genen_core.logs import setup_logging
from genen_core.provenance import git_revision
from genen_core.store import GraphStore
from genen_scale.training import TrainConfig, run

log = logging.getLogger("bench_train_full")

REAL_STORE = Path("/work/stores/human")
GEN_FULL_STORE = Path("/work/stores/gen-full")


class PlainGCN(torch.nn.Module):
    """The reference: PyG GCNConv layers on an ``edge_index`` (normalisation every call),
    or with ``heads`` GATConv layers (concatenated heads, one head at the output)."""

    def __init__(self, dims: list[int], dropout: float, heads: int | None = None):
        super().__init__()
        from torch_geometric.nn import GATConv, GCNConv

        def conv(a: int, b: int, last: bool) -> torch.nn.Module:
            if heads is None:
                return GCNConv(a, b)
            h = 1 if last else heads
            return GATConv(a, b // h, heads=h, concat=not last)

        pairs = list(zip(dims, dims[1:], strict=False))
        self.convs = torch.nn.ModuleList(
            conv(a, b, i == len(pairs) - 1) for i, (a, b) in enumerate(pairs)
        )
        self.dropout = dropout

    def forward(self, x, edge_index):
        for i, conv in enumerate(self.convs):
            if i:
                x = torch.nn.functional.dropout(x, self.dropout, self.training)
            x = conv(x, edge_index)
            if i < len(self.convs) - 1:
                x = x.relu()
        return x


def epoch_seconds(
    store_path: str,
    graph: str,
    task: str,
    hidden: int,
    impl: str,
    epochs: int,
    threads: int,
    features: str,
    arch: str = "gcn",
    device: str = "cpu",
) -> dict:
    """Median seconds of a full-batch training step (forward + backward + Adam step) of
    the ``arch`` preset (``gcn``, ``gat``) at width ``hidden`` on ``device``; run in a
    fresh process for its peak RSS (on CUDA the peak allocated memory is recorded too).
    ``impl``: ``ours`` (sparse, every node of the graph; GAT: our model on ``edge_index``),
    ``ours-field`` (over the task genes' receptive field, trimmed per layer: what training
    runs by default), ``ours-bf16`` (``ours`` under ``scaling.precision bfloat16``:
    autocast) or ``pyg`` (a plain ``GCNConv`` / ``GATConv`` model on ``edge_index``)."""
    import dataclasses
    import time

    from genen_scale.models.gnn import PRESETS, build_adjacency, build_model, propagate_input
    from genen_scale.models.receptive import receptive_field
    from genen_scale.sampling.loader import full_batch
    from genen_scale.tasks.task import load_task
    from genen_scale.training.worker import precision_context

    torch.set_num_threads(threads)
    store = GraphStore.open(store_path)
    csr = store.csr(graph)
    if store.feature_path(features).is_file():
        x = np.asarray(store.features(features), dtype=np.float32)
    else:  # values do not change the time; a generated store has no text features
        x = np.random.default_rng(0).standard_normal((store.num_nodes, 384), dtype=np.float32)
    t = load_task(store, task)
    nodes, y = torch.from_numpy(t.nodes), torch.as_tensor(t.y)
    cfg = dataclasses.replace(PRESETS[arch], hidden=hidden)
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    nodes, y = nodes.to(dev), y.to(dev)
    t0 = time.perf_counter()
    g = full_batch(csr, x, device=dev)
    if impl.startswith("ours"):
        model = build_model(cfg, x.shape[1], t.num_outputs).to(dev)
        adj = build_adjacency(cfg, g.edge_index, g.num_nodes)  # None for GAT
        ax = propagate_input(adj, cfg, g.x)
        rows, sparse = nodes, adj is not None
        if impl == "ours-field":
            f = receptive_field(cfg.num_hops, g.edge_index, g.num_nodes, nodes, adj, ax is not None)
            fx, rows = g.x[f.nodes], torch.arange(len(nodes), device=dev)
            fax = None if ax is None else ax[f.nodes]
            del adj, ax, g.x
            forward = lambda: model(fx, None, ax=fax, layers=f.layers)  # noqa: E731
        elif adj is not None:
            forward = lambda: model(g.x, None, adj=adj, ax=ax)  # noqa: E731
        else:  # GAT attends over edge_index
            forward = lambda: model(g.x, g.edge_index)  # noqa: E731
        if sparse or impl == "ours-field":
            del g.edge_index  # not needed by the sparse path
    else:
        dims = [x.shape[1]] + [hidden] * cfg.layers + [t.num_outputs]
        model = PlainGCN(dims, cfg.dropout, cfg.heads if arch == "gat" else None).to(dev)
        forward = lambda: model(g.x, g.edge_index)  # noqa: E731
        rows = nodes
    sync = torch.cuda.synchronize if dev.type == "cuda" else lambda: None
    sync()
    setup = time.perf_counter() - t0
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    times = []
    precision = "bfloat16" if impl == "ours-bf16" else "float32"
    for _ in range(epochs + 1):  # the first is warm-up
        s = time.perf_counter()
        with precision_context(precision, dev):
            loss = t.loss(forward()[rows], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sync()  # CUDA runs asynchronously: the step ends when the device is done
        times.append(time.perf_counter() - s)
    import resource

    return {
        "epoch_s": statistics.median(times[1:]),
        "epoch_s_all": times[1:],
        "setup_s": setup,
        "task": task,
        "arch": arch,
        "device": str(dev),
        **(
            {"peak_gpu_mb": torch.cuda.max_memory_allocated(dev) / 2**20}
            if dev.type == "cuda"
            else {}
        ),
        **({"field_within": f.within} if impl == "ours-field" else {}),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "nodes": store.num_nodes,
        "edges": csr.nnz,
    }


def spmm_width(store_path: str, threads: int, hidden: int = 256, folds: int = 5) -> dict:
    """Seconds of one SpMM over the real GO+PPI adjacency at width ``folds x hidden`` (the
    stacked model's) against ``folds`` SpMMs at width ``hidden`` (folds one by one): what
    stacking can save in propagation."""
    import time

    from genen_scale.models.gnn import PRESETS, build_adjacency
    from genen_scale.sampling.loader import full_batch

    torch.set_num_threads(threads)
    store = GraphStore.open(store_path)
    g = full_batch(store.csr("go_ppi"), np.zeros((store.num_nodes, 1), dtype=np.float32))
    adj = build_adjacency(PRESETS["gcn"], g.edge_index, g.num_nodes)
    narrow, wide = torch.randn(g.num_nodes, hidden), torch.randn(g.num_nodes, folds * hidden)

    def best_of(x: torch.Tensor, n: int = 5) -> float:
        adj.matmul(x)
        times = []
        for _ in range(n):
            s = time.perf_counter()
            adj.matmul(x)
            times.append(time.perf_counter() - s)
        return min(times)

    one, stacked = best_of(narrow), best_of(wide)
    return {"width": hidden, "folds": folds, "one_s": one, "stacked_s": stacked,
            "saving": folds * one / stacked}  # fmt: skip


def _in_subprocess(fn: str, **kw) -> dict:
    """Run ``fn(**kw)`` of this script in a fresh Python (own peak RSS), or report why not."""
    import subprocess

    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import bench_train_full as b; "
        f"print('RESULT ' + json.dumps(b.{fn}(**json.loads(sys.argv[1]))))"
    )
    p = subprocess.run([sys.executable, "-c", code, json.dumps(kw)], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (p.stderr or p.stdout)[-600:], "returncode": p.returncode}


def run_wall(overrides: list[str]) -> tuple[float, dict]:
    """Wall seconds of :func:`genen_scale.training.run` in process, and its histories."""
    import time

    cfg = load_config(TrainConfig, None, overrides)
    s = time.perf_counter()
    run_dir, summary = run(cfg)
    wall = time.perf_counter() - s
    hist = json.loads((run_dir / "history.json").read_text())
    epochs = [e for v in hist.values() for e in v]
    return wall, {
        "summary": summary.to_dict("records"),
        "epochs": {k: len(v) for k, v in hist.items()},
        # Seconds in checkpoint hooks over seconds in training steps, all folds.
        "checkpoint_overhead": sum(e.get("checkpoint_s", 0) for e in epochs)
        / sum(e["epoch_s"] for e in epochs),
        "stacked": any("stacked_folds" in e for e in epochs),
        # A fold's share of a training step (stacked: the stacked step / its folds).
        "step_s_per_fold": statistics.median(e["epoch_s"] for e in epochs),
    }


def full_batch_section(args) -> dict:
    out: dict = {"epoch": {}, "stores": {}}
    stores = {"real GO+PPI": REAL_STORE, "generated full": GEN_FULL_STORE}
    for name, path in stores.items():
        if name.split()[0] not in args.stores:
            continue
        if not (path / "manifest.json").is_file():
            out["stores"][name] = {"path": str(path), "missing": True}
            continue
        out["stores"][name] = {"path": str(path)}
        for hidden in args.hidden if "epoch" in args.parts else []:
            for impl in args.impls:
                key = f"{name} | hidden {hidden} | {impl}"
                edges = GraphStore.open(path).csr("go_ppi").nnz
                # GCNConv keeps ~3 [E, hidden] float tensors per layer in a training step.
                need_gb = 3 * edges * hidden * 4 / 2**30
                if impl == "pyg" and need_gb > args.pyg_max_gb:
                    out["epoch"][key] = {"skipped": f"edge_index path needs ~{need_gb:.0f} GB "
                                         f"of [E, hidden] messages (> --pyg-max-gb {args.pyg_max_gb:g} "
                                         "on this shared 24 GB machine)"}  # fmt: skip
                    continue
                log.info("full batch: %s", key)
                out["epoch"][key] = _in_subprocess(
                    "epoch_seconds", store_path=str(path), graph="go_ppi", task=args.task,
                    hidden=hidden, impl=impl, epochs=args.epochs, threads=args.threads,
                    features=args.features,
                )  # fmt: skip
    base = [
        "--scaling.num_workers", "0", "--scaling.threads_per_worker", str(args.threads),
        "--data.store", str(REAL_STORE), "--data.graph", "go_ppi", "--data.task", args.task,
        "--data.full_batch", "true", "--eval.baselines", "[]", "--output_dir", str(args.out_dir),
    ]  # fmt: skip
    if (REAL_STORE / "manifest.json").is_file() and "stack" in args.parts:
        fixed = ["--optim.epochs", str(args.epochs), "--optim.patience", str(args.epochs)]
        walls, infos = {}, {}
        for stack in ("false", "true"):
            walls[stack], infos[stack] = run_wall(base + fixed + ["--scaling.stack_folds", stack])
        spmm = _in_subprocess("spmm_width", store_path=str(REAL_STORE), threads=args.threads)
        out["fold_stacking"] = {
            "spmm": spmm,
            "folds": 5, "epochs": args.epochs, "sequential_s": walls["false"],
            "stacked_s": walls["true"], "ratio": walls["false"] / walls["true"],
            "test_auc_sequential": infos["false"]["summary"][0]["mean"],
            "test_auc_stacked": infos["true"]["summary"][0]["mean"],
            "checkpoint_overhead": {k: v["checkpoint_overhead"] for k, v in infos.items()},
            "sequential": {"step_s_per_fold": infos["false"]["step_s_per_fold"]},
            "stacked": {"step_s_per_fold": infos["true"]["step_s_per_fold"]},
        }  # fmt: skip
    if (REAL_STORE / "manifest.json").is_file() and "whole" in args.parts:
        # With a store given, the model defaults are preset gcn.
        wall, info = run_wall(base + ["--scaling.precision", args.whole_precision])
        out["whole_run"] = {
            "wall_s": wall, **info, "precision": args.whole_precision,
            "config": f"preset gcn, 5 folds, early stopping, {args.whole_precision}, "
            + ("folds stacked" if info["stacked"] else "folds one by one"),
        }  # fmt: skip
    return out


def demo_section(args) -> dict:
    """Wall of ``python -m genen_scale.train`` with no arguments: cold (empty cache) and
    cached, each in a fresh process as a user runs it."""
    import shutil
    import subprocess
    import tempfile
    import time

    cache = Path(tempfile.mkdtemp(prefix="genen-demo-bench-"))
    out = {}
    try:
        for label in ("cold", "cached"):
            s = time.perf_counter()
            p = subprocess.run(
                [sys.executable, "-m", "genen_scale.train", "--data.demo_cache", str(cache / "c"),
                 "--output_dir", str(cache / "out")],
                capture_output=True, text=True, cwd=HERE.parent,
            )  # fmt: skip
            out[label] = {"wall_s": time.perf_counter() - s, "returncode": p.returncode,
                          "summary": [ln for ln in p.stdout.splitlines() if ln.startswith("|")]}  # fmt: skip
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


def cpu_model() -> str:
    """The CPU's model name and widest vector extension: figures of machines with and
    without AVX2/AVX-512 differ severalfold, so a record says which it came from."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.node()
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                 if ln.startswith("model name")), "unknown")  # fmt: skip
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines()
                  if ln.startswith("flags")), [])  # fmt: skip
    widest = next((f for f in ("amx_tile", "avx512f", "avx2", "avx") if f in flags), "none")
    return f"{name} ({widest})"


def environment() -> dict:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(),
                     "processor": cpu_model()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "ray": ray.__version__},
        "shared_machine": "2 cores shared with other jobs; compare ratios within one run",
    }  # fmt: skip


def main_full_batch(argv: list[str]) -> dict:
    """``--full-batch`` mode: see :func:`full_batch_section` and :func:`demo_section`."""
    p = argparse.ArgumentParser(description="full-batch training benchmark")
    p.add_argument("--full-batch", action="store_true")
    p.add_argument("--parts", default="epoch,stack,whole,demo",
                   help="comma-separated: epoch, stack, whole, demo")  # fmt: skip
    p.add_argument("--task", default="solubility")
    p.add_argument("--features", default="minilm")
    p.add_argument("--stores", default="real,generated",
                   help="epoch part: real (GO+PPI) and/or generated (full size)")  # fmt: skip
    p.add_argument("--impls", default="ours,ours-field,ours-bf16,pyg",
                   help="epoch part: implementations (see epoch_seconds)")  # fmt: skip
    p.add_argument("--hidden", type=json.loads, default=[64, 256])
    p.add_argument("--epochs", type=int, default=5, help="timed epochs (after one warm-up)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--whole-precision", default="float32", choices=["float32", "bfloat16"],
                   help="scaling.precision of the whole 5-fold run")  # fmt: skip
    p.add_argument("--pyg-max-gb", type=float, default=6.0,
                   help="skip the edge_index model where its messages would need more")  # fmt: skip
    p.add_argument("--out-dir", default=str(HERE / "out" / "train-full"))
    p.add_argument("--json", default=str(HERE / "results" / "train_full_batch.json"))
    args = p.parse_args(argv)
    args.parts, args.stores = args.parts.split(","), args.stores.split(",")
    args.impls = args.impls.split(",")
    setup_logging()
    args.out_dir = Path(args.out_dir) / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(args.json)
    result = json.loads(path.read_text()) if path.is_file() else {}
    load_before = os.getloadavg()[0]
    if {"epoch", "stack", "whole"} & set(args.parts):
        for key, value in full_batch_section(args).items():
            if key in ("epoch", "stores"):  # merge: parts may run separately
                result.setdefault(key, {}).update(value)
            else:
                result[key] = value
    if "demo" in args.parts:
        result["demo"] = demo_section(args)
    result.update(environment())
    result["benchmark"] = "train_full_batch"
    result.setdefault("load_average", {})[",".join(args.parts)] = {
        "before": load_before, "after": os.getloadavg()[0]}  # fmt: skip
    command = "python benchmarks/bench_train.py " + " ".join(argv)
    result["commands"] = sorted(set(result.get("commands", [])) | {command})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result
