"""Where a second DDP worker loses time (issue 24): per layout, the training epochs'
seeds/s and the CPU seconds of the Train workers and of Ray's own processes; and, in one
process without Ray, training steps at a per-worker batch of B and B/2.

    python benchmarks/profile_ddp.py ddp [--task conservation] [--batch 512] [--layouts 1x1,2x1]
    python benchmarks/profile_ddp.py steps [--batch 512] [--hidden 256]

``ddp`` runs ``genen_scale.training.run`` on a local Ray (sampled, PPI, fanouts [15, 10],
one fold, ``--epochs``) with one global batch: ``--batch`` seeds split over the workers
(``--per-worker`` keeps ``--batch`` per worker instead). ``steps`` times forward,
backward and optimiser steps over ``GraphBatches`` of the same store in this process, one
thread, at ``--batch`` and half of it: the per-seed cost a halved batch adds before any
DDP. Both print; neither writes results (``python -m benchmarks --suite train`` does).
The store is the train suite's (``benchmarks/scaling.py``; built on first use).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import ray
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling scripts

from genen_core.config import load_config
from genen_core.store import GraphStore
from genen_scale.models.gnn import ModelConfig, build_model
from genen_scale.training import TrainConfig, run
from genen_scale.training.batches import GraphBatches


def _cpu_seconds(root: psutil.Process, seen: dict[int, tuple[str, float]]) -> None:
    """Record in ``seen`` each process of this tree (pid -> kind, CPU seconds so far):
    Train workers, or Ray's own processes. Polled, as processes end before the run does."""
    for p in root.children(recursive=True):
        try:
            cmd, t = " ".join(p.cmdline()), p.cpu_times()
        except psutil.Error:
            continue
        seen[p.pid] = ("worker" if "RayTrainWorker" in cmd else "ray", t.user + t.system)


def _poll(root: psutil.Process, seen: dict, done: threading.Event) -> None:
    while not done.wait(0.5):
        _cpu_seconds(root, seen)


def ddp(args, store: str, features: str) -> None:
    for layout in args.layouts.split(","):
        workers, threads = map(int, layout.split("x"))
        batch = args.batch if args.per_worker else args.batch // workers
        ray.init(num_cpus=workers * threads, include_dashboard=False, log_to_driver=False)
        seen, done = {}, threading.Event()
        poller = threading.Thread(target=_poll, args=(psutil.Process(), seen, done), daemon=True)
        poller.start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                cfg = load_config(TrainConfig, None, [
                    "--data.store", store, "--data.features", features,
                    "--data.task", args.task, "--data.graph", "ppi",
                    "--data.fanouts", "[15, 10]", "--data.batch_size", str(batch),
                    "--data.full_batch", "false", "--model.layers", "1",
                    "--optim.epochs", str(args.epochs), "--optim.patience", str(args.epochs),
                    "--eval.folds_to_run", "[0]", "--eval.baselines", "[]",
                    "--scaling.num_workers", str(workers),
                    "--scaling.threads_per_worker", str(threads),
                    "--output_dir", tmp, "--run_name", "profile",
                ])  # fmt: skip
                run_dir, _ = run(cfg)
                history = json.loads((run_dir / "history.json").read_text())["0"]
        finally:
            done.set()
            poller.join()
            ray.shutdown()
        rates = [round(e["seeds_per_s"]) for e in history[1:]]  # epoch 0: warm-up
        cpu = {
            k: round(sum(s for kind, s in seen.values() if kind == k), 1) for k in ("worker", "ray")
        }
        print(f"{layout} ({batch} seeds per worker): seeds/s per epoch {rates}, "
              f"loading share {history[-1]['loading_share']:.2f}, CPU s over the run {cpu}")  # fmt: skip


def steps(args, store: str, features: str) -> None:
    torch.set_num_threads(1)
    s = GraphStore.open(store)
    x = torch.from_numpy(s.features(features))
    cfg = ModelConfig(arch="gcn", layers=1, hidden=args.hidden)
    genes = torch.randperm(s.num_genes, generator=torch.Generator().manual_seed(0))[:6144]
    for batch in (args.batch, args.batch // 2):
        torch.manual_seed(0)
        model = build_model(cfg, x.shape[1], 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        batches = GraphBatches(s.csr("ppi"), x, [15, 10], batch, False, torch.device("cpu"), cfg)
        start, seeds = time.perf_counter(), 0
        for epoch in range(args.epochs):
            for b in batches(genes, seed=epoch):
                loss = model(**b.inputs())[b.seed_pos].square().mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                seeds += len(b.seeds)
        print(f"batch {batch}: {seeds / (time.perf_counter() - start):,.0f} seeds/s (1 thread)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["ddp", "steps"])
    p.add_argument("--task", default="conservation")
    p.add_argument("--batch", type=int, default=512, help="global batch (ddp), or B (steps)")
    p.add_argument("--per-worker", action="store_true", help="ddp: --batch per worker")
    p.add_argument("--layouts", default="1x1,2x1", help="ddp: workers x threads, e.g. 1x1,2x1")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--hidden", type=int, default=256, help="steps: the GCN's width")
    args = p.parse_args(argv)
    import scaling

    params = scaling.Train().prepare()
    (ddp if args.mode == "ddp" else steps)(args, params["store"], params["features"])


if __name__ == "__main__":
    main()
