"""Throughput of each stage at several worker (and GPU) counts: what ``python -m benchmarks`` runs.

Each stage measures through the code of its own benchmark script (``bench_encode.main``,
``bench_sampler.time_backend``, the training entry ``genen_scale.training.run`` as in
``bench_train``, ``bench_sweep.main``) with settings kept small, one fresh process per
measurement so that thread pools, Ray and CUDA never leak from one point into the next.

What a *worker* is, per stage:

* ``ingest``: DuckDB threads of ``links_to_csr`` (figure: stored edges/s);
* ``encode``: Ray encoder actors of one thread each (texts/s);
* ``sample``: sampler processes of one torch thread each, sampling at once on one shared
  graph, like the loaders of DDP ranks (sampled edges/s, summed over the processes);
* ``train``: Ray Train DDP workers of one thread each (seed nodes/s and epoch time,
  sampled and full-batch), at one global batch of 512 seeds (256 per worker on 2);
* ``sweep``: concurrent Ray Tune trials of one CPU each (trials/hour).

Efficiency: ``throughput(w) / (w * throughput(1))`` against the ideal line. Where the
same total threads can go to one worker (encode, sample, train), each ``w > 1`` also runs
``1 worker x w threads`` and reports ``throughput(w x 1) / throughput(1 x w)``: on a
machine with fewer cores than ``w`` both are oversubscribed alike, so that ratio still
says what splitting into workers costs, when the linear one mostly shows the cores
running out. With ``--gpus``, each GPU count runs one worker per GPU (encode, sample,
train); without CUDA those points are recorded as not measured.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from argparse import Namespace
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path

from genen_core.logs import setup_logging

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the bench_* scripts are siblings, not a package
OUT = HERE / "out" / "scaling"
SOURCES = OUT / "sources"
log = logging.getLogger(__name__)


@dataclass
class Point:
    """One figure at one layout: every repeat's value and their spread."""

    workers: int
    threads_per_worker: int
    gpus: int
    values: list[float]
    load_average: list[float] = field(default_factory=list)
    """1-minute load average before and after the measurement (the machine is shared)."""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def record(self) -> dict:
        return {
            **asdict(self),
            "min": min(self.values),
            "median": self.median,
            "max": max(self.values),
        }


@dataclass
class Figure:
    """A measured quantity of a stage across layouts."""

    name: str
    unit: str
    throughput: bool = True
    """Higher is better and scales with workers (plotted, efficiencies); False: a time."""
    points: list[Point] = field(default_factory=list)


class Stage:
    """A stage's measurement at one layout; runs in a fresh process (see :func:`run_stage`)."""

    name = ""
    worker = ""
    same_threads = True
    """Whether ``1 worker x w threads`` is a meaningful baseline for ``w`` workers."""
    gpu = True

    def available(self) -> str | None:
        """None if the stage can run here, else why not."""
        return None

    def prepare(self) -> dict:
        """Data shared by every measurement (paths), made once in the parent."""
        return {}

    def measure(self, params: dict, workers: int, threads: int, gpus: int, repeat: int):
        """``{figure: [value per repeat]}`` for this layout."""
        raise NotImplementedError


def ensure_sources() -> Path:
    """A generated STRING-shaped data set: 19.6k proteins, 2M link lines (about a minute)."""
    if not (SOURCES / "generated.json").is_file():
        from ingest.generate import main as generate

        generate(["--out", str(SOURCES), "--preset", "full", "--links", "2000000"])
    return SOURCES


class Ingest(Stage):
    name, worker, same_threads, gpu = "ingest", "DuckDB threads", False, False
    figures = (Figure("edges/s", "stored edges/s"),)

    def prepare(self) -> dict:
        src = ensure_sources()
        return {
            "links": str(src / "9606.protein.links.v12.0.txt.gz"),
            "info": str(src / "9606.protein.info.v12.0.txt.gz"),
        }

    def measure(self, params, workers, threads, gpus, repeat):
        from ingest.string_db import links_to_csr

        links_to_csr(params["links"], params["info"], threads=workers)  # warm-up (page cache)
        rates = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            csr, _, _ = links_to_csr(params["links"], params["info"], threads=workers)
            rates.append(csr.nnz / (time.perf_counter() - t0))
        return {"edges/s": rates}


class Encode(Stage):
    name, worker = "encode", "Ray encoder actors"
    figures = (Figure("texts/s", "texts/s"),)
    texts = 256

    def measure(self, params, workers, threads, gpus, repeat):
        import bench_encode

        with tempfile.TemporaryDirectory() as tmp:
            args = ["--limit", str(self.texts), "--rounds", str(repeat), "--modes", "ray"]
            if gpus:
                args += ["--gpus", str(gpus), "--actors", str(gpus)]
            else:  # bench_encode gives each actor cpus // actors threads
                args += ["--actors", str(workers), "--cpus", str(workers * threads)]
            r = bench_encode.main([*args, "--out", f"{tmp}/encode.json"])
        (mode,) = r["results"].values()
        return {"texts/s": mode["rounds_texts_per_s"]}


class Sample(Stage):
    name, worker = "sample", "sampler processes"
    figures = (Figure("sampled edges/s", "sampled edges/s"),)
    settings = {"fanouts": [15, 10], "batch_size": 512, "seed": 0, "warmup": 5, "batches": 30}

    def measure(self, params, workers, threads, gpus, repeat):
        count = gpus or workers
        # Spawned, not forked: a forked child of a process that already ran torch ops can
        # hang in its thread pool. Each builds the same seeded graph, then they time at once.
        ctx = mp.get_context("spawn")
        barrier, results = ctx.Barrier(count), ctx.Queue()
        procs = [
            ctx.Process(target=_sample_worker, args=(i, gpus, threads, repeat, barrier, results))
            for i in range(count)
        ]
        for p in procs:
            p.start()
        got = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join()
        # Each repeat's throughput, summed over the processes that sampled at once.
        return {"sampled edges/s": [sum(r[k] for r in got) for k in range(repeat)]}


def _sample_worker(rank, gpus, threads, repeat, barrier, results) -> None:
    import bench_sampler
    import torch

    torch.set_num_threads(threads)
    csr = bench_sampler.synthetic_csr(19_600, 2_000_000, seed=0)
    device = torch.device(f"cuda:{rank}" if gpus else "cpu")
    args = Namespace(**Sample.settings)
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        # 384-d float16 features, memory-mapped, gathered per batch as in bench_sampler.
        x = bench_sampler.memmap_features(csr.num_nodes, 384, Path(tmp), 0)
        for _ in range(repeat):
            barrier.wait()  # every process times the same interval
            r = bench_sampler.time_backend(csr, x, "native", device, args)
            rates.append(r["sampler_edges_per_s"])
    results.put(rates)


# The largest task (18.9k genes): solubility's 950 training seeds were two batches an
# epoch, so its seeds/s measured an epoch's fixed costs more than training.
TRAIN_TASK = "conservation"
# One global batch for every worker count (``data.batch_size`` is per worker), so that
# w workers take the optimiser steps one worker takes: linear speed-up is then the fair
# target, not a bigger batch's.
GLOBAL_BATCH = 512


class Train(Stage):
    name, worker = "train", "Ray Train DDP workers"
    figures = (
        Figure("sampled seed nodes/s", "seed nodes/s"),
        Figure("full-batch seed nodes/s", "seed nodes/s"),
        Figure("sampled epoch s", "s", throughput=False),
        Figure("full-batch epoch s", "s", throughput=False),
    )

    def prepare(self) -> dict:
        from genen_core.store import GraphStore

        store = OUT / "store"
        if not (store / "manifest.json").is_file():
            from ingest.cli import main as ingest

            src = ensure_sources()
            code = ingest(
                ["--sources.source_dir", str(src), "--summaries",
                 str(src / "gene_summaries.tsv.gz"), "--labels", str(src / "labels"),
                 "--out", str(store)]
            )  # fmt: skip
            if code:
                raise RuntimeError(f"genen-ingest of {src} failed with exit code {code}")
        import bench_train

        # Random float16 features: values do not change the work (as bench_train does).
        return {
            "store": str(store),
            "features": bench_train.ensure_features(GraphStore.open(store), "minilm", 384),
        }

    def measure(self, params, workers, threads, gpus, repeat):
        import ray

        from genen_core.config import load_config
        from genen_scale.training import TrainConfig, run

        if os.environ.get("RAY_ADDRESS"):  # a running cluster (--ray-address): its nodes
            ray.init(log_to_driver=False)
        else:
            ray.init(
                num_cpus=workers * threads,
                num_gpus=gpus,
                include_dashboard=False,
                log_to_driver=False,
            )
        out: dict[str, list[float]] = {}
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for mode, full in (("sampled", "false"), ("full-batch", "true")):
                    cfg = load_config(
                        TrainConfig,
                        None,
                        ["--data.store", params["store"], "--data.features", params["features"],
                         "--data.task", TRAIN_TASK, "--data.graph", "ppi",
                         "--data.fanouts", "[15, 10]",
                         "--data.batch_size", str(GLOBAL_BATCH // (gpus or workers)),
                         "--data.full_batch", full, "--model.layers", "1",
                         "--optim.epochs", str(repeat + 1), "--optim.patience", str(repeat + 1),
                         "--eval.folds_to_run", "[0]", "--eval.baselines", "[]",
                         "--scaling.num_workers", str(gpus or workers),
                         "--scaling.threads_per_worker", str(threads),
                         "--scaling.use_gpu", "true" if gpus else "false",
                         "--output_dir", tmp, "--run_name", mode],
                    )  # fmt: skip
                    run_dir, _ = run(cfg)
                    epochs = json.loads((run_dir / "history.json").read_text())["0"][1:]
                    out[f"{mode} seed nodes/s"] = [e["seeds_per_s"] for e in epochs]
                    out[f"{mode} epoch s"] = [e["epoch_s"] for e in epochs]
        finally:
            ray.shutdown()
        return out


class Sweep(Stage):
    name, worker, same_threads, gpu = "sweep", "concurrent trials", False, False
    figures = (Figure("trials/hour", "trials/hour"),)

    def available(self) -> str | None:
        if find_spec("genen_scale.sweep") is None or not (HERE / "bench_sweep.py").is_file():
            return "genen_scale.sweep or benchmarks/bench_sweep.py is not in this checkout"
        return None

    def measure(self, params, workers, threads, gpus, repeat):
        import bench_sweep

        with tempfile.TemporaryDirectory() as tmp:
            r = bench_sweep.main(["--cpus", str(workers), "--epochs", "2", "--out", tmp,
                                  "--json", f"{tmp}/sweep.json"])  # fmt: skip
        return {"trials/hour": [r["runs"]["concurrent"]["trials_per_hour"]]}


STAGES = {s.name: s for s in (Ingest(), Encode(), Sample(), Train(), Sweep())}


def _in_child(stage: Stage, params, workers, threads, gpus, repeat):
    setup_logging(logging.WARNING)
    before = os.getloadavg()[0]
    values = stage.measure(params, workers, threads, gpus, repeat)
    return values, [before, os.getloadavg()[0]]


def run_stage(stage: Stage, workers: list[int], gpus: list[int], repeat: int) -> dict:
    """Every layout of ``stage``; its record for the JSON (figures, efficiencies, notes)."""
    why = stage.available()
    if why:
        log.warning("%s: skipped: %s", stage.name, why)
        return {"skipped": why}
    params = stage.prepare()
    layouts = [(w, 1, 0) for w in workers]
    # On a running cluster (RAY_ADDRESS) a node may hold fewer CPUs than 1 x w asks for.
    if stage.same_threads and not os.environ.get("RAY_ADDRESS"):
        layouts += [(1, w, 0) for w in workers if w > 1]
    notes = []
    if stage.gpu and gpus:
        import torch

        if torch.cuda.device_count() >= max(gpus):
            layouts += [(g, 1, g) for g in gpus]
        else:
            notes.append(
                f"GPU counts {gpus} not measured: this machine has no (or too few) CUDA devices"
            )
    figures = {f.name: Figure(f.name, f.unit, f.throughput) for f in stage.figures}
    for w, t, g in layouts:
        log.info("%s: %d worker(s) x %d thread(s), %d GPU(s)", stage.name, w, t, g)
        # A fresh process per point: thread pools, Ray and CUDA start clean each time.
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
            values, load = ex.submit(_in_child, stage, params, w, t, g, repeat).result()
        for name, v in values.items():
            figures[name].points.append(Point(w, t, g, v, load))
    cores = os.cpu_count() or 1
    if max(workers) > cores:
        notes.append(
            f"{max(workers)} workers oversubscribe the {cores} cores: compare the same-threads "
            "efficiency (w workers x 1 thread against 1 worker x w threads), not the linear one"
        )
    return {
        "worker": stage.worker,
        "figures": {n: _figure_record(f) for n, f in figures.items()},
        "notes": notes,
    }


def _figure_record(f: Figure) -> dict:
    rec = {"unit": f.unit, "throughput": f.throughput, "points": [p.record() for p in f.points]}
    if not f.throughput:
        return rec
    scaled = {p.workers: p.median for p in f.points if p.threads_per_worker == 1 and not p.gpus}
    fat = {p.threads_per_worker: p.median for p in f.points if p.workers == 1 and not p.gpus}
    gpu = {p.gpus: p.median for p in f.points if p.gpus}
    if 1 in scaled:
        rec["efficiency"] = {w: x / (w * scaled[1]) for w, x in scaled.items()}
    rec["same_threads_efficiency"] = {w: scaled[w] / fat[w] for w in scaled if w > 1 and w in fat}
    if 1 in gpu:
        rec["gpu_efficiency"] = {g: x / (g * gpu[1]) for g, x in gpu.items()}
    return rec
