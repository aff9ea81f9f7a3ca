"""genen_core.files: gzip told by content, atomic writes that leave nothing half-written."""

from __future__ import annotations

import gzip

import pytest

from genen_core.files import atomic_path, is_gzip, open_maybe_gzip, write_text_atomic


def test_gzip_is_told_by_content_not_name(tmp_path):
    packed, plain = tmp_path / "a.txt", tmp_path / "b.gz"  # names that lie
    packed.write_bytes(gzip.compress(b"one\ntwo\n"))
    plain.write_text("one\ntwo\n")
    assert is_gzip(packed) and not is_gzip(plain)
    for path in (packed, plain):
        with open_maybe_gzip(path, "rt", encoding="utf-8") as f:
            assert f.read() == "one\ntwo\n"


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_text_atomic(path, "old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failed_atomic_write_keeps_the_previous_file_and_no_partial(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("previous")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
