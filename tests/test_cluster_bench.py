"""The scaling benchmark's bookkeeping: efficiencies, the sweep skip, the table and the plot."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import scaling  # noqa: E402
import scaling_report  # noqa: E402
from scaling import Figure, Point  # noqa: E402


def figure() -> Figure:
    f = Figure("edges/s", "edges/s")
    f.points = [
        Point(1, 1, 0, [90.0, 100.0, 120.0], [1.0, 1.1]),
        Point(2, 1, 0, [150.0, 160.0, 170.0], [1.2, 1.3]),
        Point(1, 2, 0, [180.0, 200.0, 210.0], [1.3, 1.4]),
    ]
    return f


def test_efficiencies_use_the_medians():
    rec = scaling._figure_record(figure())
    assert rec["efficiency"] == {1: 1.0, 2: 160.0 / 200.0}
    assert rec["same_threads_efficiency"] == {2: 160.0 / 200.0}
    assert [(p["min"], p["median"], p["max"]) for p in rec["points"]][0] == (90.0, 100.0, 120.0)
    assert "efficiency" not in scaling._figure_record(Figure("epoch s", "s", throughput=False))


def test_a_missing_sweep_is_skipped_with_a_reason(monkeypatch):
    monkeypatch.setattr(scaling, "find_spec", lambda name: None)
    rec = scaling.run_stage(scaling.Sweep(), [1, 2], [], 1)
    assert "genen_scale.sweep" in rec["skipped"]
    assert "Not measured: genen_scale.sweep" in scaling_report.stage_markdown("sweep", rec)


def test_table_and_plot(tmp_path, monkeypatch):
    monkeypatch.setattr(scaling_report, "RESULTS", tmp_path)
    rec = {
        "worker": "DuckDB threads",
        "figures": {"edges/s": scaling._figure_record(figure())},
        "notes": ["4 workers oversubscribe the 2 cores"],
        "command": "python -m benchmarks --suite ingest",
        "env": {"date": "2026-12-01", "git": "abc", "hardware": {"nproc": 2, "cpu": "EPYC"}},
        "repeat": 3,
        "machine_note": "shared",
    }
    scaling_report.plot("ingest", rec, tmp_path / "scaling-ingest.png")
    assert (tmp_path / "scaling-ingest.png").read_bytes()[:4] == b"\x89PNG"
    text = scaling_report.stage_markdown("ingest", rec)
    assert "| edges/s (edges/s) | 2 x 1 | 150 | 160 | 170 | 0.8 | 0.8 |" in text
    assert "load average 1.0 to 1.4" in text and "results/scaling-ingest.png" in text
