"""Encoder benchmark: texts/s through the Ray actor pool against the model called directly.

On real gene texts (NCBI Gene summaries and STRING protein.info annotations from
``../shared/data``, shuffled with a fixed seed, ``--limit`` of them), one run measures
side by side, with the same model, token budget and cores:

* ``direct``: one :class:`~genen_scale.encode.model.TextEncoder` in this process, fed the
  length-sorted shards one after another (the baseline);
* ``ray``: the same shards through :class:`~genen_scale.encode.pool.RayEncoderPool`
  (``ray.init(num_cpus=--cpus, num_gpus=--gpus)``; one actor per GPU, or ``--actors`` CPU
  actors sharing the cores) — target: at least 0.9x ``direct``;
* ``unsorted``: ``direct`` with the texts batched in their given order (same token budget),
  to show what length sorting saves;
* ``bf16``: ``direct`` with ``compute_dtype="bfloat16"``, the CPU fast path — targets: at
  least 2x ``direct``'s (float32) texts/s, and cosine >= 0.99 between its rows and
  ``direct``'s for every text (mean, minimum and 1st percentile are recorded);
* ``int8``: ``direct`` with torch's int8 dynamic quantisation of every ``Linear``
  (per-channel weights), the alternative the fast path was chosen against, same records;
* ``fp32``: ``direct`` in float32 on the same device: on a GPU, where ``direct`` runs
  float16, the reference of its cosine (``direct_vs_fp32``: texts/s ratio and cosine).

Model loading and actor start-up are excluded (timed separately); each mode first encodes
a warm-up batch. ``--gpus N`` runs on GPUs in float16 (target: >= 3,000 texts/s per GPU for
BERT-base at max length 512; ``--model bert-base-random`` builds a randomly initialised
BERT-base with the uncased BERT vocabulary, the same compute without needing weights).
Results with hardware, versions, config, date and load average go to
``benchmarks/results/encode.json``.

    python benchmarks/bench_encode.py --limit 4000
    python benchmarks/bench_encode.py --store /work/stores/human --limit 600   # store texts
    python benchmarks/bench_encode.py --gpus 1 --model bert-base-random --modes direct,ray
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "encode.json"
MODES = ("direct", "ray", "unsorted", "bf16", "int8", "fp32")
FAST = ("bf16", "int8")  # compared with direct (float32): texts/s ratio and cosine


def load_texts(data: Path, limit: int, seed: int = 0) -> list[str]:
    """Non-empty NCBI Gene summaries and STRING annotations, shuffled, the first ``limit``."""
    texts: list[str] = []
    with gzip.open(data / "text" / "ncbi_gene_summaries_human.2022-10-27.tsv.gz", "rt") as f:
        header = f.readline().rstrip("\n").split("\t")
        col = header.index("summary")
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) > col and fields[col].strip():
                texts.append(fields[col])
    with gzip.open(data / "string" / "9606.protein.info.v12.0.txt.gz", "rt") as f:
        f.readline()
        for line in f:
            annotation = line.rstrip("\n").split("\t")[3]
            if annotation.strip() and annotation != "annotation not available":
                texts.append(annotation)
    order = np.random.default_rng(seed).permutation(len(texts))
    if limit > len(texts):
        raise SystemExit(f"--limit {limit}: only {len(texts)} texts in {data}")
    return [texts[i] for i in order[:limit]]


def store_texts(store: Path, limit: int, seed: int = 0) -> list[str]:
    """Non-empty node texts of a built store (genes and GO terms), shuffled, the first ``limit``."""
    import pyarrow.parquet as pq

    texts = [
        t
        for t in pq.read_table(store / "nodes.parquet", columns=["text"])["text"].to_pylist()
        if t and t.strip()
    ]
    if limit > len(texts):
        raise SystemExit(f"--limit {limit}: only {len(texts)} texts in {store}")
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[:limit]]


def random_bert_base(directory: Path) -> str:
    """A randomly initialised BERT-base (768 hidden, 12 layers) with the uncased vocabulary.

    all-MiniLM-L6-v2 uses the bert-base-uncased vocabulary, so its tokenizer gives the
    token counts BERT-base would see.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from genen_scale.encode.model import DEFAULT_MODEL, resolve_model

    tok = AutoTokenizer.from_pretrained(
        resolve_model(DEFAULT_MODEL).location, local_files_only=True
    )
    tok.save_pretrained(directory)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tok.vocab_size)).save_pretrained(directory)
    return str(directory)


def environment(gpus: int) -> dict:
    """The ingest benchmark's record (date, git, CPU, memory, versions) plus GPUs and ML versions."""
    import torch
    from bench_ingest import environment as base_environment

    env = base_environment()
    env["hardware"]["gpus"] = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if gpus else []
    )
    for pkg in ("torch", "transformers", "tokenizers", "ray", "genen-scale"):
        env["versions"][pkg] = metadata.version(pkg)
    env["hardware"]["native_bf16"] = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return env


def row_cosine(a: np.ndarray, b: np.ndarray) -> dict:
    """Cosine of each row of ``a`` to the same row of ``b``: mean, minimum, 1st percentile."""
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {
        "mean": round(float(cos.mean()), 5),
        "min": round(float(cos.min()), 5),
        "p01": round(float(np.quantile(cos, 0.01)), 5),
        "texts": len(cos),
    }


def measure(runner, jobs: list, warmup: list, rows: np.ndarray | None = None) -> dict:
    """Encode ``warmup`` (untimed) then ``jobs`` (into ``rows``); texts/s and padded tokens/s."""
    for _ in runner.map(warmup):
        pass
    t0 = time.perf_counter()
    texts = 0
    for shard, x in runner.map(jobs):
        if rows is not None:
            rows[shard.rows] = x
        texts += len(x)
    seconds = time.perf_counter() - t0
    padded = sum(s.padded_tokens for s, _ in jobs)
    return {
        "texts": texts,
        "seconds": round(seconds, 3),
        "texts_per_s": round(texts / seconds, 2),
        "padded_tokens": int(padded),
        "padded_tokens_per_s": round(padded / seconds, 1),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help="shared data directory")
    p.add_argument("--store", type=Path, default=None, help="take the texts of this store instead")
    p.add_argument("--limit", type=int, default=20000, help="number of texts (default 20000)")
    p.add_argument(
        "--model", default=None, help="hub id, directory or bert-base-random (default MiniLM)"
    )
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--tokens-per-batch", type=int, default=16384)
    p.add_argument("--texts-per-shard", type=int, default=512)
    p.add_argument("--cpus", type=int, default=os.cpu_count(), help="cores for both paths")
    p.add_argument("--gpus", type=int, default=0, help="GPUs (float16); 0 = CPU run")
    p.add_argument("--actors", type=int, default=None, help="Ray actors (default: #GPUs or 1)")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {MODES}")
    p.add_argument("--rounds", type=int, default=2, help="rounds over the modes; best is kept")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    modes = args.modes.split(",")
    if unknown := set(modes) - set(MODES):
        p.error(f"unknown modes {sorted(unknown)}; choose from {MODES}")

    import torch

    from genen_scale.encode.batching import plan_shards
    from genen_scale.encode.model import (
        DEFAULT_MODEL,
        TextEncoder,
        load_tokenizer,
        resolve_model,
        token_lengths,
    )
    from genen_scale.encode.pool import LocalRunner, RayEncoderPool

    load_before = os.getloadavg()
    tmp = tempfile.TemporaryDirectory(prefix="bench-encode-")
    model = args.model or DEFAULT_MODEL
    if model == "bert-base-random":
        model = random_bert_base(Path(tmp.name))
    texts = store_texts(args.store, args.limit) if args.store else load_texts(args.data, args.limit)
    t0 = time.perf_counter()
    lengths = token_lengths(load_tokenizer(resolve_model(model)), texts, args.max_length)
    tokenize_s = time.perf_counter() - t0
    truncated = int(np.sum(lengths > args.max_length))
    lengths = np.minimum(lengths, args.max_length)
    rows = np.arange(len(texts))

    def jobs(sort: bool) -> list:
        shards = plan_shards(rows, lengths, args.tokens_per_batch, args.texts_per_shard, sort=sort)
        return [(s, [texts[i] for i in s.rows]) for s in shards]

    # Warm-up: the shortest texts, one shard per actor, so every actor has run once.
    warm = plan_shards(
        rows[np.argsort(lengths)[:64]], np.sort(lengths)[:64], args.tokens_per_batch, 16
    )
    warmup = [(s, [texts[i] for i in s.rows]) for s in warm]
    device = "cuda" if args.gpus else "cpu"
    threads = None if args.gpus else args.cpus
    encoder_kwargs = {"model": model, "max_length": args.max_length, "device": device}
    # Every runner is built first and the modes then run in rounds (direct, unsorted, ray,
    # direct, ...), keeping each mode's best round: on shared, noisy machines this compares
    # the modes under the same background load instead of whatever load each met.
    runners: dict = {}
    startup: dict = {}
    warmups = {m: warmup for m in modes}
    ray = None
    try:
        if {"direct", "unsorted"} & set(modes):
            t0 = time.perf_counter()
            local = LocalRunner(TextEncoder(threads=threads, **encoder_kwargs))
            startup["direct"] = startup["unsorted"] = round(time.perf_counter() - t0, 2)
            runners.update({m: local for m in ("direct", "unsorted") if m in modes})
        for mode in set(FAST) & set(modes):
            if args.gpus:
                p.error(f"{mode} is a CPU mode; drop it from --modes with --gpus")
            t0 = time.perf_counter()
            dtype = "bfloat16" if mode == "bf16" else "float32"
            fast = TextEncoder(threads=threads, compute_dtype=dtype, **encoder_kwargs)
            if mode == "int8":
                from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

                qconfig = {torch.nn.Linear: per_channel_dynamic_qconfig}
                fast.model = quantize_dynamic(fast.model, qconfig, dtype=torch.qint8)
            runners[mode] = LocalRunner(fast)
            startup[mode] = round(time.perf_counter() - t0, 2)
        if "fp32" in modes:
            t0 = time.perf_counter()
            fp32 = TextEncoder(threads=threads, compute_dtype="float32", **encoder_kwargs)
            runners["fp32"] = LocalRunner(fp32)
            startup["fp32"] = round(time.perf_counter() - t0, 2)
        if "ray" in modes:
            import ray

            actors = args.actors or max(args.gpus, 1)
            ray.init(
                num_cpus=args.cpus, num_gpus=args.gpus, include_dashboard=False, log_to_driver=False
            )
            t0 = time.perf_counter()
            if args.gpus:
                pool = RayEncoderPool(actors, encoder_kwargs, num_gpus=1, num_cpus=1)
            else:
                per_actor = max(1, args.cpus // actors)
                pool = RayEncoderPool(
                    actors, {**encoder_kwargs, "threads": per_actor}, num_cpus=per_actor
                )
            startup["ray"] = round(time.perf_counter() - t0, 2)
            runners["ray"] = pool
            warmups["ray"] = warmup * actors  # one warm-up shard per actor
        rounds: dict = {m: [] for m in modes}
        # Rows of the last round of each mode, to compare the fast path's with fp32's.
        compared = [m for m in ("direct", *FAST, "fp32") if m in modes]
        embeddings = {m: np.zeros((len(texts), runners[m].dim), np.float32) for m in compared}
        for r in range(args.rounds):
            for mode in modes:
                sort = mode != "unsorted"
                out = embeddings.get(mode)
                rounds[mode].append(measure(runners[mode], jobs(sort), warmups[mode], out))
                print(f"round {r} {mode}", rounds[mode][-1], file=sys.stderr)
        results = {}
        for mode in modes:
            best = max(rounds[mode], key=lambda x: x["texts_per_s"])
            results[mode] = {
                **best,
                "startup_s": startup[mode],
                "rounds_texts_per_s": [x["texts_per_s"] for x in rounds[mode]],
            }
        if "ray" in results:
            results["ray"]["actors"] = actors
    finally:
        if "ray" in runners:
            runners["ray"].close()
        if ray is not None:
            ray.shutdown()

    ratios = {}
    cosine = {}
    for mode in [m for m in FAST if m in results and "direct" in results]:
        ratios[f"{mode}_vs_direct"] = round(
            results[mode]["texts_per_s"] / results["direct"]["texts_per_s"], 3
        )
        # Same-round ratios too: both modes met the same background load within a round.
        ratios[f"{mode}_vs_direct_per_round"] = [
            round(f["texts_per_s"] / d["texts_per_s"], 3)
            for f, d in zip(rounds[mode], rounds["direct"], strict=True)
        ]
        cosine[mode] = row_cosine(embeddings[mode], embeddings["direct"])
    direct_dtype = "float16" if args.gpus else "float32"  # TextEncoder's auto
    direct_vs_fp32 = None
    if "fp32" in results and "direct" in results:
        direct_vs_fp32 = {
            "direct_dtype": direct_dtype,
            "texts_per_s_ratio": round(
                results["direct"]["texts_per_s"] / results["fp32"]["texts_per_s"], 3
            ),
            "cosine": row_cosine(embeddings["direct"], embeddings["fp32"]),
        }
    if "ray" in results and "direct" in results:
        ratios["ray_vs_direct"] = round(
            results["ray"]["texts_per_s"] / results["direct"]["texts_per_s"], 3
        )
    if "unsorted" in results and "direct" in results:
        ratios["sorted_vs_unsorted"] = round(
            results["direct"]["texts_per_s"] / results["unsorted"]["texts_per_s"], 3
        )
    best = max((r["texts_per_s"] for r in results.values()), default=0.0)
    report = {
        "benchmark": "encode",
        "command": " ".join(
            [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]
        ),
        "env": environment(args.gpus),
        "config": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "model_resolved": args.model or DEFAULT_MODEL,
            "texts": len(texts),
            "mean_tokens": round(float(lengths.mean()), 1),
            "truncated": truncated,
            "direct_dtype": direct_dtype,
        },
        "tokenize_s": round(tokenize_s, 2),
        "results": results,
        "ratios": ratios,
        "cosine_to_fp32": cosine,
        "direct_vs_fp32": direct_vs_fp32,
        "targets": {
            "bf16_vs_direct >= 2": ratios["bf16_vs_direct"] >= 2
            if "bf16_vs_direct" in ratios
            else None,
            "bf16 cosine to fp32 >= 0.99 (every text)": cosine["bf16"]["min"] >= 0.99
            if "bf16" in cosine
            else None,
            "ray_vs_direct >= 0.9": ratios.get("ray_vs_direct", 0) >= 0.9
            if "ray_vs_direct" in ratios
            else None,
            "texts_per_s_per_gpu >= 3000 (BERT-base, 512)": (best / args.gpus >= 3000)
            if args.gpus
            else None,
        },
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    tmp.cleanup()
    return report


if __name__ == "__main__":
    main()
