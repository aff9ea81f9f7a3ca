"""The README table of ``benchmarks/results/gpu.json`` (written by ``python -m benchmarks --suite gpu``).

Rendered by ``benchmarks/report.py`` like the other suites, and printed by the suite itself.
"""

from __future__ import annotations


def _fmt(x) -> str:
    if not isinstance(x, int | float):
        return str(x)
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _rows(parts: dict) -> list[tuple[str, str, str]]:
    """(part, figure, value) of every figure a reader compares."""
    rows = []
    for model, m in parts.get("encode", {}).get("record", {}).items():
        cos = m["cosine_to_fp32"]
        rows += [
            (f"encode {model} ({m['texts']:,} texts, max {m['max_length']} tokens)",
             f"{m['dtype']} texts/s", _fmt(m["texts_per_s"])),
            ("", f"{m['dtype']} / float32 texts/s", f"{m['speedup_over_fp32']:.2f}x"),
            ("", "cosine to float32: min / mean", f"{cos['min']:.4f} / {cos['mean']:.4f}"),
        ]  # fmt: skip
    sample = parts.get("sample", {}).get("record", {})
    if sample:
        g, native = sample["graph"], sample["backends"]["native"]
        where = f"sample ({g['nodes']:,} nodes, {g['nnz']:,} edges, {g['source']})"
        rows += [(where, "loader edges/s", _fmt(native["loader_edges_per_s"])),
                 ("", "sampler edges/s", _fmt(native["sampler_edges_per_s"]))]  # fmt: skip
    fb = parts.get("full_batch", {}).get("record", {})
    for key, m in fb.get("step_s", {}).items():
        speedup = fb.get("speedup_over_pyg", {}).get(key)
        value = m.get("skipped") or f"{m['epoch_s']:.4f}" + (
            f" ({speedup:.1f}x PyG)" if speedup else "")  # fmt: skip
        where = f"full batch {key} ({fb['origin']}, {fb['edges']:,} edges)"
        rows.append((where, "s per training step", value))
    st = parts.get("stacked", {}).get("record", {})
    if st:
        rows += [(f"stacked ({st['folds']} folds x {st['epochs']} epochs)", "one by one / stacked",
                  f"{st['one_by_one_s']:.1f} s / {st['stacked_s']:.1f} s = {st['ratio']:.2f}x")]  # fmt: skip
    wr = parts.get("whole_run", {}).get("record", {})
    if wr:
        rows.append((f"whole run ({wr['config']})", "wall", f"{wr['wall_s']:.1f} s"))
    return rows


def markdown(r: dict) -> str:
    """The README section of ``gpu.json``: every figure, then the targets."""
    env = r["env"]
    quick = " **Quick smoke run on the CPU: tiny sizes, no speed figure.**" if r["quick"] else ""
    lines = [
        f"`{r['command']}` — {env['date']}, git {env['git']}, {r['device']}; whole suite "
        f"{r['seconds']:.0f} s.{quick} {r['machine_note']}".rstrip(),
        "",
        "| part | figure | value |",
        "|---|---|---:|",
        *[f"| {a} | {b} | {c} |" for a, b, c in _rows(r["parts"])],
        "",
        "| target (issue 24, one GPU) | value | met |",
        "|---|---:|---|",
    ]
    for t in r.get("targets", []):
        met = "not judged" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['name']} | {_fmt(t['value'])} | {met} |")
    notes = [f"{n}: not measured: {p['skipped']}" for n, p in r["parts"].items() if p["skipped"]]
    notes += [f"{n}: failed: {p['error'].splitlines()[0]}" for n, p in r["parts"].items()
              if p["error"]]  # fmt: skip
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else []))
