"""genen-train's bad inputs end in one error line and exit 2, before any training."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_helpers import FEATURES, small_args, train_store

from genen_scale.train import main


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("inputs") / "store")


def one_error_line(capsys) -> str:
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    return line


def args(store, tmp_path, *extra) -> list[str]:
    return small_args(store, tmp_path / "out", "--eval.folds_to_run", "[0]", *extra)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_features_with_nan_fail_before_training(store, tmp_path, capsys, value):
    x = np.load(store.path / "features" / f"{FEATURES}.npy")
    x[3, 2] = value
    np.save(store.path / "features" / "bad.npy", x)
    (store.path / "features" / "bad.json").write_text(json.dumps({"model": "m", "dim": 1}))
    assert main([*args(store, tmp_path), "--data.features", "bad"]) == 2
    line = one_error_line(capsys)
    assert "features 'bad'" in line and "first row 3" in line and "column 2" in line
    assert not list((tmp_path / "out").glob("*/metrics.parquet"))


def test_store_cache_that_is_a_file_is_one_line(store, tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.write_text("a file")
    argv = args(store, tmp_path, "--data.store_cache", str(cache))
    argv[argv.index("--data.store") + 1] = store.path.resolve().as_uri()
    assert main(argv) == 2
    assert f"store cache {cache} cannot be used as a folder" in one_error_line(capsys)
    assert cache.read_text() == "a file"
