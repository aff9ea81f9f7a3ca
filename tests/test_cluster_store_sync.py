"""A store given as a URI is copied once per node, under a node-level lock, and reused."""

from __future__ import annotations

import multiprocessing as mp
import shutil

import numpy as np
import pytest
from conftest import build_tiny_store
from train_helpers import small_args, train_store

from genen_core.store import GraphStore, StoreError
from genen_scale.store_sync import is_uri, local_store, store_location, sync_store
from genen_scale.train import main as train_main


@pytest.fixture
def remote(tmp_path):
    """A tiny store standing for the remote one, and its ``file://`` URI."""
    store = build_tiny_store(tmp_path / "remote" / "store")
    return store, store.path.resolve().as_uri()


def test_paths_are_used_as_they_are(tmp_path):
    assert not is_uri(str(tmp_path)) and is_uri("s3://bucket/store") and is_uri("file:///x")
    assert local_store(tmp_path / "s", tmp_path / "cache") == tmp_path / "s"
    assert not (tmp_path / "cache").exists()  # nothing copied for a path
    assert store_location("gs://b/s") == "gs://b/s"
    assert store_location("rel") == str((tmp_path.cwd() / "rel").resolve())


def test_uri_is_copied_once_and_again_when_it_changes(remote, tmp_path):
    store, uri = remote
    cache = tmp_path / "cache"
    first = sync_store(uri, cache)
    assert first.copied and first.bytes > 0
    copy = GraphStore.open(first.path)
    assert first.path.is_relative_to(cache) and copy.path != store.path
    np.testing.assert_array_equal(copy.csr("go_ppi").indices, store.csr("go_ppi").indices)
    assert copy.nodes.equals(store.nodes)

    again = sync_store(uri, cache)
    assert not again.copied and again.path == first.path
    assert again.fingerprint == first.fingerprint

    # genen-encode adds features to the remote store after it was first copied.
    (store.path / "features").mkdir()
    np.save(store.path / "features" / "f.npy", np.ones((store.num_nodes, 2), np.float32))
    changed = sync_store(uri, cache)
    assert changed.copied and changed.fingerprint != first.fingerprint
    assert GraphStore.open(changed.path).features("f").shape == (store.num_nodes, 2)


def _sync_at_once(uri, cache, barrier, results):
    barrier.wait()  # both processes reach the lock together
    r = sync_store(uri, cache)
    results.put((r.copied, str(r.path)))


def test_two_workers_on_one_node_copy_once(remote, tmp_path):
    _, uri = remote
    cache = tmp_path / "cache"
    ctx = mp.get_context("fork")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_sync_at_once, args=(uri, cache, barrier, results)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    got = sorted(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert [copied for copied, _ in got] == [False, True]  # one copied, the other reused it
    assert got[0][1] == got[1][1]
    assert not (cache / next(cache.glob("*.lock")).stem / "incoming").exists()


def test_uri_that_is_no_store_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="not a store"):
        sync_store((tmp_path / "empty").as_uri(), tmp_path / "cache")
    assert not (tmp_path / "cache" / "store").exists()


def test_training_reads_a_store_uri(tmp_path, capsys):
    store = train_store(tmp_path / "remote")
    cache = tmp_path / "cache"
    args = small_args(store, tmp_path / "out", "--optim.epochs", "2", "--eval.folds_to_run", "[0]")
    args[args.index("--data.store") + 1] = store.path.resolve().as_uri()
    assert train_main([*args, "--data.store_cache", str(cache), "--eval.baselines", "[]"]) == 0
    assert "| toy_binary | gcn | ppi |" in capsys.readouterr().out
    (copy,) = cache.glob("*/store")
    assert (copy / "features" / "test.npy").is_file()
    shutil.rmtree(store.path)  # the run read the copy, which stays usable alone
    assert GraphStore.open(copy).num_nodes == 360
