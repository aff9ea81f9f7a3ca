"""Runners that turn shards of texts into embedding rows: in-process or a Ray actor pool.

Both runners take ``(shard, texts)`` pairs and yield ``(shard, embeddings)`` as shards
finish (in completion order, not plan order); the caller writes the rows and records
progress. Only this module imports Ray.

Why plain actors rather than Ray Data ``map_batches`` with an actor pool: our batches are
length-sorted and token-budgeted (Ray Data cuts fixed row counts), the rows must land in a
memory-mapped file at their node index with a per-shard progress record for resuming
(Ray Data would hand back a dataset to be written out again), and a pool of plain actors
fed by ``ray.wait`` is a few lines with no extra moving parts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from genen_scale.encode.batching import Shard
from genen_scale.encode.model import TextEncoder

log = logging.getLogger(__name__)

Job = tuple[Shard, list[str]]


class EncoderActor:
    """Stateful encoder for one Ray actor: loads tokenizer and model once, then encodes shards.

    Wrapped with ``ray.remote`` by :class:`RayEncoderPool`; kept a plain class so that it
    can be tested and used without Ray. The device is the one Ray assigned (Ray sets
    ``CUDA_VISIBLE_DEVICES`` for a ``num_gpus=1`` actor, so ``cuda`` is that GPU).
    """

    def __init__(self, **encoder_kwargs: Any):
        self.encoder = TextEncoder(**encoder_kwargs)

    def info(self) -> dict:
        """Dimension, device and number of texts encoded so far."""
        return {
            "dim": self.encoder.dim,
            "device": str(self.encoder.device),
            "calls": self.encoder.calls,
        }

    def __call__(self, texts: list[str], sizes: tuple[int, ...]) -> np.ndarray:
        """Encode one shard. Shapes: returns ``[len(texts), dim]`` float32."""
        return self.encoder.encode_batches(texts, sizes)

    # Ray actor handles call methods by name; ``encode`` is ``__call__`` under one.
    encode = __call__


class LocalRunner:
    """Encodes shards one after another in this process (small runs, tests, baselines)."""

    def __init__(self, encoder: TextEncoder):
        self.encoder = encoder

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Shard, np.ndarray]]:
        for shard, texts in jobs:
            yield shard, self.encoder.encode_batches(texts, shard.sizes)

    def close(self) -> None:
        pass


class RayEncoderPool:
    """A pool of :class:`EncoderActor` s fed shard by shard.

    Each actor keeps ``in_flight`` shards queued so it never waits for the driver between
    shards; a slow (long-text) shard holds up only its own actor.

    Args:
        num_actors: Actors to start.
        encoder_kwargs: Passed to :class:`~genen_scale.encode.model.TextEncoder`.
        num_gpus: GPUs per actor (1 for GPU encoding, 0 for CPU).
        num_cpus: CPUs reserved per actor; for CPU actors, also their torch threads.
        in_flight: Shards queued per actor.
    """

    def __init__(
        self,
        num_actors: int,
        encoder_kwargs: dict,
        num_gpus: float = 0,
        num_cpus: float = 1,
        in_flight: int = 2,
    ):
        import ray

        if not ray.is_initialized():
            raise RuntimeError("RayEncoderPool needs ray.init() first")
        self._ray = ray
        actor_cls = ray.remote(EncoderActor).options(num_gpus=num_gpus, num_cpus=num_cpus)
        self.actors = [actor_cls.remote(**encoder_kwargs) for _ in range(num_actors)]
        self.in_flight = in_flight
        # Blocks until every actor has loaded its model, so load errors surface here.
        try:
            infos = ray.get([a.info.remote() for a in self.actors])
        except BaseException:
            self.close()
            raise
        self.dim = int(infos[0]["dim"])
        log.info(
            "started %d encoder actors on %s", num_actors, sorted({i["device"] for i in infos})
        )

    def calls(self) -> list[int]:
        """Texts sent to each actor's model so far."""
        return [i["calls"] for i in self._ray.get([a.info.remote() for a in self.actors])]

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Shard, np.ndarray]]:
        ray = self._ray
        jobs = iter(jobs)
        pending: dict = {}

        def submit(actor) -> None:
            job = next(jobs, None)
            if job is not None:
                shard, texts = job
                pending[actor.encode.remote(texts, shard.sizes)] = (shard, actor)

        for _ in range(self.in_flight):
            for actor in self.actors:
                submit(actor)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            shard, actor = pending.pop(ref)
            rows = ray.get(ref)
            submit(actor)
            yield shard, rows

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self.actors = []
