"""Tasks: loading from the store and user files, targets, losses and scores per kind."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from genen_core.store import LABELS, GraphStore
from genen_scale.tasks.task import Task, build_task, load_task, load_user_task


def _with_extra_labels(store: GraphStore, rows: dict) -> GraphStore:
    """The same store with label rows appended (rewritten in place: the store is per-test)."""
    extra = pa.table(rows, schema=store.labels.schema)
    pq.write_table(pa.concat_tables([store.labels, extra]), store.path / LABELS)
    return GraphStore(store.path)


def test_load_task_binary_matches_label_rows(tiny_store):
    task = load_task(tiny_store, "toy_binary")
    rows = tiny_store.labels.filter(pc.equal(tiny_store.labels["task"], "toy_binary"))
    expect = dict(zip(rows["node"].to_pylist(), rows["label"].to_pylist(), strict=True))

    assert task.kind == "binary" and task.num_outputs == 2
    assert task.nodes.dtype == np.int64 and task.y.dtype == np.int64
    assert len(np.unique(task.nodes)) == len(task) == rows.num_rows
    assert [expect[n] for n in task.nodes.tolist()] == task.y.tolist()
    assert task.missing_genes == []
    assert sum(task.class_counts().values()) == len(task)


def test_load_task_regression_targets(tiny_store):
    task = load_task(tiny_store, "toy_regression")
    rows = tiny_store.labels.filter(pc.equal(tiny_store.labels["task"], "toy_regression"))
    expect = dict(zip(rows["node"].to_pylist(), rows["label"].to_pylist(), strict=True))

    assert task.kind == "regression" and task.num_outputs == 1 and task.classes == []
    assert task.y.dtype == np.float32 and task.y.shape == (len(task),)
    np.testing.assert_allclose(task.y, [expect[n] for n in task.nodes.tolist()], rtol=1e-6)


def test_genes_absent_from_graph_are_counted_and_warned(tiny_store, caplog):
    absent = ["NOTAGENE3", "NOTAGENE1", "NOTAGENE2"]
    store = _with_extra_labels(
        tiny_store,
        {"task": ["toy_binary"] * 3, "gene": absent, "node": [-1] * 3, "label": [0.0, 1.0, 1.0]},
    )
    with caplog.at_level(logging.WARNING, logger="genen_scale.tasks.task"):
        task = load_task(store, "toy_binary")

    assert task.missing_genes == sorted(absent)
    assert len(task) == store.num_genes  # the absent genes are dropped, the rest kept
    assert "3 labelled genes are not in the graph" in caplog.text
    assert "NOTAGENE1" in caplog.text


def test_unknown_task_lists_tasks_and_suggests(tiny_store):
    with pytest.raises(ValueError, match="did you mean 'toy_binary'") as err:
        load_task(tiny_store, "toy_binray")
    assert "toy_regression" in str(err.value)


def test_duplicate_gene_in_single_label_task_is_an_error(tiny_store):
    store = _with_extra_labels(
        tiny_store, {"task": ["toy_binary"], "gene": ["G00007"], "node": [7], "label": [1.0]}
    )
    with pytest.raises(ValueError, match="gene 'G00007' has 2 label rows"):
        load_task(store, "toy_binary")


def test_label_outside_classes_is_an_error():
    with pytest.raises(ValueError, match="gene 'B'.*not a class index"):
        build_task("t", "binary", ["no", "yes"], ["A", "B"], np.array([1.0, 2.0]), np.array([0, 1]))


def test_multilabel_rows_become_multi_hot():
    task = build_task(
        "tf",
        "multilabel",
        ["a", "b", "c"],
        ["X", "Y", "X", "Z"],
        np.array([0.0, 1.0, 2.0, 1.0]),
        np.array([5, 2, 5, -1]),
    )
    assert task.nodes.tolist() == [2, 5]
    assert task.y.tolist() == [[0, 1, 0], [1, 0, 1]]
    assert task.missing_genes == ["Z"]
    assert task.num_outputs == 3
    assert task.class_counts() == {"a": 1, "b": 1, "c": 1}


def test_multilabel_stratify_key_is_rarest_positive_label():
    # Label counts: a=3, b=1, c=2, so the rarity order is b, c, a.
    y = np.array([[1, 1, 0], [1, 0, 1], [1, 0, 1], [0, 0, 0]], dtype=np.float32)
    task = Task("m", "multilabel", np.arange(4), y, ["a", "b", "c"])
    assert task.stratify_key().tolist() == [1, 2, 2, 3]


def _random(kind: str, n: int, c: int, rng) -> Task:
    y = {
        "binary": rng.integers(0, 2, n),
        "multiclass": rng.integers(0, c, n),
        "multilabel": (rng.random((n, c)) < 0.5).astype(np.float32),
        "regression": rng.normal(size=n).astype(np.float32),
    }[kind]
    classes = [] if kind == "regression" else [f"c{i}" for i in range(2 if kind == "binary" else c)]
    return Task("t", kind, np.arange(n), y, classes)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_loss_and_scores_match_torch(kind):
    rng = np.random.default_rng(0)
    task = _random(kind, n=6, c=3, rng=rng)
    logits = torch.from_numpy(rng.normal(size=(6, task.num_outputs)).astype(np.float32))
    y = torch.from_numpy(task.y)

    loss = task.loss(logits, y)
    scores = task.scores(logits)

    if kind in ("binary", "multiclass"):
        assert loss.item() == pytest.approx(F.cross_entropy(logits, y.long()).item())
        probs = torch.softmax(logits, -1).numpy()
        np.testing.assert_allclose(scores, probs[:, 1] if kind == "binary" else probs, rtol=1e-6)
    elif kind == "multilabel":
        assert loss.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits, y).item())
        np.testing.assert_allclose(scores, torch.sigmoid(logits).numpy(), rtol=1e-6)
    else:
        assert loss.item() == pytest.approx(((logits[:, 0] - y) ** 2).mean().item())
        np.testing.assert_allclose(scores, logits[:, 0].numpy())
    assert loss.ndim == 0 and np.isfinite(loss.item())


def _write(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_user_task_kind_follows_the_label_loader(tiny_store, tmp_path):
    text = _write(tmp_path / "loc.csv", ["gene,label", "G00001,Soluble", "G00002,Membrane"])
    reals = _write(tmp_path / "cons.csv", ["gene,label", "G00001,0.25", "G00002,0.5"])
    declared = _write(
        tmp_path / "three.csv",
        ["gene,label,kind", "G00001,c,multiclass", "G00002,a,multiclass", "G00003,b,multiclass"],
    )

    binary = load_user_task(text, tiny_store)
    regression = load_user_task(reals, tiny_store)
    multiclass = load_user_task(declared, tiny_store)

    assert (binary.name, binary.kind, binary.classes) == ("loc", "binary", ["Membrane", "Soluble"])
    assert binary.y.tolist() == [1, 0]  # G00001 Soluble, G00002 Membrane
    assert regression.kind == "regression"
    np.testing.assert_allclose(regression.y, [0.25, 0.5])
    assert multiclass.kind == "multiclass" and multiclass.classes == ["a", "b", "c"]
    assert multiclass.y.tolist() == [2, 0, 1]
    index = tiny_store.gene_index
    assert binary.nodes.tolist() == [index["G00001"], index["G00002"]]


def test_user_task_multilabel_several_tasks_and_missing_genes(tiny_store, tmp_path):
    path = _write(
        tmp_path / "tf.csv",
        [
            "gene,label,task,kind",
            "G00001,x,tf,multilabel",
            "G00001,y,tf,multilabel",
            "G00002,y,tf,multilabel",
            "NOPE,x,tf,multilabel",
            "G00003,0.5,other,regression",
            "G00004,0.7,other,regression",
        ],
    )
    with pytest.raises(ValueError, match=r"holds tasks \['other', 'tf'\]"):
        load_user_task(path, tiny_store)
    task = load_user_task(path, tiny_store, task="tf")
    assert task.name == "tf" and task.kind == "multilabel" and task.classes == ["x", "y"]
    assert task.y.tolist() == [[1, 1], [0, 1]]
    assert task.missing_genes == ["NOPE"]


def test_user_task_errors_name_the_file(tiny_store, tmp_path):
    unknown_layout = _write(tmp_path / "a.csv", ["symbol,value", "G00001,1"])
    with pytest.raises(ValueError, match=r"a\.csv"):
        load_user_task(unknown_layout, tiny_store)
