"""``python -m benchmarks --suite ingest|encode|sample|train|sweep|all --workers 1,2,4 [--gpus 1,2]``.

Runs each stage's benchmark at every worker (and GPU) count (``benchmarks/scaling.py``),
then writes ``benchmarks/results/scaling.json`` (the stages run now replace their earlier
record; the others are kept), one plot per stage and the README tables
(``benchmarks/report.py``). Run it under ``flock /tmp/genen-bench.lock`` on shared machines.

``--suite gpu [--quick] [...]`` runs the one-GPU suite instead (``benchmarks/gpu_suite.py``,
which takes the options after it; ``--quick``: a CPU smoke run at tiny sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling scripts, not a package

import gpu_suite  # noqa: E402
import report  # noqa: E402
from bench_encode import environment  # noqa: E402
from scaling import STAGES, run_stage  # noqa: E402
from scaling_report import RESULTS, plot  # noqa: E402

from genen_core.logs import setup_logging


def _counts(text: str) -> list[int]:
    counts = sorted({int(x) for x in text.split(",") if x.strip()})
    if not counts or counts[0] < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give counts like 1,2,4")
    return counts


def main(argv: list[str] | None = None) -> int:
    # No abbreviations: the gpu suite's options pass through (its --work is not --workers).
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    p.add_argument("--suite", choices=[*STAGES, "all", "gpu"], default="all")
    p.add_argument("--workers", type=_counts, default=[1, 2], help="worker counts, e.g. 1,2,4")
    p.add_argument("--gpus", type=_counts, default=[0], help="GPU counts, e.g. 1,2,4,8 (0: none)")
    p.add_argument("--repeat", type=int, default=3, help="repeats per point (min/median/max)")
    p.add_argument(
        "--ray-address",
        default=None,
        help="train on this running Ray cluster (e.g. the nodes of cluster/local.sh) instead "
        "of a local Ray; only with --suite train; kept apart as the record 'train-cluster'",
    )
    p.add_argument(
        "--note",
        default="",
        help="what else ran on the machine (recorded with every figure), e.g. 'shared'",
    )
    args, rest = p.parse_known_args(argv)
    setup_logging()
    if args.suite == "gpu":  # its own options (gpu_suite.py --help)
        result = gpu_suite.main(rest + (["--note", args.note] if args.note else []))
        if not result["quick"]:
            report.main()
        return 0
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.ray_address and args.suite != "train":
        p.error("--ray-address applies to --suite train only")
    if args.ray_address:  # read by the stage's child processes (ray.init connects to it)
        os.environ["RAY_ADDRESS"] = args.ray_address
        if args.ray_address.startswith("127.0.0.1"):
            # A driver of a loopback cluster (cluster/local.sh) keeps 127.0.0.1 only with
            # this set when Ray is imported (cluster/ray_start_loopback.py says why).
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    gpus = [g for g in args.gpus if g > 0]
    path = RESULTS / "scaling.json"
    results = json.loads(path.read_text()) if path.is_file() else {"suites": {}}
    for name in STAGES if args.suite == "all" else [args.suite]:
        t0 = time.perf_counter()
        rec = run_stage(STAGES[name], args.workers, gpus, args.repeat)
        key = f"{name}-cluster" if args.ray_address else name
        if "skipped" not in rec:
            rec.update(
                command=" ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
                env=environment(len(gpus)),
                repeat=args.repeat,
                machine_note=args.note or f"{os.cpu_count()} cores; note what else ran",
                seconds=round(time.perf_counter() - t0, 1),
            )
            plot(key, rec, RESULTS / f"scaling-{key}.png")
        results["suites"][key] = rec
        # Written after every stage, so that a long `all` keeps what it measured.
        path.write_text(json.dumps(results, indent=2) + "\n")
    report.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
