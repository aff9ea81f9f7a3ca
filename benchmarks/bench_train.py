"""Training throughput on Ray Train: 1 worker x 2 threads against 2 workers x 1 thread.

Both layouts run the real entry code (``genen_scale.training.run``) on a local Ray cluster
in this process, one fold, same config and seed; throughput is the seed nodes trained per
second of training epoch (every rank's seeds, epoch 0 left out as warm-up) and memory the
largest per-worker peak RSS. The ratio 2x1 / 1x2 is the headline (target >= 0.85): on
shared machines only ratios taken in one run compare.

Data: ``--store`` if given; else the full-size generated store (sources from
``python -m ingest.generate --preset full --out benchmarks/out/full``, ingested once into
``benchmarks/out/full-store``); else the demo store. Feature values do not change
throughput, so when the store has no ``--features`` matrix a random float16 one named
``bench`` is written into it (text encoding of 62k nodes on two cores takes an hour).

    python benchmarks/bench_train.py [--store PATH] [--epochs 4] [-- --model.hidden 128 ...]

Full batch (``--full-batch``): ``bench_train_full.py``.

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

from genen_core.config import load_config
from genen_core.logs import setup_logging
from genen_core.provenance import git_revision
from genen_core.store import GraphStore
from genen_scale.training import TrainConfig, run

HERE = Path(__file__).resolve().parent
FULL_SOURCES = HERE / "out" / "full"
FULL_STORE = HERE / "out" / "full-store"
LAYOUTS = {"1x2": (1, 2), "2x1": (2, 1)}
log = logging.getLogger("bench_train")


def find_store(arg: str | None) -> tuple[Path, str]:
    """The store to train on and a word on where it came from."""
    if arg:
        return Path(arg), "given"
    if (FULL_STORE / "manifest.json").is_file():
        return FULL_STORE, "generated full"
    if (FULL_SOURCES / "labels").is_dir():
        from ingest.build import build_store
        from ingest.config import IngestConfig
        from ingest.sources import SourcesConfig

        build_store(
            IngestConfig(
                out=str(FULL_STORE),
                summaries=str(FULL_SOURCES / "gene_summaries.tsv.gz"),
                labels=str(FULL_SOURCES / "labels"),
                sources=SourcesConfig(source_dir=str(FULL_SOURCES)),
            )
        )
        return FULL_STORE, "generated full"
    from genen_scale.demo import demo_store

    return demo_store(TrainConfig().data.demo_cache), "demo (no full-size sources found)"


def ensure_features(store: GraphStore, name: str, dim: int) -> str:
    if store.feature_path(name).is_file():
        return name
    path = store.feature_path("bench")
    if not path.is_file():
        path.parent.mkdir(exist_ok=True)
        x = np.random.default_rng(0).standard_normal((store.num_nodes, dim), dtype=np.float32)
        np.save(path, x.astype(np.float16))
    return "bench"


def measure(store: Path, features: str, layout: str, args, out: Path) -> dict:
    workers, threads = LAYOUTS[layout]
    cfg = load_config(
        TrainConfig,
        None,
        [
            "--data.store", str(store), "--data.features", features, "--data.task", args.task,
            "--data.graph", args.graph, "--data.batch_size", str(args.batch_size),
            "--data.fanouts", json.dumps(args.fanouts), "--model.layers", str(len(args.fanouts) - 1),
            "--optim.epochs", str(args.epochs), "--optim.patience", str(args.epochs),
            "--eval.folds_to_run", "[0]", "--eval.baselines", "[]",
            "--scaling.num_workers", str(workers), "--scaling.threads_per_worker", str(threads),
            "--output_dir", str(out), "--run_name", layout,
            *args.overrides,
        ],
    )  # fmt: skip
    run_dir, summary = run(cfg)
    history = json.loads((run_dir / "history.json").read_text())["0"][1:]
    return {
        "workers": workers,
        "threads_per_worker": threads,
        "seeds_per_s": statistics.median(e["seeds_per_s"] for e in history),
        "loading_share": statistics.median(e["loading_share"] for e in history),
        "peak_rss_mb_per_worker": max(e["peak_mem_mb"] for e in history),
        "epochs_timed": len(history),
        "test_metric": float(summary["mean"].iloc[0]),
    }


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if "--full-batch" in argv:
        from bench_train_full import main_full_batch

        return main_full_batch(argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--store", help="graph store (default: generated full-size, else demo)")
    p.add_argument("--features", default="minilm")
    p.add_argument("--task", default="solubility")
    p.add_argument("--graph", default="ppi")
    p.add_argument("--fanouts", type=json.loads, default=[15, 10])
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=4, help="per layout; the first is warm-up")
    p.add_argument("--out", default=str(HERE / "out" / "train"))
    p.add_argument("--json", default=str(HERE / "results" / "train.json"))
    p.add_argument("overrides", nargs="*", help="more TrainConfig overrides, after --")
    args = p.parse_args(argv)
    setup_logging()
    store_path, origin = find_store(args.store)
    store = GraphStore.open(store_path)
    features = ensure_features(store, args.features, 384)
    out = Path(args.out) / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    load_before = os.getloadavg()[0]
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        layouts = {name: measure(store_path, features, name, args, out) for name in LAYOUTS}
    finally:
        ray.shutdown()
    result = {
        "benchmark": "train",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(),
                     "processor": platform.processor() or platform.node()},
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "ray": ray.__version__},
        "store": {"path": str(store_path), "origin": origin, "nodes": store.num_nodes,
                  "edges": store.csr(args.graph).nnz, "features": features},
        "config": {"task": args.task, "graph": args.graph, "fanouts": args.fanouts,
                   "batch_size": args.batch_size, "epochs": args.epochs,
                   "overrides": args.overrides},
        "layouts": layouts,
        "ratio_2x1_over_1x2": layouts["2x1"]["seeds_per_s"] / layouts["1x2"]["seeds_per_s"],
    }  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
