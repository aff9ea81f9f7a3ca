"""Sweep concurrency: the same ≥ 20 small trials run concurrently and one after another.

Both runs go through the real sweep code (``genen_scale.sweep.runner.run_sweep`` on Ray
Tune, a local Ray cluster of ``--cpus`` CPUs started here, one CPU and one torch thread
per trial); the only difference is ``resources.max_concurrent`` (0: as many as fit,
vs 1). Each run writes its own sweep directory, so every trial runs in both. Reported:
wall time of each, the speed-up sequential / concurrent against the ideal
``min(cpus, trials)``, and trials per hour. On a shared machine only the ratio, taken in
one run, compares.

Data: a generated store (``ingest.generate`` preset ``demo``, ~2,000 genes, built once
into ``benchmarks/out/sweep-store``) with a random 384-d float16 feature matrix (values
do not change the work done).

    python benchmarks/bench_sweep.py [--cpus 2] [--epochs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import ray
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_train import ensure_features  # noqa: E402  (sibling script, not a package)

from genen_core.config import from_mapping  # noqa: E402
from genen_core.provenance import git_revision  # noqa: E402
from genen_core.store import GraphStore  # noqa: E402
from genen_scale.local_ray import init_local_ray  # noqa: E402
from genen_scale.sweep.config import SweepConfig  # noqa: E402
from genen_scale.sweep.runner import run_sweep  # noqa: E402

SOURCE = HERE / "out" / "sweep-source"
STORE = HERE / "out" / "sweep-store"
log = logging.getLogger("bench_sweep")


def build_store() -> Path:
    """The generated demo-sized store, built on first use."""
    if (STORE / "manifest.json").is_file():
        return STORE
    from ingest.build import build_store as ingest
    from ingest.config import IngestConfig
    from ingest.generate import PRESETS, GenerateConfig, file_names, generate
    from ingest.sources import SourcesConfig

    gen = GenerateConfig(**PRESETS["demo"])
    names = file_names(gen.species)
    if not (SOURCE / names["labels"]).exists():
        generate(SOURCE, gen)
    ingest(
        IngestConfig(
            out=str(STORE),
            species=gen.species,
            summaries=str(SOURCE / names["summaries"]),
            labels=str(SOURCE / names["labels"]),
            sources=SourcesConfig(source_dir=str(SOURCE)),
        )
    )
    return STORE


def sweep(store: Path, features: str, task: str, args, out: Path, max_concurrent: int) -> dict:
    """One sweep of 2 graphs x 5 mask rates x 2 seeds GCN trials; wall time and counts."""
    cfg = from_mapping(
        SweepConfig,
        {
            "output_dir": str(out),
            "train": {
                "data": {"store": str(store), "features": features, "fanouts": [10, 5],
                         "batch_size": 256},
                "model": {"layers": 1, "hidden": 32},
                "optim": {"epochs": args.epochs, "patience": args.epochs, "lr": 0.01},
                "eval": {"folds": 3, "folds_to_run": [0, 1]},
            },
            "resources": {"cpus_per_trial": 1, "threads_per_trial": 1,
                          "max_concurrent": max_concurrent, "max_failures": 0},
            "grid": [{"tasks": [task], "graphs": ["ppi", "go_ppi"], "models": ["gcn"],
                      "mask_rates": [0.0, 0.25, 0.5, 0.75, 0.9], "seeds": [0, 1]}],
        },
    )  # fmt: skip
    start = time.perf_counter()
    outcome = run_sweep(cfg)
    wall = time.perf_counter() - start
    if outcome.failed or outcome.done != outcome.total:
        raise RuntimeError(f"{out}: {len(outcome.failed)} trials failed; see trials/*/error.txt")
    return {"trials": outcome.total, "wall_s": wall, "trials_per_hour": outcome.total / wall * 3600}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--task", default="solubility")
    p.add_argument("--out", default=str(HERE / "out" / "sweep"))
    p.add_argument("--json", default=str(HERE / "results" / "sweep.json"))
    p.add_argument("--log-to-driver", default="false", choices=["true", "false"],
                   help="Ray forwards the trials' log lines to this process "
                   "(genen-sweep's trial_logs; off there by default)")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    store_path = build_store()
    store = GraphStore.open(store_path)
    features = ensure_features(store, "minilm", 384)
    task = args.task
    out = Path(args.out) / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    load_before = os.getloadavg()
    init_local_ray(
        num_cpus=args.cpus, include_dashboard=False, log_to_driver=args.log_to_driver == "true"
    )
    try:
        runs = {
            "sequential": sweep(store_path, features, task, args, out / "sequential", 1),
            "concurrent": sweep(store_path, features, task, args, out / "concurrent", 0),
        }
    finally:
        ray.shutdown()
    trials = runs["concurrent"]["trials"]
    ideal = min(args.cpus, trials)
    speedup = runs["sequential"]["wall_s"] / runs["concurrent"]["wall_s"]
    result = {
        "benchmark": "sweep",
        "command": f"bench_sweep.py --cpus {args.cpus} --epochs {args.epochs} "
        f"--log-to-driver {args.log_to_driver}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_revision(),
        "hardware": {"cpus": os.cpu_count(), "machine": platform.machine(),
                     "processor": platform.processor() or platform.node()},
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "ray": ray.__version__},
        "store": {"path": str(store_path), "nodes": store.num_nodes, "genes": store.num_genes,
                  "features": features, "task": task},
        "config": {"ray_cpus": args.cpus, "epochs": args.epochs, "folds_per_trial": 2,
                   "log_to_driver": args.log_to_driver == "true",
                   "cpus_per_trial": 1, "trials": trials,
                   "grid": "gcn x {ppi, go_ppi} x mask {0, .25, .5, .75, .9} x seeds {0, 1}"},
        "runs": runs,
        "speedup": speedup,
        "ideal_speedup": ideal,
        "efficiency": speedup / ideal,
    }  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
