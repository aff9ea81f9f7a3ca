"""The one-GPU benchmark suite: ``python -m benchmarks --suite gpu --quick`` runs every part
on the CPU at tiny sizes, so the command a lent GPU machine runs cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpu_suite import Target  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def _suite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmarks", "--suite", "gpu", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_targets_are_met_by_the_measurement_only_where_judged():
    assert Target("stacked >= 2x", 2.0, 2.5).met is True
    assert Target("stacked >= 2x", 2.0, 1.9).met is False
    assert Target("run <= 5 min", 300, 301, at_most=True).met is False
    assert Target("run <= 5 min", 300, 120, at_most=True).met is True
    assert Target("stacked >= 2x", 2.0, 2.5, judged=False).met is None  # --quick, CPU
    assert Target("stacked >= 2x", 2.0, None).met is None  # not measured


@pytest.mark.slow  # 20-60 s on the shared 2-core machine: imports, a tiny store, 12 short runs
def test_quick_suite_runs_every_part_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    p = _suite(tmp_path, "--quick", "--json", str(out), "--work", str(tmp_path / "work"))
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["quick"] and r["device"].startswith("cpu")
    parts = r["parts"]
    assert list(parts) == ["encode", "sample", "full_batch", "stacked", "whole_run"]
    for name, part in parts.items():
        assert part["error"] is None, f"{name}: {part['error']}"
        assert part["device"].startswith("cpu"), name
    if DATA.is_dir():  # real texts: float32 on the CPU, so the fp32 reference is identical
        (enc,) = parts["encode"]["record"].values()
        assert enc["dtype"] == "float32" and enc["texts"] == 16 and enc["texts_per_s"] > 0
        assert enc["cosine_to_fp32"]["min"] > 0.9999
    assert parts["sample"]["record"]["backends"]["native"]["loader_edges_per_s"] > 0
    steps = parts["full_batch"]["record"]["step_s"]
    assert sorted(steps) == sorted(
        f"{a} {i}" for a in ("gcn", "gat") for i in ("ours", "ours-field", "pyg")
    )
    assert all(s["epoch_s"] > 0 and s["device"] == "cpu" for s in steps.values())
    stacked = parts["stacked"]["record"]
    assert stacked["stacked"] and stacked["ratio"] > 0  # the stacked run did stack
    assert parts["whole_run"]["record"]["epochs"] == {str(f): 2 for f in range(5)}
    # Every target of the issue is recorded beside its value; a CPU smoke run judges none.
    names = " / ".join(t["name"] for t in r["targets"])
    for what in (">= 3,000", "loader edges/s >= 30M", "stacked folds >= 2x", "<= 5 min"):
        assert what in names
    assert all(t["met"] is None and t["value"] > 0 for t in r["targets"])
    assert "Quick smoke run on the CPU" in p.stdout and "| stacked folds >= 2x" in p.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the real suite")
def test_without_cuda_the_full_suite_is_one_clear_error(tmp_path):
    p = _suite(tmp_path, "--json", str(tmp_path / "gpu.json"), "--work", str(tmp_path / "w"))
    assert p.returncode == 2 and not (tmp_path / "gpu.json").exists()
    assert p.stderr.strip().splitlines()[-1].endswith("--quick runs the CPU smoke version")
