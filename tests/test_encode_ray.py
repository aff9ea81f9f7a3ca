"""Encoder stage on a real local Ray cluster: the actor pool gives the in-process rows."""

from __future__ import annotations

import numpy as np
import pytest
import ray
from encode_helpers import TINY_MAX_LENGTH, save_tiny_bert, texts_of, tiny_cfg

from genen_scale.encode import TextEncoder, encode_store
from genen_scale.encode.batching import plan_shards
from genen_scale.encode.pool import LocalRunner, RayEncoderPool


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.ray
def test_encode_store_on_ray_pool_matches_in_process(tiny_bert, tiny_store, ray_cluster):
    encode_store(tiny_store, tiny_cfg(tiny_bert, dtype="float32", name="local"))
    cfg = tiny_cfg(
        tiny_bert,
        dtype="float32",
        name="ray",
        use_ray=True,
        num_actors=2,
        threads_per_actor=1,
        texts_per_shard=50,
    )
    encode_store(tiny_store, cfg)
    assert tiny_store.feature_meta("ray")["counts"]["encoded"] == tiny_store.num_nodes
    np.testing.assert_allclose(tiny_store.features("ray"), tiny_store.features("local"), atol=1e-5)
    # A pool that does not fit the cluster is refused up front instead of hanging.
    with pytest.raises(ValueError, match="need 4 CPUs"):
        encode_store(
            tiny_store,
            tiny_cfg(tiny_bert, name="big", use_ray=True, num_actors=2, threads_per_actor=2),
        )


@pytest.mark.ray
def test_pool_spreads_shards_over_actors(tiny_bert, tiny_store, ray_cluster):
    texts = texts_of(tiny_store)
    shards = plan_shards(np.arange(len(texts)), np.full(len(texts), 20), 400, 30)
    jobs = [(s, [texts[i] for i in s.rows]) for s in shards]
    kwargs = {"model": tiny_bert, "max_length": TINY_MAX_LENGTH, "threads": 1}
    pool = RayEncoderPool(2, kwargs, num_cpus=1)
    try:
        out = {s.index: x for s, x in pool.map(jobs)}
        calls = pool.calls()
    finally:
        pool.close()
    assert sorted(out) == list(range(len(shards)))
    assert len(calls) == 2 and min(calls) > 0 and sum(calls) == len(texts)
    for s, x in LocalRunner(TextEncoder(**kwargs)).map(jobs[:3]):
        np.testing.assert_allclose(out[s.index], x, atol=1e-5)
