"""Ingest benchmark: STRING links -> CSR against ``gzip -dc`` and a pandas + scipy baseline.

Inputs: every real file in ``../shared/data`` (STRING v12 human ``protein.info``,
go-basic 2022-07-01, GOA human 2019, NCBI gene summaries, the label files) plus a
full-size STRING links file, which cannot be downloaded here: it is generated
(``python -m ingest.generate``) and its protein ids are mapped rank by rank onto the real
``protein.info``'s, so that genes, GO annotations, texts and labels all meet as in a real
build (both cached under ``benchmarks/out/``). One run measures side by side, each step in
its own subprocess so that its wall time and peak RSS are its own:

* ``gzip_dc``: ``gzip -dc LINKS > /dev/null``, the floor for anything that reads the file;
* ``links_to_csr``: :func:`ingest.string_db.links_to_csr` (ours);
* ``pandas_scipy``: a straightforward pandas + scipy build of the same CSR (checked equal);
* ``genen_ingest``: the whole ``genen-ingest --sources.links LINKS --sources.info INFO
  --sources.obo GO --sources.gaf GAF --summaries NCBI --labels DIR --out STORE --force``;

and compares them with the targets (links -> CSR within 1.5x of ``gzip -dc`` and at least
2x faster than pandas + scipy, peak RSS <= 1 GB, whole ingest <= 15 s; with ``--links
100000000``: peak RSS <= 4 GB and no pandas baseline). Results, with hardware, versions,
git revision, date and load average, go to ``benchmarks/results/ingest.json`` and the
``## ingest`` section of ``benchmarks/README.md`` is regenerated from that file.

    python benchmarks/bench_ingest.py                       # full preset (13.7M lines)
    python benchmarks/bench_ingest.py --links 100000000     # 10^8 lines
    python benchmarks/bench_ingest.py --render-only         # README from the JSON
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Sibling scripts (Python puts this folder on the path). bench_encode.py imports
# environment and report.py write_readme from here, as before the split.
from bench_ingest_report import render, targets, write_readme
from step_measure import best_of, environment, spawn_measured

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
# The real inputs, relative to ``--shared``.
REAL = {
    "info": "string/9606.protein.info.v12.0.txt.gz",
    "obo": "go/go-basic.2022-07-01.obo.gz",
    "gaf": "go/goa_human.2019-01-14.gaf.gz",
    "summaries": "text/ncbi_gene_summaries_human.2022-10-27.tsv.gz",
    "labels": "labels",
}
RESULTS = ROOT / "benchmarks" / "results" / "ingest.json"

# --- child steps: run in a subprocess, time the call itself, dump the CSR ---------------


def _pandas_scipy(links: Path, info: Path, min_score: int):
    """The straightforward baseline: pandas reads, maps, collapses; scipy builds the CSR."""
    import pandas as pd
    import scipy.sparse as sp

    proteins = pd.read_csv(info, sep="\t", usecols=[0, 1], quoting=3)  # 3: QUOTE_NONE
    proteins.columns = ["protein", "symbol"]
    genes = sorted(set(proteins["symbol"]))
    node = pd.Series(np.arange(len(genes)), index=genes)
    protein_node = pd.Series(node[proteins["symbol"]].to_numpy(), index=proteins["protein"])
    df = pd.read_csv(links, sep=" ")
    df = df[df["combined_score"] >= min_score]
    r = df["protein1"].map(protein_node).to_numpy()
    c = df["protein2"].map(protein_node).to_numpy()
    s = df["combined_score"].to_numpy()
    keep = r != c
    both = pd.DataFrame(
        {
            "r": np.concatenate([r[keep], c[keep]]),
            "c": np.concatenate([c[keep], r[keep]]),
            "s": np.concatenate([s[keep], s[keep]]),
        }
    )
    edges = both.groupby(["r", "c"], sort=False)["s"].max().reset_index()
    weight = edges["s"].to_numpy().astype(np.float32) / np.float32(1000)
    m = sp.csr_matrix((weight, (edges["r"], edges["c"])), shape=(len(genes), len(genes)))
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data, genes


def _ours(links: Path, info: Path, min_score: int):
    from ingest.string_db import links_to_csr

    csr, genes, _ = links_to_csr(links, info, min_score=min_score)
    return csr.indptr, csr.indices, csr.weight, genes


def run_step(args: argparse.Namespace) -> None:
    """Child mode: build the CSR one way, print timing JSON, optionally dump the arrays."""
    build = {"links_to_csr": _ours, "pandas_scipy": _pandas_scipy}[args.step]
    t0 = time.perf_counter()
    indptr, indices, weight, genes = build(Path(args.links_file), Path(args.info_file), 150)
    seconds = time.perf_counter() - t0
    if args.dump:
        d = Path(args.dump)
        d.mkdir(parents=True, exist_ok=True)
        for name, a in (("indptr", indptr), ("indices", indices), ("weight", weight)):
            np.save(d / f"{name}.npy", np.asarray(a))
        (d / "genes.json").write_text(json.dumps(list(genes)))
    print(json.dumps({"seconds": seconds, "nnz": int(indptr[-1]), "genes": len(genes)}))


# --- parent: the inputs, the whole ingest, the check that both builds agree -------------


def ensure_data(data: Path, preset: str, links: int | None, seed: int) -> dict:
    """Generate the data set unless ``data/generated.json`` says it is already the one asked for."""
    from ingest.generate import PRESETS, GenerateConfig

    want = GenerateConfig(
        **{**PRESETS[preset], "seed": seed, **({"links": links} if links else {})}
    )
    record = data / "generated.json"
    if record.is_file():
        have = json.loads(record.read_text())
        if have.get("config") == vars(want):
            return {"generated": False, "counts": have["counts"]}
    if data.exists():
        shutil.rmtree(data)
    cmd = [sys.executable, "-m", "ingest.generate", "--out", str(data), "--preset", preset]
    cmd += ["--seed", str(seed)] + (["--links", str(links)] if links else [])
    gen = spawn_measured(cmd)
    have = json.loads(record.read_text())
    return {
        "generated": True,
        "wall_s": gen["wall_s"],
        "rss_mb": gen["rss_mb"],
        "counts": have["counts"],
    }


def real_links(generated: Path, names: dict, real_info: Path, out: Path) -> dict:
    """The generated links with protein ids mapped onto ``real_info``'s, cached in ``out``.

    The i-th generated protein id (sorted) becomes the i-th real one, so the degree shape
    and scores are the generator's and the ids are real proteins with real gene symbols.
    """
    import duckdb

    want = {
        "generated": json.loads((generated / "generated.json").read_text())["config"],
        "info": [str(real_info), real_info.stat().st_size],
    }
    links, record = out / names["links"], out / "relabelled.json"
    if record.is_file() and json.loads(record.read_text()) == want and links.is_file():
        return {"relabelled": False}
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ids = 'select "#string_protein_id" as p, row_number() over (order by p) as r '
    con = duckdb.connect()
    con.execute(
        f"create temp table id_map as with g as ({ids} from read_csv(?, delim='\t', header=true, quote='')), "
        f"r as ({ids} from read_csv(?, delim='\t', header=true, quote='')) "
        "select g.p as generated, r.p as real from g join r using (r)",
        [str(generated / names["info"]), str(real_info)],
    )
    tmp = links.with_name(links.name + ".partial")
    con.execute(
        f"copy (select a.real as protein1, b.real as protein2, l.combined_score "
        "from read_csv(?, delim=' ', header=true) l join id_map a on l.protein1 = a.generated "
        f"join id_map b on l.protein2 = b.generated) to '{tmp}' "  # our own path, not user text
        "(delimiter ' ', header true, compression gzip)",
        [str(generated / names["links"])],
    )
    con.close()
    os.replace(tmp, links)
    record.write_text(json.dumps(want))
    return {"relabelled": True, "wall_s": round(time.perf_counter() - t0, 1)}


def _ingest_cmd(links: Path, shared: Path, store: Path) -> list[str] | None:
    """The whole ingest: the full-size links, the real files of ``shared``, the store."""
    if not (ROOT / "ingest" / "cli.py").is_file():
        return None
    exe = shutil.which("genen-ingest")
    head = (
        [exe]
        if exe
        else [sys.executable, "-c", "import sys; from ingest.cli import main; sys.exit(main())"]
    )
    return head + [
        "--sources.links",
        str(links),
        *(
            x
            for key in ("info", "obo", "gaf")
            for x in (f"--sources.{key}", str(shared / REAL[key]))
        ),
        "--summaries",
        str(shared / REAL["summaries"]),
        "--labels",
        str(shared / REAL["labels"]),
        "--min-score",
        "150",
        "--out",
        str(store),
        "--force",
    ]


def compare_dumps(a: Path, b: Path) -> dict:
    """Check that two dumped CSRs are the same graph; return what was compared."""
    ga, gb = (json.loads((d / "genes.json").read_text()) for d in (a, b))
    if ga != gb:
        raise AssertionError("the two builds use different gene lists")
    out = {}
    for name in ("indptr", "indices", "weight"):
        x, y = np.load(a / f"{name}.npy"), np.load(b / f"{name}.npy")
        if x.shape != y.shape or not np.array_equal(x, y):
            raise AssertionError(f"{name} differs between links_to_csr and pandas+scipy")
        out[name] = int(x.shape[0])
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="full", help="generator preset (default full)")
    p.add_argument("--links", type=int, default=None, help="link lines (e.g. 100000000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--data", type=Path, default=None, help="data dir (default benchmarks/out/<mode>)"
    )
    p.add_argument("--repeat", type=int, default=2, help="runs per step; the best is reported")
    p.add_argument("--skip-pandas", action="store_true", help="skip the pandas + scipy baseline")
    p.add_argument("--skip-ingest", action="store_true", help="skip the whole genen-ingest run")
    p.add_argument(
        "--mem-limit-gb",
        type=float,
        default=None,
        help="address-space cap per measured step (default: 8 with --links > 2e7, else none)",
    )
    p.add_argument("--shared", type=Path, default=SHARED, help="the real data directory")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--render-only", action="store_true", help="only rewrite the README section")
    p.add_argument("--step", choices=["links_to_csr", "pandas_scipy"], help=argparse.SUPPRESS)
    p.add_argument("--links-file", help=argparse.SUPPRESS)
    p.add_argument("--info-file", help=argparse.SUPPRESS)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step:
        run_step(args)
        return {}
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    if args.render_only:
        write_readme(results)
        return results

    big = bool(args.links and args.links > 20_000_000)
    mode = args.preset if not args.links else f"{args.preset}-links-{args.links}"
    data = args.data or ROOT / "benchmarks" / "out" / mode
    mem = args.mem_limit_gb if args.mem_limit_gb is not None else (8.0 if big else 0.0)
    data_info = ensure_data(data, args.preset, args.links, args.seed)
    from ingest.generate import file_names

    names = file_names(9606)
    real_dir = data.parent / f"{mode}-real"
    data_info["real_links"] = real_links(data, names, args.shared / REAL["info"], real_dir)
    links, info = real_dir / names["links"], args.shared / REAL["info"]
    load_before = os.getloadavg()
    steps: dict[str, dict] = {}
    checks: dict = {}
    # Warm the page cache so that the first timed reader does not pay for the disk.
    spawn_measured(["gzip", "-dc", str(links)], stdout_to_null=True)
    steps["gzip_dc"] = best_of(["gzip", "-dc", str(links)], args.repeat, stdout_to_null=True)
    with tempfile.TemporaryDirectory(dir=data.parent) as tmp:
        tmp = Path(tmp)
        me = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--links-file",
            str(links),
            "--info-file",
            str(info),
        ]
        dump = not big and not args.skip_pandas
        if (ROOT / "ingest" / "string_db.py").is_file():
            cmd = me + ["--step", "links_to_csr"] + (["--dump", str(tmp / "ours")] if dump else [])
            steps["links_to_csr"] = best_of(cmd, args.repeat, json_out=True, mem_gb=mem)
        if not big and not args.skip_pandas:
            cmd = me + ["--step", "pandas_scipy", "--dump", str(tmp / "pandas")]
            steps["pandas_scipy"] = best_of(cmd, 1, json_out=True, mem_gb=mem)  # slow: one run
            if all(
                "error" not in steps.get(k, {"error": 1}) for k in ("links_to_csr", "pandas_scipy")
            ):
                checks["same_csr_as_pandas_scipy"] = compare_dumps(tmp / "ours", tmp / "pandas")
        cmd = None if args.skip_ingest else _ingest_cmd(links, args.shared, tmp / "store")
        if cmd:
            steps["genen_ingest"] = best_of(cmd, args.repeat, mem_gb=mem)
    result = {
        "env": environment(),
        "config": {
            "mem_limit_gb": mem,
            "preset": args.preset,
            "links": args.links,
            "seed": args.seed,
            "repeat": args.repeat,
            "data": str(data),
            # Everything but the links is real; the links are generated, with real ids.
            "inputs": {"links": str(links), **{k: str(args.shared / v) for k, v in REAL.items()}},
        },
        "data": data_info,
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
        "steps": steps,
        "checks": checks,
        "targets": targets(steps, big),
    }
    results[mode] = result
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    write_readme(results)
    print(render({mode: result}))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
