"""Regenerate the tables of ``benchmarks/README.md`` from ``benchmarks/results/*.json``.

Each benchmark script writes its JSON (with hardware, versions, git revision, date and load
average); this script only renders them, so a README figure always traces back to a
recorded run. Usage: ``python benchmarks/report.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_ingest  # noqa: E402  (sibling script, not a package)
import bench_sampler  # noqa: E402
import scaling_report  # noqa: E402

README = HERE / "README.md"
RESULTS = HERE / "results"


def _load_note(r: dict) -> str:
    before = r.get("load_average_before", r.get("loadavg_before"))
    after = r.get("load_average_after", r.get("loadavg_after"))
    if before is None and "load_average" in r:
        before, after = r["load_average"]["before"], r["load_average"]["after"]
    if isinstance(before, list):
        before, after = before[0], after[0]
    return f"load average {before:.2f} before / {after:.2f} after"


def render_sampler(r: dict) -> str:
    g = r["graph"]
    return "\n".join(
        [
            f"`python benchmarks/{r['command']}` — {r['date']}, git {r['git']}, {r['cpu']}, "
            f"torch threads {r['torch_threads']}, {_load_note(r)}.",
            f"Graph: {g['source']}: {g['nodes']:,} nodes, {g['nnz']:,} stored edges "
            f"(max degree {g['max_degree']:,}, median {g['median_degree']:.0f}); fanouts "
            f"{r['config']['fanouts']}, batch {r['config']['batch_size']}, "
            f"{r['config']['feature_dim']}-d {r['config']['feature_dtype']} features gathered.",
            "",
            bench_sampler._markdown(r),
        ]
    )


def render_encode(r: dict) -> str:
    env, cfg = r["env"], r["config"]
    texts = f"node texts of {cfg['store']}" if cfg.get("store") else "gene texts"
    lines = [
        f"`python benchmarks/{r['command']}` — {env['date']}, git {env['git']}, "
        f"{env['hardware']['nproc']} x {env['hardware']['cpu']}; model {cfg['model_resolved']}, "
        f"{cfg['texts']:,} real {texts} (mean {cfg['mean_tokens']} tokens), max length "
        f"{cfg['max_length']}, {cfg['tokens_per_batch']} tokens per batch; {_load_note(r)} "
        "(shared machine).",
        "",
        "| mode | texts/s | padded tokens |",
        "|---|---:|---:|",
    ]
    for mode, m in r["results"].items():
        lines.append(f"| {mode} | {m['texts_per_s']:.1f} | {m['padded_tokens']:,} |")
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    ratios = r["ratios"]
    if "ray_vs_direct" in ratios:
        lines.append(f"| Ray pool / direct | {ratios['ray_vs_direct']:.2f} | >= 0.9 |")
    for mode, cos in r.get("cosine_to_fp32", {}).items():
        rounds = ", ".join(f"{x:.2f}" for x in ratios[f"{mode}_vs_direct_per_round"])
        target = (">= 2", ">= 0.99") if mode == "bf16" else ("(alternative)", "(alternative)")
        lines += [
            f"| {mode} / direct (float32) texts/s | {ratios[f'{mode}_vs_direct']:.2f} "
            f"(per round {rounds}) | {target[0]} |",
            f"| {mode} cosine to float32, min over {cos['texts']:,} texts | {cos['min']:.4f} "
            f"(1st pct {cos['p01']:.4f}, mean {cos['mean']:.4f}) | {target[1]} |",
        ]
    if "direct" in r["results"] and "unsorted" in r["results"]:
        sorted_gain = (
            r["results"]["direct"]["texts_per_s"] / r["results"]["unsorted"]["texts_per_s"]
        )
        lines.append(f"| length-sorted / unsorted | {sorted_gain:.2f} | |")
    return "\n".join(lines)


def render_train(r: dict) -> str:
    cfg, st = r["config"], r["store"]
    lines = [
        f"`python benchmarks/bench_train.py --task {cfg['task']} --epochs {cfg['epochs']}` — "
        f"{r['date']}, git {r['git']}, {r['hardware']['cpus']} CPUs, {_load_note(r)}.",
        f"Store: {st['origin']} ({st['nodes']:,} nodes, {st['edges']:,} {cfg['graph']} edges, "
        f"features {st['features']}); fanouts {cfg['fanouts']}, batch {cfg['batch_size']}.",
        "",
        "| layout | seed nodes/s | data-loading share | peak RSS per worker (MB) |",
        "|---|---:|---:|---:|",
    ]
    for m in r["layouts"].values():
        lines.append(
            f"| {m['workers']} worker(s) x {m['threads_per_worker']} thread(s) "
            f"| {m['seeds_per_s']:.0f} | {m['loading_share']:.0%} "
            f"| {m['peak_rss_mb_per_worker']:.0f} |"
        )
    ratio = r["ratio_2x1_over_1x2"]
    rss = max(m["peak_rss_mb_per_worker"] for m in r["layouts"].values()) / 1024
    lines += [
        "",
        "| target | value | bound | met |",
        "|---|---:|---|---|",
        f"| 2x1 / 1x2 seed nodes/s | {ratio:.2f} | >= 0.85 | {'yes' if ratio >= 0.85 else '**no**'} |",
        f"| peak RSS per worker (GB) | {rss:.2f} | <= 3 | {'yes' if rss <= 3 else '**no**'} |",
    ]
    return "\n".join(lines)


def render_sweep(r: dict) -> str:
    cfg, runs = r["config"], r["runs"]
    load = r["load_average"]
    lines = [
        f"`python benchmarks/{r['command']}` — {r['date']}, git {r['git']}, "
        f"{r['hardware']['cpus']} CPUs (shared with other jobs: load average "
        f"{load['before'][0]:.2f} before / {load['after'][0]:.2f} after), Ray {r['versions']['ray']}.",
        f"{cfg['trials']} GCN trials ({cfg['grid']}; {cfg['epochs']} epochs, "
        f"{cfg['folds_per_trial']} folds each) on a generated store ({r['store']['genes']:,} genes, "
        f"{r['store']['nodes']:,} nodes), {cfg['cpus_per_trial']} CPU per trial, local Ray "
        f"of {cfg['ray_cpus']} CPUs.",
        "",
        "| run | trials | wall (s) | trials/hour |",
        "|---|---:|---:|---:|",
    ]
    for name, m in runs.items():
        lines.append(f"| {name} | {m['trials']} | {m['wall_s']:.0f} | {m['trials_per_hour']:.0f} |")
    eff = r["efficiency"]
    lines += [
        "",
        "| target | value | bound | met |",
        "|---|---:|---|---|",
        f"| speed-up sequential / concurrent over ideal {r['ideal_speedup']} | {eff:.2f} "
        f"(speed-up {r['speedup']:.2f}) | >= 0.8 | {'yes' if eff >= 0.8 else '**no**'} |",
    ]
    return "\n".join(lines)


RENDERERS = {
    "sampler": render_sampler,
    "encode": render_encode,
    "train": render_train,
    "scaling": scaling_report.markdown,
    "sweep": render_sweep,
}


def write_section(text: str, name: str, body: str) -> str:
    """Replace (or append) the generated ``## name`` section of the README text."""
    begin, end = f"<!-- {name}:begin (generated by report.py) -->", f"<!-- {name}:end -->"
    section = f"## {name}\n\n{begin}\n\n{body}\n\n{end}\n"
    start = text.find(f"## {name}\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    stop = text.find(end, start)
    return text[:start] + section + text[stop + len(end) + 1 :]


def main() -> None:
    ingest = RESULTS / "ingest.json"
    if ingest.is_file():
        bench_ingest.write_readme(json.loads(ingest.read_text()))
    text = README.read_text()
    for name, render in RENDERERS.items():
        f = RESULTS / f"{name}.json"
        if f.is_file():
            text = write_section(text, name, render(json.loads(f.read_text())))
    README.write_text(text)
    print(f"rewrote {README}")


if __name__ == "__main__":
    main()
