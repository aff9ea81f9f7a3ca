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
import gpu_report  # noqa: E402
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
            f"torch threads {r['torch_threads']}, {_load_note(r)}"
            f"{'; ' + r['machine_note'] if r.get('machine_note') else ''}.",
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
        "| run | trials | wall (s) | active (s) | trials/hour |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in runs.items():
        lines.append(
            f"| {name} | {m['trials']} | {m['wall_s']:.0f} | {m['active_s']:.0f} "
            f"| {m['trials_per_hour']:.0f} |"
        )
    eff = r["efficiency"]
    lines += [
        "",
        "| target | value | bound | met |",
        "|---|---:|---|---|",
        f"| speed-up sequential / concurrent over ideal {r['ideal_speedup']} | {eff:.2f} "
        f"(speed-up {r['speedup']:.2f}) | >= 0.8 | {'yes' if eff >= 0.8 else '**no**'} |",
    ]
    seq, conc, n = runs["sequential"], runs["concurrent"], cfg["trials"]
    lines += [
        "",
        "Active is the span from the first trial's start to the last one's end; wall "
        "minus active is the sweep's fixed start-up and close (Ray Tune, and each trial "
        f"actor's child importing torch and PyG once): {seq['wall_s'] - seq['active_s']:.0f} s "
        f"sequential, {conc['wall_s'] - conc['active_s']:.0f} s concurrent. Over the active "
        f"spans the speed-up is {r['active_speedup']:.2f}x ({r['active_efficiency']:.2f} of "
        f"ideal); in the sequential sweep a trial takes {seq['active_s'] / n:.1f} s.",
    ]
    machine = r.get("plain_speedup")
    if machine:
        plain, alone = runs["plain_sequential"]["active_s"] / n, seq["active_s"] / n
        lines += [
            "",
            f"Without Ray (`plain_*` rows: the same trials in a pool of 1 and of "
            f"{cfg['ray_cpus']} processes) a trial takes {plain:.1f} s alone, and the machine "
            f"speeds this work up {machine:.2f}x over the active spans "
            f"({r['plain_efficiency']:.2f} of ideal). The sweep's active speed-up is "
            f"{r['active_efficiency_of_plain']:.2f} of the machine's.",
        ]
        if alone - plain > 0.5:
            lines[-1] += (
                f" The {alone - plain:.1f} s a trial takes beyond the plain one in the "
                "sequential sweep is Tune's per-trial bookkeeping on the reused actor "
                "(result, experiment state, the next trial's start): it runs between one "
                "trial and the next when they run one after another, and beside the other "
                "trials' work when they run concurrently"
            )
            # Only where it happened: the overlap is why the sweep beat the plain pool.
            lines[-1] += (
                ", which is how the sweep's active speed-up exceeds the machine's."
                if r["active_efficiency_of_plain"] > 1
                else "."
            )
        elif plain > alone:
            lines[-1] += (
                " The plain trials, the same work, ran slower than the sweep's: this VM's "
                "speed drifts between runs minutes apart, so only ratios within one pair of "
                "runs compare."
            )
    return "\n".join(lines)


def render_train_full_batch(r: dict) -> str:
    loads = "; ".join(
        f"{part}: load {v['before']:.1f} before / {v['after']:.1f} after"
        for part, v in r.get("load_average", {}).items()
    )
    commands = r.get("commands") or [f"python benchmarks/{r.get('command', 'bench_train.py')}"]
    lines = [
        *[f"- `{c}`" for c in commands],
        "",
        f"{r['date']}, git {r['git']}, {r['hardware']['cpus']} CPUs, {r['hardware']['processor']} "
        f"({r['shared_machine']}); {loads}.",
        "",
        "Seconds per full-batch training step (forward + backward + Adam step, median of the "
        "timed epochs after a warm-up), preset `gcn` (3 hidden layers + conv output) on "
        "`go_ppi`; peak RSS of the measuring process.",
        "",
        "`ours`: sparse GCN over every node; `ours, field`: over the task genes' receptive "
        "field, trimmed per layer (what training runs by default in full batch); both "
        "speed-ups are against the PyG model over every node.",
        "",
        "| store | hidden | ours (s) | ours, field (s) | PyG edge_index (s) | speed-up "
        "| speed-up, field | ours bf16 (s) | bf16 speed-up | ours peak RSS (GB) "
        "| ours, field peak RSS (GB) | PyG peak RSS (GB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    epoch = r.get("epoch", {})
    keys = sorted({k.rsplit(" | ", 1)[0] for k in epoch})
    fields: list[str] = []
    for key in keys:
        store, hidden = key.split(" | ")
        ours, pyg = epoch.get(f"{key} | ours", {}), epoch.get(f"{key} | pyg", {})
        bf16 = epoch.get(f"{key} | ours-bf16", {})
        field = epoch.get(f"{key} | ours-field", {})

        def cell(m, field, scale=1.0, fmt="{:.3f}"):
            if field in m:
                return fmt.format(m[field] / scale)
            return "skipped" if "skipped" in m else ("error" if m else "")

        def ratio(slow, fast):
            return (
                f"{slow['epoch_s'] / fast['epoch_s']:.1f}x"
                if "epoch_s" in slow and "epoch_s" in fast
                else ""
            )

        edges = ours.get("edges") or pyg.get("edges") or 0
        lines.append(
            f"| {store} ({edges:,} edges) | {hidden.split()[-1]} | {cell(ours, 'epoch_s')} "
            f"| {cell(field, 'epoch_s')} | {cell(pyg, 'epoch_s')} | {ratio(pyg, ours)} "
            f"| {ratio(pyg, field)} | {cell(bf16, 'epoch_s')} | {ratio(ours, bf16)} "
            f"| {cell(ours, 'peak_rss_mb', 1024, '{:.2f}')} "
            f"| {cell(field, 'peak_rss_mb', 1024, '{:.2f}')} "
            f"| {cell(pyg, 'peak_rss_mb', 1024, '{:.2f}')} |"
        )
        if "field_within" in field:
            fields.append(f"{store}, task {field.get('task', '')}: {field['field_within']}")
    skipped = [f"{k}: {m['skipped']}" for k, m in epoch.items() if "skipped" in m]
    skipped += [
        f"{name}: not measured, no store at {s['path']} on this machine in this run"
        for name, s in r.get("stores", {}).items()
        if s.get("missing")
    ]
    if skipped:
        lines += ["", *[f"- {s}" for s in skipped]]
    if fields:
        lines += ["", "Receptive field (nodes within 0, 1, ... hops of the task's genes):", ""]
        lines += [f"- {f}" for f in sorted(set(fields))]
    fs = r.get("fold_stacking")
    if fs:
        lines += [
            "",
            f"Folds trained together (real GO+PPI, hidden 256, {fs['folds']} folds x "
            f"{fs['epochs']} epochs, whole in-process runs): sequential {fs['sequential_s']:.1f} s, "
            f"stacked {fs['stacked_s']:.1f} s, **{fs['ratio']:.2f}x** fold-epochs/s (target >= 2).",
        ]
        if "step_s_per_fold" in fs.get("sequential", {}):
            lines.append(
                f"Training step per fold (median): {fs['sequential']['step_s_per_fold']:.2f} s "
                f"alone, {fs['stacked']['step_s_per_fold']:.2f} s stacked."
            )
        sp = fs.get("spmm")
        if sp and "one_s" in sp:
            lines.append(
                f"Why: one SpMM over the real adjacency at width {sp['folds']} x {sp['width']} "
                f"takes {sp['stacked_s'] * 1e3:.0f} ms against {sp['folds']} x "
                f"{sp['one_s'] * 1e3:.0f} ms at width {sp['width']} ({sp['saving']:.2f}x)"
                + (
                    ": on this CPU the propagation costs in proportion to the dense columns it "
                    "gathers, not to the adjacency it reads, and the dense transforms are per "
                    "fold anyway."
                    if sp["saving"] < 1.25
                    else "."
                )
            )
            if fs["ratio"] < 1:
                lines.append(
                    "Stacked is slower here: the one shared SpMM saves less than the stacked "
                    "layout costs (per layer a [N, K, hidden] tensor is re-laid out for the "
                    "batched transform and back; `aten::copy_` was 12% of a profiled stacked "
                    "step), so on this CPU `scaling.stack_folds false` is the faster choice."
                )
        if "checkpoint_overhead" in fs:
            ck = fs["checkpoint_overhead"]
            lines.append(
                f"Test AUC sequential {fs['test_auc_sequential']:.4f} / stacked "
                f"{fs['test_auc_stacked']:.4f}. Checkpoint time / training-step time: "
                f"{ck['false']:.1%} sequential, {ck['true']:.1%} stacked (target <= 5%)."
            )
    wr = r.get("whole_run")
    if wr:
        rows = wr["summary"][0]
        lines += [
            "",
            f"Whole 5-fold run ({wr['config']}, real GO+PPI, task {rows['task']}): "
            f"**{wr['wall_s'] / 60:.1f} min** (target <= 10), epochs per fold {wr['epochs']}, "
            f"test {rows['metric']} {rows['mean']:.3f} ± {rows['std']:.3f}.",
        ]
    demo = r.get("demo")
    if demo:
        lines += [
            "",
            "| demo main job (`python -m genen_scale.train`) | wall (s) | target |",
            "|---|---:|---|",
        ]
        for label, target in (("cold", "<= 120"), ("cached", "<= 45")):
            if label in demo:
                lines.append(f"| {label} | {demo[label]['wall_s']:.0f} | {target} |")
        table = demo.get("cached", demo.get("cold", {})).get("summary", [])
        if table:
            lines += ["", "Demo result (cached run):", "", *table]
    return "\n".join(lines)


RENDERERS = {
    "sampler": render_sampler,
    "encode": render_encode,
    "train": render_train,
    "scaling": scaling_report.markdown,
    "sweep": render_sweep,
    # The same sweep with longer trials (--epochs 200 --json .../sweep_long.json).
    "sweep_long": render_sweep,
    "train_full_batch": render_train_full_batch,
    "gpu": gpu_report.markdown,  # python -m benchmarks --suite gpu (not the --quick record)
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
