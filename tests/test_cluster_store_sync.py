"""A store given as a URI is copied once per node, under a node-level lock, and reused."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import time

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from conftest import build_tiny_store
from train_helpers import small_args, train_store

from genen_core.store import GraphStore, StoreError
from genen_scale.ray_env.store_sync import is_uri, local_store, store_location, sync_store
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


class ListsMore(pafs.FileSystemHandler):
    """A local store seen through an object store that also lists ``extra`` keys (S3 and
    GCS allow ``..`` and empty parts in keys); their bytes are ``b"owned"``."""

    def __init__(self, extra: list[str]):
        self.local, self.extra = pafs.LocalFileSystem(), extra

    def get_type_name(self):
        return "lists-more"

    def normalize_path(self, path):
        return path

    def get_file_info(self, paths):
        return [
            pafs.FileInfo(p, pafs.FileType.File, size=5)
            if p in self.extra
            else self.local.get_file_info(p)
            for p in paths
        ]

    def get_file_info_selector(self, selector):
        found = self.local.get_file_info(selector)
        return found + [pafs.FileInfo(p, pafs.FileType.File, size=5) for p in self.extra]

    def open_input_stream(self, path):
        return (
            pa.BufferReader(b"owned") if path in self.extra else self.local.open_input_stream(path)
        )

    def open_input_file(self, path):
        return pa.BufferReader(b"owned") if path in self.extra else self.local.open_input_file(path)

    def _refuse(self, *args, **kwargs):
        raise NotImplementedError("read-only")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _refuse
    delete_file = move = copy_file = open_output_stream = open_append_stream = _refuse


@pytest.mark.parametrize("key", ["../../../owned.txt", "features/../../../../owned.txt", "a//b"])
def test_listed_keys_never_land_outside_the_cache(remote, tmp_path, monkeypatch, key):
    store, uri = remote
    root = str(store.path.resolve())
    fs = pafs.PyFileSystem(ListsMore([f"{root}/{key}"]))
    monkeypatch.setattr("genen_scale.ray_env.store_sync.open_uri", lambda u: (fs, root))
    cache = tmp_path / "deep" / "er" / "cache"
    with pytest.raises(StoreError, match="lists the key .*nothing was copied"):
        sync_store(uri, cache)
    assert not list(tmp_path.rglob("owned.txt"))
    assert not list(cache.glob("*/incoming")) and not list(cache.glob("*/store"))


def test_rewritten_features_of_the_same_shape_are_copied_again(remote, tmp_path):
    store, uri = remote
    cache = tmp_path / "cache"
    (store.path / "features").mkdir()
    npy = store.path / "features" / "f.npy"
    np.save(npy, np.ones((store.num_nodes, 2), np.float32))
    first = sync_store(uri, cache)
    np.save(npy, np.full((store.num_nodes, 2), 7, np.float32))  # re-encoded: same bytes count
    again = sync_store(uri, cache)
    assert again.copied and again.fingerprint != first.fingerprint
    assert (GraphStore.open(again.path).features("f")[:] == 7).all()


def test_large_files_are_fingerprinted_by_modification_time(remote, tmp_path, monkeypatch):
    store, uri = remote
    monkeypatch.setattr("genen_scale.ray_env.store_sync.CONTENT_BYTES", 0)  # every file is "large"
    first = sync_store(uri, tmp_path / "cache")
    manifest = store.path / "manifest.json"
    os.utime(manifest, ns=(manifest.stat().st_atime_ns, manifest.stat().st_mtime_ns + 10**9))
    assert sync_store(uri, tmp_path / "cache").fingerprint != first.fingerprint


def test_unreachable_gs_store_gives_up_with_a_line(tmp_path, monkeypatch, caplog):
    """No network or credentials here (or a bucket that does not exist): it must end."""
    monkeypatch.setattr("genen_scale.ray_env.store_sync.REMOTE_TIMEOUT_S", 2)
    start = time.monotonic()
    with caplog.at_level(logging.INFO), pytest.raises(StoreError, match="gs://genen-no-such"):
        sync_store("gs://genen-no-such-bucket-21/store", tmp_path / "cache")
    assert time.monotonic() - start < 30
    assert "gs://genen-no-such-bucket-21/store: listing it" in caplog.text
