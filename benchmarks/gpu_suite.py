"""``python -m benchmarks --suite gpu [--quick]``: what one GPU does, measured in one command.

Meant for the few minutes a lent GPU machine allows (within 8 minutes on one GPU, after
``pip install -e .`` of a fresh checkout). Every part measures through the code of its own
benchmark script, with no timing code of its own here:

* ``encode``: texts/s of the encoder in float16 (``bench_encode`` modes ``direct`` and
  ``fp32``) on 1,000 real texts (NCBI Gene summaries and STRING annotations from
  ``../shared/data``) and the cosine of every float16 row to its float32 row; MiniLM (what
  ``genen-encode`` runs) and a random BERT-base at 512 tokens (the model the target was
  set for);
* ``sample``: loader edges/s (sampling, feature gather and edge weights on the device) of
  ``bench_sampler`` on a generated Chung-Lu graph the size of STRING human (19.6k nodes,
  13.7M edges);
* ``full_batch``: seconds per full-batch training step of the ``gcn`` and ``gat`` presets,
  ours (whole graph, and the receptive field training runs) against PyG ``edge_index``
  message passing (``bench_train_full.epoch_seconds``), on the real GO+PPI store
  (``/work/stores/human``, or ``--store``) if present, else a generated one;
* ``stacked``: 5 folds trained at once against one by one, same epochs
  (``bench_train_full.run_wall``, whole in-process runs);
* ``whole_run``: one whole 5-fold run of preset ``gcn`` with early stopping.

Issue 24's targets on one GPU are recorded beside the figures they judge, with ``met``
computed from the measurement; ``met`` is null where the run cannot judge them (``--quick``,
or a figure not measured). ``--quick`` runs every part at tiny sizes on the CPU (a store
of the generator's ``tiny`` preset): a smoke run for the test suite, whose figures say
nothing about speed. JSON: ``benchmarks/results/gpu.json`` (``--quick``:
``gpu_quick.json``); the README table is rendered from ``gpu.json`` by ``report.py``.

    python -m benchmarks --suite gpu                 # one GPU
    python -m benchmarks --suite gpu --quick         # CPU smoke run, under a minute
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the bench_* scripts are siblings, not a package

from gpu_report import markdown  # noqa: E402

RESULTS = HERE / "results"
log = logging.getLogger("gpu_suite")


@dataclass(frozen=True)
class Sizes:
    """How much each part does: the full suite on a GPU, or the quick smoke run."""

    texts: int = 1000
    encode_models: tuple[str, ...] = ("default", "bert-base-random")
    max_length: int = 512
    sample_nodes: int = 19_600
    sample_edges: int = 13_700_000
    sample_batch: int = 512
    sample_batches: int = 100
    sample_warmup: int = 10
    hidden: int = 256
    steps: int = 5
    """Timed full-batch steps (after one warm-up)."""
    stack_epochs: int = 10
    whole_epochs: int | None = None
    """Epochs of the whole run (None: the config's, with early stopping)."""


QUICK = Sizes(
    texts=16, encode_models=("default",), max_length=64, sample_nodes=300, sample_edges=6_000,
    sample_batch=64, sample_batches=3, sample_warmup=1, hidden=16, steps=1, stack_epochs=2,
    whole_epochs=2,
)  # fmt: skip


@dataclass
class Target:
    """A target of issue 24 and whether the measurement meets it."""

    name: str
    bound: float
    value: float | None
    at_most: bool = False
    """The value must not exceed ``bound`` (a time); else it must reach it."""
    judged: bool = True
    """False where this run cannot judge it (``--quick``, CPU): ``met`` stays None."""
    met: bool | None = field(init=False)

    def __post_init__(self) -> None:
        if not self.judged or self.value is None:
            self.met = None
        else:
            self.met = self.value <= self.bound if self.at_most else self.value >= self.bound


@dataclass
class Part:
    """One part's record: where it ran, what it measured, and its targets."""

    name: str
    device: str
    seconds: float = 0.0
    record: dict = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None


@dataclass
class Context:
    """What every part is handed."""

    sizes: Sizes
    device: str
    """``cuda`` or ``cpu`` (``--quick``)."""
    judged: bool
    store: Path
    store_origin: str
    features: str
    task: str
    data: Path
    work: Path
    threads: int


def device_name(device: str) -> str:
    import torch
    from bench_train_full import cpu_model

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu: {cpu_model()}"


def _quietly(fn: Callable, *args):
    """Call a bench script's ``main`` without its JSON dump on stdout (the suite writes its own)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def encode_part(ctx: Context, args: argparse.Namespace) -> Part:
    import bench_encode

    part = Part("encode", device_name(ctx.device))
    if not (ctx.data / "text").is_dir():
        part.skipped = f"no real texts: {ctx.data / 'text'} is missing (give --data)"
        return part
    for i, model in enumerate(ctx.sizes.encode_models):
        argv = [
            "--data", str(ctx.data), "--limit", str(ctx.sizes.texts), "--modes", "direct,fp32",
            "--rounds", "1", "--max-length", str(ctx.sizes.max_length),
            "--out", str(ctx.work / f"encode-{i}.json"),
        ]  # fmt: skip
        argv += ["--model", model] if model != "default" else []
        argv += ["--gpus", "1"] if ctx.device == "cuda" else ["--cpus", str(ctx.threads)]
        r = _quietly(bench_encode.main, argv)
        cmp = r["direct_vs_fp32"]
        part.record[r["config"]["model_resolved"]] = {
            "dtype": cmp["direct_dtype"],
            "texts_per_s": r["results"]["direct"]["texts_per_s"],
            "fp32_texts_per_s": r["results"]["fp32"]["texts_per_s"],
            "speedup_over_fp32": cmp["texts_per_s_ratio"],
            "cosine_to_fp32": cmp["cosine"],
            "texts": r["config"]["texts"],
            "mean_tokens": r["config"]["mean_tokens"],
            "max_length": ctx.sizes.max_length,
        }
        if model == "bert-base-random" or len(ctx.sizes.encode_models) == 1:
            name = f"encode {cmp['direct_dtype']} texts/s ({r['config']['model_resolved']})"
            value = r["results"]["direct"]["texts_per_s"]
            part.targets.append(Target(f"{name} >= 3,000", 3000, value, judged=ctx.judged))
    return part


def sample_part(ctx: Context, args: argparse.Namespace) -> Part:
    import bench_sampler

    s = ctx.sizes
    part = Part("sample", device_name(ctx.device))
    argv = [
        "--synthetic", "--nodes", str(s.sample_nodes), "--edges", str(s.sample_edges),
        "--device", ctx.device, "--batch-size", str(s.sample_batch),
        "--batches", str(s.sample_batches), "--warmup", str(s.sample_warmup),
        "--threads", str(ctx.threads), "--out", str(ctx.work / "sampler.json"),
    ]  # fmt: skip
    r = _quietly(bench_sampler.main, argv)
    native = r["results"]["native"]
    part.record = {"graph": r["graph"], "config": r["config"], "backends": r["results"]}
    value = native["loader_edges_per_s"]
    part.targets.append(Target("loader edges/s >= 30M", 30e6, value, judged=ctx.judged))
    return part


def full_batch_part(ctx: Context, args: argparse.Namespace) -> Part:
    import bench_train_full
    import torch

    from genen_core.store import GraphStore

    part = Part("full_batch", device_name(ctx.device))
    edges = GraphStore.open(ctx.store).csr("go_ppi").nnz
    steps = part.record.setdefault("step_s", {})
    for arch in ("gcn", "gat"):
        for impl in ("ours", "ours-field", "pyg"):
            # The edge_index path keeps ~3 [E, hidden] float tensors per layer.
            need_gb = 3 * edges * ctx.sizes.hidden * 4 / 2**30
            key = f"{arch} {impl}"
            if impl == "pyg" and need_gb > args.pyg_max_gb:
                steps[key] = {
                    "skipped": f"needs ~{need_gb:.0f} GB (> --pyg-max-gb {args.pyg_max_gb:g})"
                }
                continue
            log.info("full batch: %s", key)
            # In process (CUDA starts once); on CUDA the record's peak is the device's.
            m = bench_train_full.epoch_seconds(
                str(ctx.store), "go_ppi", ctx.task, ctx.sizes.hidden, impl, ctx.sizes.steps,
                ctx.threads, ctx.features, arch, ctx.device,
            )  # fmt: skip
            m.pop("peak_rss_mb")  # the process's running peak, not this model's
            steps[key] = m
            if ctx.device == "cuda":
                torch.cuda.empty_cache()
        pyg = steps.get(f"{arch} pyg", {})
        for impl in ("ours", "ours-field"):
            if "epoch_s" in pyg:
                ratio = pyg["epoch_s"] / steps[f"{arch} {impl}"]["epoch_s"]
                part.record.setdefault("speedup_over_pyg", {})[f"{arch} {impl}"] = ratio
    part.record.update(store=str(ctx.store), origin=ctx.store_origin, edges=edges)
    return part


def _train_args(ctx: Context, run_name: str, *extra: str) -> list[str]:
    # The presets' width unless the sizes say otherwise (--quick).
    width = ["--model.hidden", str(ctx.sizes.hidden)] if ctx.sizes.hidden != 256 else []
    return [
        "--scaling.num_workers", "0", "--scaling.threads_per_worker", str(ctx.threads),
        "--scaling.use_gpu", "true" if ctx.device == "cuda" else "false",
        "--data.store", str(ctx.store), "--data.features", ctx.features,
        "--data.graph", "go_ppi", "--data.task", ctx.task, "--data.full_batch", "true",
        "--eval.baselines", "[]", "--output_dir", str(ctx.work / "runs"), "--run_name", run_name,
        *width, *extra,
    ]  # fmt: skip


def stacked_part(ctx: Context, args: argparse.Namespace) -> Part:
    import bench_train_full

    part = Part("stacked", device_name(ctx.device))
    e = str(ctx.sizes.stack_epochs)
    walls, infos = {}, {}
    for stack in ("false", "true"):
        overrides = _train_args(ctx, f"stack-{stack}", "--optim.epochs", e,
                                "--optim.patience", e, "--scaling.stack_folds", stack)  # fmt: skip
        walls[stack], infos[stack] = bench_train_full.run_wall(overrides)
    ratio = walls["false"] / walls["true"]
    part.record = {
        "folds": 5, "epochs": ctx.sizes.stack_epochs, "one_by_one_s": walls["false"],
        "stacked_s": walls["true"], "ratio": ratio, "stacked": infos["true"]["stacked"],
        "step_s_per_fold": {k: v["step_s_per_fold"] for k, v in infos.items()},
        "test_metric": {k: v["summary"][0]["mean"] for k, v in infos.items()},
    }  # fmt: skip
    part.targets.append(Target("stacked folds >= 2x folds one by one", 2.0, ratio,
                               judged=ctx.judged))  # fmt: skip
    return part


def whole_run_part(ctx: Context, args: argparse.Namespace) -> Part:
    import bench_train_full

    part = Part("whole_run", device_name(ctx.device))
    e = ctx.sizes.whole_epochs
    wall, info = bench_train_full.run_wall(
        _train_args(ctx, "whole", *(["--optim.epochs", str(e)] if e else []))
    )
    part.record = {"wall_s": wall, "config": "preset gcn, 5 folds, folds one by one, "
                   + (f"{e} epochs" if e else "early stopping"), **info}  # fmt: skip
    part.targets.append(Target("whole 5-fold GCN run (a grid cell) <= 5 min", 300, wall,
                               at_most=True, judged=ctx.judged))  # fmt: skip
    return part


PARTS: dict[str, Callable[[Context, argparse.Namespace], Part]] = {
    "encode": encode_part,
    "sample": sample_part,
    "full_batch": full_batch_part,
    "stacked": stacked_part,
    "whole_run": whole_run_part,
}


def pick_store(quick: bool, given: Path | None, work: Path) -> tuple[Path, str, str]:
    """The store of the training parts, where it came from, and its feature name (random
    float16 ``bench`` features written into it where it has no ``minilm``)."""
    import bench_train
    import bench_train_full

    from genen_core.store import GraphStore

    if quick:
        from genen_scale.demo import demo_store

        path, origin = demo_store(work / "tiny", preset="tiny", encode=False), "generated tiny"
    elif given:
        path, origin = given, "given"
    elif (bench_train_full.REAL_STORE / "manifest.json").is_file():
        path, origin = bench_train_full.REAL_STORE, "real GO+PPI"
    else:
        import scaling

        path, origin = Path(scaling.Train().prepare()["store"]), "generated (2M STRING links)"
    return path, origin, bench_train.ensure_features(GraphStore.open(path), "minilm", 384)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks --suite gpu",
                                description=__doc__.split("\n")[0])  # fmt: skip
    p.add_argument("--quick", action="store_true", help="tiny sizes on the CPU (smoke run)")
    p.add_argument(
        "--store", type=Path, help="store of the training parts (default: real, else generated)"
    )
    p.add_argument("--task", default="solubility")
    p.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data",
                   help="shared data directory (real texts)")  # fmt: skip
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset")
    p.add_argument("--pyg-max-gb", type=float, default=60.0,
                   help="skip the PyG edge_index model where its messages would need more")  # fmt: skip
    p.add_argument("--json", type=Path, help="default: results/gpu.json (--quick: gpu_quick.json)")
    p.add_argument("--work", type=Path, help="stores and runs (default: out/gpu/<time>)")
    p.add_argument("--note", default="", help="what else ran on the machine")
    args = p.parse_args(argv)
    if unknown := set(args.parts.split(",")) - set(PARTS):
        p.error(f"--parts: unknown {sorted(unknown)}; choose from {', '.join(PARTS)}")
    import torch

    device = "cpu" if args.quick else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("python -m benchmarks --suite gpu: no CUDA device here; --quick runs the CPU "
              "smoke version", file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    out = args.json or RESULTS / ("gpu_quick.json" if args.quick else "gpu.json")
    work = args.work or HERE / "out" / "gpu" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    from bench_encode import environment

    t_start = time.perf_counter()
    store, origin, features = pick_store(args.quick, args.store, work)
    ctx = Context(QUICK if args.quick else Sizes(), device, not args.quick, store, origin,
                  features, args.task, args.data, work, min(2, os.cpu_count() or 1) if args.quick
                  else os.cpu_count() or 1)  # fmt: skip
    result = {
        "benchmark": "gpu",
        "command": " ".join(["python -m benchmarks --suite gpu", *(argv or [])]),
        "quick": args.quick,
        "device": device_name(device),
        "env": environment(1 if device == "cuda" else 0),
        "machine_note": args.note,
        "sizes": asdict(ctx.sizes),
        "store": {"path": str(store), "origin": origin, "features": features, "task": args.task},
        "parts": {},
    }
    for name in args.parts.split(","):
        t0 = time.perf_counter()
        try:
            part = PARTS[name](ctx, args)
        except Exception as e:  # one broken part must not lose the others' figures
            log.exception("%s failed", name)
            part = Part(name, device_name(device), error=f"{e!r}\n{traceback.format_exc()[-1500:]}")
        part.seconds = round(time.perf_counter() - t0, 1)
        result["parts"][name] = asdict(part)
        result["seconds"] = round(time.perf_counter() - t_start, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")  # after every part: keep what ran
    total = Target("whole suite <= 8 min", 480, result["seconds"], at_most=True, judged=ctx.judged)
    result["targets"] = [t for p in result["parts"].values() for t in p["targets"]]
    result["targets"].append(asdict(total))
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    return result
