"""genen-ingest never deletes what is not its own, and a killed commit loses nothing.

Kills are real: the commit runs in a forked child that ``os._exit``s at the chosen step,
so no ``finally`` or ``__exit__`` cleans up after it, as with SIGKILL or a power cut.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import build_tiny_store
from ingest_helpers import write_text, write_tiny_sources

from genen_core.store import STORED_GRAPHS, GraphStore, StoreBuilder, StoreError, swap
from ingest.cli import main

# Filesystem operations of StoreBuilder.commit on an existing store with features, in order.
COMMIT_STEPS = ["copy features", "move old aside", "move new in", "remove old"]


@pytest.fixture
def raw(tmp_path):
    return write_tiny_sources(tmp_path / "raw")


def ingest_args(raw, out, *extra) -> list[str]:
    return [
        "--out", str(out), "--sources.source_dir", str(raw["links"].parent),
        "--labels", str(raw["labels"]), "--summaries", str(raw["summaries"]), *extra,
    ]  # fmt: skip


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genen-ingest: error:"), err
    return err[0]


def snapshot(path) -> dict:
    """Relative path -> bytes of every file under ``path`` (or the file itself)."""
    if path.is_file():
        return {".": path.read_bytes()}
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


# --- --force replaces only a store --------------------------------------------------


@pytest.mark.parametrize("kind", ["user dir", "regular file", "dir with a stray manifest"])
def test_force_refuses_anything_but_a_store_before_parsing(raw, tmp_path, capsys, kind):
    out = tmp_path / "target"
    if kind == "regular file":
        write_text(out, "my notes\n")
    else:
        write_text(out / "thesis.tex", "years of work\n")
        if kind == "dir with a stray manifest":
            write_text(out / "manifest.json", json.dumps({"schema_version": 1}))
            (out / "graph").mkdir()
            write_text(out / "nodes.parquet", "x")
    before = snapshot(out)
    # A broken links file proves the refusal comes before any input is read.
    write_text(raw["links"], "not a links file\n")
    assert main(ingest_args(raw, out, "--force")) == 2
    line = one_error_line(capsys)
    assert f"refusing to replace {out}" in line and "links" not in line
    assert snapshot(out) == before
    assert not swap.leftovers(out)


@pytest.mark.parametrize("where", ["source dir itself", "inside source dir", "labels dir"])
def test_out_must_not_overlap_the_inputs(raw, capsys, where):
    source_dir = raw["links"].parent
    out = {
        "source dir itself": source_dir,
        "inside source dir": source_dir / "stores" / "new",
        "labels dir": raw["labels"],
    }[where]
    before = snapshot(source_dir)
    assert main(ingest_args(raw, out, "--force")) == 2
    line = one_error_line(capsys)
    assert "never into its raw inputs" in line
    assert snapshot(source_dir) == before


def test_input_inside_out_is_refused(raw, tmp_path, capsys):
    out = tmp_path / "store"
    assert main(ingest_args(raw, out)) == 0
    capsys.readouterr()
    labels = write_text(out / "graph" / "mine" / "x.csv", "gene,label\nAAA,1\n").parent
    args = ingest_args(raw, out, "--force")
    args[args.index("--labels") + 1] = str(labels)
    assert main(args) == 2
    assert "is inside out=" in one_error_line(capsys)
    assert (labels / "x.csv").is_file()


def test_missing_labels_dir_fails_before_parsing(raw, tmp_path, capsys):
    write_text(raw["links"], "not a links file\n")
    args = ingest_args(raw, tmp_path / "store")
    args[args.index("--labels") + 1] = str(tmp_path / "no-such-labels")
    assert main(args) == 2
    assert "no-such-labels" in one_error_line(capsys)


def test_unwritable_parent_fails_before_parsing(raw, tmp_path, capsys):
    blocker = write_text(tmp_path / "a-file", "x")
    write_text(raw["links"], "not a links file\n")
    assert main(ingest_args(raw, blocker / "store")) == 2
    line = one_error_line(capsys)
    assert "cannot create the store" in line and "links" not in line


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_read_only_parent_fails_before_parsing(raw, tmp_path, capsys, monkeypatch, code):
    """A read-only mount (EROFS) or a directory without write permission (EACCES), raised
    where the probe lands: root, which CI and this machine run as, ignores mode bits, so
    a chmod 0555 parent would not stop it and the test would always skip."""
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if ".building-" in self.name:
            raise OSError(code, os.strerror(code), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    write_text(raw["links"], "not a links file\n")
    assert main(ingest_args(raw, tmp_path / "store")) == 2
    line = one_error_line(capsys)
    assert "cannot create the store" in line and os.strerror(code) in line
    assert "links" not in line


# --- crash-safe commit ----------------------------------------------------------------


@pytest.fixture
def featured_store(tmp_path) -> GraphStore:
    """The tiny store with an encoded feature matrix, as a user would have it."""
    store = build_tiny_store(tmp_path / "store")
    (store.path / "features").mkdir()
    np.save(
        store.feature_path("enc"), np.arange(store.num_nodes * 4, dtype=np.float32).reshape(-1, 4)
    )
    write_text(store.path / "features" / "enc.json", "{}")
    return store


def rebuild(src: GraphStore, marker: str) -> None:
    """Rebuild ``src`` in place (what genen-ingest --force does), tagged with ``marker``."""
    manifest = {k: v for k, v in src.manifest.items() if k != "schema_version"}
    manifest["params"] = {"marker": marker}
    with StoreBuilder(src.path, force=True) as b:
        for name in STORED_GRAPHS:
            b.write_csr(name, src.csr(name))
        b.write_nodes(src.nodes)
        b.write_labels(src.labels)
        b.commit(manifest)


def killed_rebuild(src: GraphStore, step: int, partial: bool) -> None:
    """:func:`rebuild` in a child process killed at commit step ``step``.

    The child dies just before the step, or (``partial``) halfway through it: a copy dies
    halfway through its first file, a removal after removing one file.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child never returns)
        try:
            calls = iter(range(len(COMMIT_STEPS)))

            def dying(fn, kind):
                def op(*args, **kwargs):
                    if next(calls) == step:
                        if partial and kind != "rename":
                            first = next(p for p in sorted(args[0].rglob("*")) if p.is_file())
                            if kind == "remove":
                                first.unlink()
                            else:
                                args[1].mkdir(parents=True)
                                data = first.read_bytes()  # a half-written copy
                                (args[1] / first.name).write_bytes(data[: len(data) // 2])
                        os._exit(9)
                    return fn(*args, **kwargs)

                return op

            # Patched only in the child, and only from the commit on.
            real_commit = StoreBuilder.commit

            def commit(self, manifest):
                shutil.copytree = dying(shutil.copytree, "copy")
                shutil.rmtree = dying(shutil.rmtree, "remove")
                os.replace = dying(os.replace, "rename")
                return real_commit(self, manifest)

            StoreBuilder.commit = commit
            rebuild(src, "killed")
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9, "the child did not die at the step"


# Killed before each step, and halfway through each step that has a halfway (a rename
# is atomic).
KILLS = [(i, False) for i in range(len(COMMIT_STEPS))]
KILLS += [(i, True) for i, step in enumerate(COMMIT_STEPS) if not step.startswith("move")]


@pytest.mark.parametrize(
    ("step", "partial"),
    KILLS,
    ids=[f"{'during' if p else 'before'} {COMMIT_STEPS[i]}" for i, p in KILLS],
)
def test_kill_at_every_commit_step_is_recovered(featured_store, step, partial):
    path = featured_store.path
    features = snapshot(path / "features")
    old_manifest = featured_store.manifest
    killed_rebuild(featured_store, step, partial)
    assert swap.leftovers(path), "the kill left nothing to recover"

    swap.recover(path)  # what the next build does first
    assert not swap.leftovers(path)
    recovered = GraphStore(path)
    new_in_place = COMMIT_STEPS[step] == "remove old"
    expected = "killed" if new_in_place else old_manifest["params"]["generator"]
    assert expected in json.dumps(recovered.manifest["params"])
    assert snapshot(path / "features") == features
    recovered.features("enc")

    rebuild(recovered, "again")  # and the next build succeeds, features carried over
    assert GraphStore(path).manifest["params"] == {"marker": "again"}
    assert snapshot(path / "features") == features
    assert not swap.leftovers(path)


def test_failed_rename_puts_the_old_store_back(featured_store, monkeypatch):
    path = featured_store.path
    before = snapshot(path)
    real = os.replace

    def replace(src, dst):
        if ".building-" in str(src):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space"):
        rebuild(featured_store, "failed")
    assert snapshot(path) == before
    assert not swap.leftovers(path)


def test_stranded_old_store_is_restored_by_the_next_ingest(raw, tmp_path, capsys):
    out = tmp_path / "store"
    assert main(ingest_args(raw, out)) == 0
    (out / "features").mkdir()
    write_text(out / "features" / "enc.json", '{"kept": true}')
    stranded = swap.leftover_path(out, swap.OLD, dead_pid())
    os.replace(out, stranded)  # the state a kill between the two renames leaves
    capsys.readouterr()
    # Without --force the restored store is simply there again, untouched.
    assert main(ingest_args(raw, out)) == 2
    assert "--force" in one_error_line(capsys)
    assert (out / "features" / "enc.json").read_text() == '{"kept": true}'
    assert main(ingest_args(raw, out, "--force")) == 0
    assert (out / "features" / "enc.json").read_text() == '{"kept": true}'
    assert not swap.leftovers(out)


def test_only_dead_processes_leftovers_are_touched(featured_store):
    path = featured_store.path
    live = swap.leftover_path(path, swap.BUILDING, os.getppid())
    dead = swap.leftover_path(path, swap.BUILDING, dead_pid())
    live.mkdir()
    dead.mkdir()
    swap.recover(path)
    assert live.is_dir() and not dead.exists()


def test_several_stranded_copies_are_left_to_the_user(featured_store):
    path = featured_store.path
    first = swap.leftover_path(path, swap.OLD, dead_pid())
    shutil.copytree(path, first)
    os.replace(path, swap.leftover_path(path, swap.OLD, dead_pid()))
    with pytest.raises(StoreError, match="several earlier copies"):
        StoreBuilder(path, force=True)
    assert len(swap.leftovers(path)) == 2


@pytest.mark.parametrize("flag", ["--edges", "--pins", "--write-pins"])
def test_force_keeps_edges_and_pins_kept_inside_the_old_store(raw, tmp_path, capsys, flag):
    out = tmp_path / "store"
    assert main(ingest_args(raw, out)) == 0
    capsys.readouterr()
    kept = write_text(out / "mine" / "kept.tsv", "AAA\tBBB\n")
    value = f"mine={kept}" if flag == "--edges" else str(kept)
    assert main(ingest_args(raw, out, "--force", flag, value)) == 2
    assert "is inside out=" in one_error_line(capsys)
    assert kept.read_text() == "AAA\tBBB\n"
