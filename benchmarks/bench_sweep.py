"""Sweep concurrency: the same ≥ 20 small trials run concurrently and one after another.

Both runs go through the real sweep code (``genen_scale.sweep.runner.run_sweep`` on Ray
Tune, a local Ray cluster of ``--cpus`` CPUs started here, one CPU and one torch thread
per trial); the only difference is ``resources.max_concurrent`` (0: as many as fit,
vs 1). Each run writes its own sweep directory, so every trial runs in both. Reported:
wall time of each, the speed-up sequential / concurrent against the ideal
``min(cpus, trials)``, and trials per hour. With ``--plain true`` the same trials also
run without Ray, in a pool of 1 and of ``--cpus`` processes: the speed-up the machine
gives this work at all, which bounds what any scheduler reaches. On a shared machine
only the ratios, taken in one run, compare.

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
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import ray
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_train import ensure_features  # noqa: E402  (sibling script, not a package)

from genen_core.config import from_mapping  # noqa: E402
from genen_core.logs import setup_logging  # noqa: E402
from genen_core.provenance import git_revision  # noqa: E402
from genen_core.store import GraphStore  # noqa: E402
from genen_scale.ray_env.local_ray import init_local_ray  # noqa: E402
from genen_scale.sweep.config import SweepConfig  # noqa: E402
from genen_scale.sweep.grid import TrialSpec, expand  # noqa: E402
from genen_scale.sweep.runner import run_sweep  # noqa: E402
from genen_scale.sweep.trial import run_trial  # noqa: E402

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


def sweep_config(store: Path, features: str, task: str, args, out: Path, max_concurrent: int):
    """2 graphs x 5 mask rates x 2 seeds GCN trials."""
    return from_mapping(
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


def sweep(store: Path, features: str, task: str, args, out: Path, max_concurrent: int) -> dict:
    """The sweep through Ray Tune; wall time and counts."""
    cfg = sweep_config(store, features, task, args, out, max_concurrent)
    start = time.perf_counter()
    outcome = run_sweep(cfg)
    wall = time.perf_counter() - start
    if outcome.failed or outcome.done != outcome.total:
        raise RuntimeError(f"{out}: {len(outcome.failed)} trials failed; see trials/*/error.txt")
    return timings(out, outcome.total, wall)


def _plain_trial(spec: dict, out: str) -> None:
    run_trial(TrialSpec.from_dict(spec), Path(out), 1, 0)


def plain(store: Path, features: str, task: str, args, out: Path, procs: int) -> dict:
    """The same trials without Ray: a pool of ``procs`` forkserver processes runs
    :func:`run_trial` on each. Its speed-up is what this machine's cores give ``procs``
    processes of this work at all (shared caches and memory bandwidth, a VM's steal),
    the ceiling for any scheduler's."""
    cfg = sweep_config(store, features, task, args, out, 0)
    specs = [s.to_dict() for s in expand(cfg)]
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["genen_scale.sweep.trial"])
    start = time.perf_counter()
    with ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        list(pool.map(_plain_trial, specs, [str(out)] * len(specs)))
    wall = time.perf_counter() - start
    return timings(out, len(specs), wall)


def timings(out: Path, trials: int, wall: float) -> dict:
    """Wall time, trials/hour, and the active span: from the first trial's start
    (``trial.json`` written) to the last one's end (``rows.parquet``). Wall minus active
    is the sweep's fixed start-up and close (Ray Tune, the trial actors' imports)."""
    d = out / "trials"
    start = min(p.stat().st_mtime for p in d.glob("*/trial.json"))
    end = max(p.stat().st_mtime for p in d.glob("*/rows.parquet"))
    return {"trials": trials, "wall_s": wall, "active_s": end - start,
            "trials_per_hour": trials / wall * 3600}  # fmt: skip


def speedups(runs: dict, ideal: int) -> dict:
    """Speed-ups sequential / concurrent: over wall time (the target's), over the active
    spans (no start-up), and, with the plain runs, the machine's own (active spans: the
    plain pools share one forkserver, so only the first pays its start-up)."""

    def ratio(a: str, b: str, key: str) -> float:
        return runs[a][key] / runs[b][key]

    out = {
        "speedup": ratio("sequential", "concurrent", "wall_s"),
        "active_speedup": ratio("sequential", "concurrent", "active_s"),
    }
    out["efficiency"] = out["speedup"] / ideal
    out["active_efficiency"] = out["active_speedup"] / ideal
    if "plain_sequential" in runs:
        machine = ratio("plain_sequential", "plain_concurrent", "active_s")
        out |= {"plain_speedup": machine, "plain_efficiency": machine / ideal,
                "active_efficiency_of_plain": out["active_speedup"] / machine}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--task", default="solubility")
    p.add_argument("--out", default=str(HERE / "out" / "sweep"))
    p.add_argument("--json", default=str(HERE / "results" / "sweep.json"))
    p.add_argument(
        "--log-to-driver",
        default="false",
        choices=["true", "false"],
        help="Ray forwards the trials' log lines to this process "
        "(genen-sweep's trial_logs; off there by default)",
    )
    p.add_argument("--plain", default="true", choices=["true", "false"],
                   help="also run the trials without Ray, one and --cpus processes at "
                   "once: the machine's own speed-up for this work")  # fmt: skip
    args = p.parse_args(argv)
    setup_logging()
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
    if args.plain == "true":
        runs["plain_sequential"] = plain(store_path, features, task, args, out / "plain-1", 1)
        runs["plain_concurrent"] = plain(
            store_path, features, task, args, out / "plain-n", args.cpus
        )
    trials = runs["concurrent"]["trials"]
    ideal = min(args.cpus, trials)
    result = {
        "benchmark": "sweep",
        "command": f"bench_sweep.py --cpus {args.cpus} --epochs {args.epochs} "
        f"--log-to-driver {args.log_to_driver} --plain {args.plain}",
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
        "ideal_speedup": ideal,
        **speedups(runs, ideal),
    }  # fmt: skip
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
