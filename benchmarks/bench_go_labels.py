"""GO / GOA / label ingest steps on the real files, side by side with their baselines.

In one process, each step warmed up once and then timed ``--repeats`` times (best kept):

* ``read_obo``: ``obonet.read_obo`` building its networkx graph, no validation (baseline);
* ``parse_obo``: :func:`ingest.go.parse_obo`, :mod:`ingest.obo`'s reader plus all validation;
* ``cycle_numpy`` / ``cycle_networkx``: our level-wise acyclicity check against
  ``networkx.find_cycle`` on the same ``is_a`` + ``part_of`` edges;
* ``read_gaf``: :func:`ingest.gaf.read_gaf` on the 2019 GOA human file;
* ``labels``: :func:`ingest.labels.load_label_dir` on all ten label files.

Targets: ``parse_obo`` within 1.5x of the bare ``read_obo`` (CPU time), and the three loaders
together well inside the 15 s budget of the whole ``genen-ingest``. Prints a JSON record
(hardware, versions, date, load average, config, wall and CPU times, targets) and
markdown tables.

    python benchmarks/bench_go_labels.py --data ../shared/data --repeats 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path

import networkx as nx
import obonet

from ingest.gaf import read_gaf
from ingest.go import ACYCLIC_RELATIONS, check_acyclic, parse_obo
from ingest.labels import load_label_dir

ROOT = Path(__file__).resolve().parents[1]
OBO = "go/go-basic.2022-07-01.obo.gz"
GAF = "go/goa_human.2019-01-14.gaf.gz"
PACKAGES = ("obonet", "networkx", "duckdb", "pyarrow", "numpy")


def best_time(fn, repeats: int) -> dict[str, float]:
    """Best wall and best process CPU seconds over ``repeats`` runs after one warm-up.

    CPU time is reported beside wall time because these machines share their cores: the
    ratios in the targets use CPU time, which other processes disturb far less.
    """
    fn()  # warm-up: imports, page cache, DuckDB's first connection
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall": min(wall), "cpu": min(cpu)}


def networkx_cycle(edges: list[tuple[str, str, str]]) -> None:
    try:
        nx.find_cycle(nx.DiGraph([(c, p) for c, p, _ in edges]))
    except nx.NetworkXNoCycle:
        pass


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the JSON record here")
    args = parser.parse_args(argv)

    obo, gaf, labels = args.data / OBO, args.data / GAF, args.data / "labels"
    go = parse_obo(obo)
    edges = [
        tuple(row.values()) for row in go.edges.to_pylist() if row["relation"] in ACYCLIC_RELATIONS
    ]
    load_before = os.getloadavg()[0]
    seconds = {
        "read_obo": best_time(lambda: obonet.read_obo(str(obo)), args.repeats),
        "parse_obo": best_time(lambda: parse_obo(obo), args.repeats),
        "cycle_numpy": best_time(lambda: check_acyclic(obo, edges), args.repeats),
        "cycle_networkx": best_time(lambda: networkx_cycle(edges), args.repeats),
        "read_gaf": best_time(lambda: read_gaf(gaf, go), args.repeats),
        "labels": best_time(lambda: load_label_dir(labels), args.repeats),
    }
    cpu = {step: t["cpu"] for step, t in seconds.items()}
    wall = {step: t["wall"] for step, t in seconds.items()}
    targets = {
        "parse_obo / read_obo (CPU)": (cpu["parse_obo"] / cpu["read_obo"], "<= 1.5"),
        "cycle_networkx / cycle_numpy (CPU)": (cpu["cycle_networkx"] / cpu["cycle_numpy"], ">= 1"),
        "parse_obo + read_gaf + labels (wall s)": (
            wall["parse_obo"] + wall["read_gaf"] + wall["labels"],
            "<= 15",
        ),
    }
    record = {
        "benchmark": "go_labels",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hardware": {
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "versions": {
            "python": platform.python_version(),
            **{p: metadata.version(p) for p in PACKAGES},
        },
        "config": {"data": str(args.data), "repeats": args.repeats},
        "counts": {"terms": go.stats["terms"], "edges": go.edges.num_rows},
        "seconds": seconds,
        "targets": {
            name: {"value": value, "bound": bound, "met": eval_bound(value, bound)}
            for name, (value, bound) in targets.items()
        },
    }
    print(json.dumps(record, indent=2))
    print("\n| step | best wall (s) | best CPU (s) |\n|---|---:|---:|")
    print(
        "\n".join(f"| {step} | {t['wall']:.3f} | {t['cpu']:.3f} |" for step, t in seconds.items())
    )
    print("\n| target | value | bound | met |\n|---|---:|---|---|")
    for name, t in record["targets"].items():
        print(f"| {name} | {t['value']:.2f} | {t['bound']} | {'yes' if t['met'] else '**no**'} |")
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    return record


def eval_bound(value: float, bound: str) -> bool:
    op, limit = bound.split()
    return value <= float(limit) if op == "<=" else value >= float(limit)


if __name__ == "__main__":
    main()
