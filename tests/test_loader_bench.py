"""The loader benchmarks' records: loader/sampler and the machine note (bench_sampler), and
the per-step CPU times of loader_stages, which must leave the loader classes as they were."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_sampler  # noqa: E402
import loader_stages  # noqa: E402

from genen_scale.sampling import neighbor_sampler  # noqa: E402

TINY = ["--synthetic", "--nodes", "300", "--edges", "3000", "--batches", "3"]


def test_bench_sampler_records_ratio_and_note(tmp_path):
    out = tmp_path / "sampler.json"
    bench_sampler.main([*TINY, "--warmup", "1", "--dim", "8", "--out", str(out), "--note", "busy"])
    r = json.loads(out.read_text())
    native = r["results"]["native"]
    ratio = native["loader_edges_per_s"] / native["sampler_edges_per_s"]
    assert r["machine_note"] == "busy" and abs(native["loader_over_sampler"] - ratio) < 0.01
    assert "| loader / sampler |" in bench_sampler._markdown(r)


def test_loader_stages_times_each_step_and_restores_the_classes():
    sample = neighbor_sampler.CSRNeighborSampler.sample
    r = loader_stages.main([*TINY, "--isolated", "50"])
    assert neighbor_sampler.CSRNeighborSampler.sample is sample, "timers must be removed"
    steps = r["loader_cpu_ms_per_batch"]
    assert set(steps) == {"sample", "gather", "edge_weight", "rest"}
    assert steps["sample"] > 0 and steps["gather"] > 0 and r["loader_over_sampler"] > 0
    assert "350 nodes (50 isolated)" in r["graph"]
