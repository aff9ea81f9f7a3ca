"""Tables and plots of ``benchmarks/results/scaling.json`` (written by ``python -m benchmarks``).

One PNG per stage, ``benchmarks/results/scaling-<stage>.png``: each throughput figure's
median (min-max bars) against workers with the ideal line ``w * throughput(1)``, the
``1 worker x w threads`` points beside them, and below, both efficiencies.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _layout(p: dict) -> str:
    if p["gpus"]:
        return f"{p['gpus']} GPU(s)"
    return f"{p['workers']} x {p['threads_per_worker']}"


def stage_markdown(name: str, rec: dict) -> str:
    """The table of one stage: every figure at every layout, and the efficiencies."""
    if "skipped" in rec:
        return f"### {name}\n\nNot measured: {rec['skipped']}."
    env = rec["env"]
    load = [p["load_average"] for f in rec["figures"].values() for p in f["points"]]
    lines = [
        f"### {name} ({rec['worker']})",
        "",
        f"`{rec['command']}` — {env['date']}, git {env['git']}, {env['hardware']['nproc']} x "
        f"{env['hardware']['cpu']}; 1-min load average {min(a for a, _ in load):.1f} to "
        f"{max(b for _, b in load):.1f} over the points; {rec['repeat']} repeat(s) per point. "
        f"{rec['machine_note']}",
        "",
        "| figure | layout (workers x threads) | min | median | max | efficiency | same-threads efficiency |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for fname, f in rec["figures"].items():
        # Keys are ints in memory and strings once read back from JSON.
        eff = {str(k): v for k, v in f.get("efficiency", {}).items()}
        same = {str(k): v for k, v in f.get("same_threads_efficiency", {}).items()}
        for p in f["points"]:
            key = str(p["workers"])
            plain = p["threads_per_worker"] == 1 and not p["gpus"]
            e = _fmt(eff[key]) if plain and key in eff else ""
            s = _fmt(same[key]) if plain and key in same else ""
            lines.append(
                f"| {fname} ({f['unit']}) | {_layout(p)} | {_fmt(p['min'])} | "
                f"{_fmt(p['median'])} | {_fmt(p['max'])} | {e} | {s} |"
            )
    lines += [""] + [f"- {n}" for n in rec["notes"]]
    if Path(RESULTS / f"scaling-{name}.png").is_file():
        lines += ["", f"![{name} scaling](results/scaling-{name}.png)"]
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """The README section: one table (and plot) per stage, in suite order."""
    head = [
        "Throughput against workers, from `python -m benchmarks` (see `benchmarks/scaling.py` "
        "for what a worker is in each stage). Efficiency is throughput(w) / (w x "
        "throughput(1)); same-threads efficiency is w workers x 1 thread against 1 worker x w "
        "threads, the fair reading where w exceeds the cores."
    ]
    return "\n\n".join(head + [stage_markdown(n, r) for n, r in results["suites"].items()])


def plot(name: str, rec: dict, path: Path) -> None:
    """Throughput vs workers with the ideal line (top) and the efficiencies (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {n: f for n, f in rec["figures"].items() if f["throughput"] and f["points"]}
    fig, axes = plt.subplots(2, len(figs), figsize=(4.5 * len(figs), 6.5), squeeze=False)
    for col, (fname, f) in enumerate(figs.items()):
        top, bottom = axes[0][col], axes[1][col]
        for label, pick, xkey, marker in (
            ("w workers x 1 thread", lambda p: p["threads_per_worker"] == 1 and not p["gpus"], "workers", "o-"),
            ("1 worker x w threads", lambda p: p["workers"] == 1 and p["threads_per_worker"] > 1, "threads_per_worker", "s--"),
            ("w GPUs", lambda p: p["gpus"] > 0, "gpus", "^-"),
        ):  # fmt: skip
            pts = sorted((p for p in f["points"] if pick(p)), key=lambda p: p[xkey])
            if label.startswith("1 worker") and pts:  # the 1 x 1 point starts that line too
                pts = [p for p in f["points"] if p["workers"] == 1 and p["threads_per_worker"] == 1 and not p["gpus"]] + pts  # fmt: skip
            if not pts:
                continue
            x = [p[xkey] if p[xkey] else 1 for p in pts]
            y = [p["median"] for p in pts]
            err = [[p["median"] - p["min"] for p in pts], [p["max"] - p["median"] for p in pts]]
            top.errorbar(x, y, yerr=err, fmt=marker, capsize=3, label=label)
            if label.startswith("w workers"):
                top.plot(x, [y[0] * w / x[0] for w in x], ":", color="grey", label="ideal")
        ticks = sorted({p["workers"] for p in f["points"]} | {p["gpus"] for p in f["points"]} - {0})
        top.set(title=f"{name}: {fname}", xlabel="workers", ylabel=f["unit"], xticks=ticks)
        top.legend(fontsize=7)
        for key, label in (("efficiency", "throughput(w) / (w x throughput(1))"),
                           ("same_threads_efficiency", "w x 1 / 1 x w"),
                           ("gpu_efficiency", "GPUs")):  # fmt: skip
            e = f.get(key, {})
            if e:
                ws = sorted(e, key=int)
                bottom.plot([int(w) for w in ws], [e[w] for w in ws], "o-", label=label)
        bottom.axhline(1.0, color="grey", linestyle=":")
        bottom.set(xlabel="workers", ylabel="efficiency", ylim=(0, 1.3), xticks=ticks)
        bottom.legend(fontsize=7)
    fig.suptitle(
        f"{name} — {rec['env']['date']}, git {rec['env']['git']} ({rec['machine_note']})",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
