"""In-process training (Ray Train local mode) on the tiny store: outcomes, artefacts, errors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from train_helpers import (
    FEATURES,
    assert_scored_as_the_whole_graph,
    small_args,
    small_config,
    train_store,
)

from genen_core.config import ConfigError
from genen_scale.models.gnn import build_model
from genen_scale.tasks.task import load_task
from genen_scale.train import main, parse_args
from genen_scale.training import TrainError, run, stacked_loop
from genen_scale.training import loop as loop_module
from genen_scale.training.inputs import load_inputs, mask_genes


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("train") / "store")


@pytest.fixture(scope="module")
def finished(store, tmp_path_factory):
    """One in-process run shared by the outcome and artefact tests."""
    cfg = small_config(store, tmp_path_factory.mktemp("out"), "--run_name", "r")
    run_dir, summary = run(cfg)
    return cfg, run_dir, summary


def test_loss_falls_and_val_beats_chance(finished):
    _, run_dir, _ = finished
    history = json.loads((run_dir / "history.json").read_text())
    assert set(history) == {"0", "1"}
    for epochs in history.values():
        assert epochs[-1]["loss"] < epochs[0]["loss"]
        assert max(e["val_auc"] for e in epochs) > 0.5
        assert all(0 < e["loading_share"] < 1 and e["seeds_per_s"] > 0 for e in epochs)


def test_metrics_split_by_study_group(finished, store):
    _, run_dir, summary = finished
    table = pd.read_parquet(run_dir / "metrics.parquet")
    # Every model row (GNN and baselines) carries the knowledge-bias comparison.
    assert table[["auc_less_studied", "auc_well_studied"]].notna().all().all()
    assert summary[["less_studied", "well_studied"]].notna().all().all()


def test_results_directory_has_every_artefact(finished, store):
    cfg, run_dir, summary = finished
    for name in (
        "config.yaml",
        "provenance.json",
        "metrics.parquet",
        "metrics.json",
        "history.json",
        "summary.md",
        "summary.json",
        "embeddings.npy",
    ):
        assert (run_dir / name).is_file(), name
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["store_manifest"] == store.manifest and prov["git_revision"]
    table = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    # GNN and logreg baseline, each on folds 0 and 1.
    assert sorted(zip(table["model"], table["fold"], strict=True)) == [
        ("gcn", 0),
        ("gcn", 1),
        ("logreg", 0),
        ("logreg", 1),
    ]
    records = json.loads((run_dir / "metrics.json").read_text())
    assert [(r["model"], r["fold"]) for r in records] == list(
        zip(table["model"], table["fold"], strict=True)
    )
    assert [r["auc"] for r in records] == pytest.approx(list(table["auc"]), rel=1e-12)
    assert list(summary["model"]) == ["gcn", "logreg"]
    assert "| toy_binary | gcn | ppi |" in (run_dir / "summary.md").read_text()
    for k in (0, 1):
        emb = np.load(run_dir / f"embeddings_fold{k}.npy")
        assert emb.shape == (store.num_genes, cfg.model.hidden) and np.isfinite(emb).all()
    best = json.loads((run_dir / "summary.json").read_text())["embeddings_npy_fold"]
    assert np.array_equal(
        np.load(run_dir / "embeddings.npy"), np.load(run_dir / f"embeddings_fold{best}.npy")
    )


def test_best_checkpoint_reproduces_the_embeddings(finished, store):
    """The saved best state, run over the whole graph with fanouts covering every
    neighbour, matches a full-graph forward pass of the same weights (sampling-free)."""
    cfg, run_dir, _ = finished
    x = torch.from_numpy(np.load(store.feature_path(FEATURES)))
    model = build_model(cfg.model, x.shape[1], 2, store.csr("ppi").nnz)
    model.load_state_dict(torch.load(run_dir / "checkpoints" / "best_fold0.pt"))
    model.eval()
    data = store.to_pyg("ppi")
    with torch.no_grad():
        full = model.embed(x, data.edge_index.flip(0), data.edge_weight)[: store.num_genes]
    emb = torch.from_numpy(np.load(run_dir / "embeddings_fold0.npy"))
    # Fanout 5 samples some neighbours of high-degree genes only: equal where degree <= 5
    # within two hops is not cheap to select, so compare the correlation of the two.
    assert torch.corrcoef(torch.stack([full.flatten(), emb.flatten()]))[0, 1] > 0.9


def test_same_seed_gives_identical_metrics(store, tmp_path):
    once = ("--eval.folds_to_run", "[0]", "--optim.epochs", "3", "--eval.baselines", "[]")
    a, b = (run(small_config(store, tmp_path, "--run_name", name, *once))[0] for name in "ab")
    assert (a / "metrics.json").read_text() == (b / "metrics.json").read_text()
    ha, hb = (json.loads((d / "history.json").read_text())["0"] for d in (a, b))
    assert [e["loss"] for e in ha] == [e["loss"] for e in hb]
    assert np.array_equal(np.load(a / "embeddings.npy"), np.load(b / "embeddings.npy"))


def _crash_and_resume(store, tmp_path, monkeypatch, extra):
    """Run ``extra`` uninterrupted (``ref``), then again crashing at the sixth booked epoch
    (of two folds of 4 epochs alone: fold 1, epoch 1), then resume the crashed run.

    Returns:
        ``ref``, the resumed run's directory and how many epochs the resumed run trained.
    """
    ref, _ = run(small_config(store, tmp_path, "--run_name", "ref", *extra))

    real, calls = loop_module.record_epoch, {"n": 0, "resumed": 0}

    def crash_at_the_sixth_epoch_record(*args, **kwargs):  # alone: fold 1, epoch 1
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    def count(*args, **kwargs):
        calls["resumed"] += 1
        return real(*args, **kwargs)

    for module in (loop_module, stacked_loop):
        monkeypatch.setattr(module, "record_epoch", crash_at_the_sixth_epoch_record)
    with pytest.raises(KeyboardInterrupt):
        run(small_config(store, tmp_path, "--run_name", "crashed", *extra))
    for module in (loop_module, stacked_loop):
        monkeypatch.setattr(module, "record_epoch", count)
    resumed, _ = run(small_config(store, tmp_path, "--run_name", "crashed", "--resume", *extra))
    return ref, resumed, calls["resumed"]


@pytest.mark.parametrize(
    "stacked,schedule,lr",
    [("true", "none", "0.01"), ("false", "none", "0.01"), ("false", "plateau", "0.5")],
)
def test_resume_after_a_crash_replays_the_uninterrupted_run(
    store, tmp_path, monkeypatch, stacked, schedule, lr
):
    # plateau with patience 0 lowers the rate after every epoch without progress (a
    # large rate makes the validation loss stall), so a resume that lost the schedule's
    # state would train at another rate.
    extra = (
        "--eval.folds_to_run", "[0, 1]", "--optim.epochs", "4", "--eval.baselines", "[]",
        "--scaling.stack_folds", stacked, "--scaling.checkpoint_every", "1",
        "--optim.scheduler", schedule, "--optim.scheduler_patience", "0", "--optim.lr", lr,
    )  # fmt: skip
    ref, resumed, _ = _crash_and_resume(store, tmp_path, monkeypatch, extra)
    assert (resumed / "metrics.json").read_text() == (ref / "metrics.json").read_text()
    losses = [
        [e["loss"] for e in json.loads((d / "history.json").read_text())["1"]]
        for d in (ref, resumed)
    ]
    assert losses[0] == losses[1]
    lrs = [e["lr"] for e in json.loads((ref / "history.json").read_text())["1"]]
    assert (len(set(lrs)) > 1) == (schedule == "plateau"), lrs


@pytest.mark.parametrize("arch", ["gcn", "gat"])
def test_sampled_resume_after_a_crash_replays_the_uninterrupted_run(
    store, tmp_path, monkeypatch, arch
):
    """Sampled neighbourhoods (a new sample of every batch each epoch, a fixed sample for
    evaluation) resume exactly too: the resumed run trains only the epochs the crash
    lost and ends where the uninterrupted run ended."""
    extra = (
        "--data.full_batch", "false", "--model.arch", arch, "--eval.folds_to_run", "[0, 1]",
        "--optim.epochs", "4", "--eval.baselines", "[]", "--scaling.checkpoint_every", "1",
    )  # fmt: skip
    ref, resumed, trained = _crash_and_resume(store, tmp_path, monkeypatch, extra)
    # Fold 0 had finished; fold 1 continues from its checkpoint after epoch 0.
    assert trained == 3
    assert (resumed / "metrics.json").read_text() == (ref / "metrics.json").read_text()
    hr, hc = (json.loads((d / "history.json").read_text()) for d in (ref, resumed))
    for k in ("0", "1"):
        assert [(e["loss"], e["val_auc"]) for e in hr[k]] == [
            (e["loss"], e["val_auc"]) for e in hc[k]
        ]
        assert "stacked_folds" not in hr[k][0]  # sampled runs go fold by fold
    for k in (0, 1):
        emb = (np.load(d / f"embeddings_fold{k}.npy") for d in (ref, resumed))
        assert np.array_equal(*emb)


def test_gat_trains_on_sampled_neighbourhoods(store, tmp_path, caplog):
    """GAT through the sampled training loop: it learns, and with every neighbour
    sampled its evaluation scores what the whole graph does."""
    cfg = small_config(
        store, tmp_path, "--model.arch", "gat", "--data.full_batch", "false",
        "--data.fanouts", "[-1, -1]", "--eval.folds_to_run", "[0]", "--eval.baselines", "[]",
    )  # fmt: skip
    with caplog.at_level("INFO"):
        run_dir, summary = run(cfg)
    assert "training on sampled neighbourhoods" in caplog.text
    history = json.loads((run_dir / "history.json").read_text())["0"]
    assert history[-1]["loss"] < history[0]["loss"] and summary["mean"].iloc[0] > 0.8
    assert_scored_as_the_whole_graph(run_dir, cfg)


def test_stacked_folds_equal_folds_trained_alone(store, tmp_path):
    """One stacked model over both folds = each fold trained alone from the same seed."""
    extra = ("--eval.baselines", "[]", "--data.full_batch", "--optim.patience", "2")
    stacked, _ = run(
        small_config(store, tmp_path, "--run_name", "s", "--scaling.stack_folds", "true", *extra)
    )
    alone, _ = run(
        small_config(store, tmp_path, "--run_name", "a", "--scaling.stack_folds", "false", *extra)
    )
    hs, ha = (json.loads((d / "history.json").read_text()) for d in (stacked, alone))
    assert all(e["stacked_folds"] >= 1 for e in hs["0"]) and "stacked_folds" not in ha["0"][0]
    for k in ("0", "1"):
        assert len(hs[k]) == len(ha[k])  # the same early stop
        assert [e["loss"] for e in hs[k]] == pytest.approx([e["loss"] for e in ha[k]], rel=1e-5)
        assert [e["val_auc"] for e in hs[k]] == pytest.approx(
            [e["val_auc"] for e in ha[k]], abs=1e-6
        )
    ms, ma = (pd.read_parquet(d / "metrics.parquet") for d in (stacked, alone))
    assert ms["auc"].to_numpy() == pytest.approx(ma["auc"].to_numpy(), abs=1e-6)
    for k in (0, 1):
        np.testing.assert_allclose(
            np.load(stacked / f"embeddings_fold{k}.npy"),
            np.load(alone / f"embeddings_fold{k}.npy"),
            rtol=1e-4,
            atol=1e-5,
        )


@pytest.mark.parametrize("arch", ["gcn", "gat"])
def test_bfloat16_mixed_precision_tracks_float32(store, tmp_path, arch):
    """scaling.precision bfloat16: the same run in mixed precision, float32 outputs, and
    per-epoch losses close to the float32 run (bfloat16 keeps ~3 significant digits)."""
    extra = ("--eval.baselines", "[]", "--data.full_batch", "--model.arch", arch)
    ref, _ = run(small_config(store, tmp_path, "--run_name", f"f32{arch}", *extra))
    mixed, _ = run(
        small_config(
            store, tmp_path, "--run_name", f"b16{arch}", "--scaling.precision", "bfloat16", *extra
        )
    )
    hr, hm = (json.loads((d / "history.json").read_text()) for d in (ref, mixed))
    for k in ("0", "1"):
        lr, lm = ([e["loss"] for e in h[k][:3]] for h in (hr, hm))
        assert lm == pytest.approx(lr, rel=0.02) and lm != lr  # close, and really bfloat16
    emb = np.load(mixed / "embeddings_fold0.npy")
    assert emb.dtype == np.float32 and np.isfinite(emb).all()
    assert np.isfinite(pd.read_parquet(mixed / "metrics.parquet")["auc"]).all()


def test_unknown_key_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        parse_args(["--optim.lrr", "0.1"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data.graph", "ppi+"], "not a graph variant"),
        (["--model.arch", "sage"], "arch"),
        (["--data.fanouts", "[5]"], "give 2 fanouts"),  # the demo: 1 hidden layer
        (["--preset", "mlp"], "unknown preset"),
    ],
)
def test_bad_values_are_config_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        parse_args(args)


def test_preset_sets_the_model_section():
    cfg = parse_args(["--preset", "gat", "--model.hidden", "32"])
    assert (cfg.model.arch, cfg.model.layers, cfg.model.hidden) == ("gat", 2, 32)
    assert len(cfg.data.fanouts) == cfg.model.num_hops


def test_unknown_task_names_the_tasks(store, tmp_path):
    with pytest.raises(TrainError, match="no task 'toy_binarry'; did you mean 'toy_binary'"):
        run(small_config(store, tmp_path, "--data.task", "toy_binarry"))


def test_missing_features_point_to_genen_encode(store, tmp_path):
    with pytest.raises(TrainError, match="genen-encode"):
        run(small_config(store, tmp_path, "--data.features", "minilm"))


def test_class_smaller_than_folds(store, tmp_path):
    n = min(load_task(store, "toy_binary").class_counts().values())
    with pytest.raises(TrainError, match="fewer than"):
        run(small_config(store, tmp_path, "--eval.folds", str(n + 1), "--eval.folds_to_run", "[0]"))


def test_label_genes_outside_the_graph_are_counted(store, tmp_path, caplog):
    labels = store.labels.to_pandas()
    extra = pd.DataFrame(
        {
            "task": ["toy_binary"] * 3,
            "gene": ["NOPE1", "NOPE2", "NOPE3"],
            "node": [-1] * 3,
            "label": [0.0, 1.0, 0.0],
        }
    )
    moved = tmp_path / "labels.parquet"
    (store.path / "labels.parquet").rename(moved)
    try:
        pd.concat([labels, extra]).to_parquet(store.path / "labels.parquet", index=False)
        store.__dict__.pop("labels", None)
        cfg = small_config(
            store,
            tmp_path,
            "--eval.folds_to_run",
            "[0]",
            "--optim.epochs",
            "1",
            "--eval.baselines",
            "[]",
        )
        with caplog.at_level("WARNING"):
            run(cfg)
    finally:
        moved.replace(store.path / "labels.parquet")
        store.__dict__.pop("labels", None)
    assert "3 of 303 labelled genes are not nodes" in caplog.text


def test_user_label_file_is_a_task(store, tmp_path):
    labels = load_task(store, "toy_binary")
    genes = [store.nodes.column("key")[int(n)].as_py() for n in labels.nodes]
    path = tmp_path / "my_labels.csv"
    pd.DataFrame({"gene": genes, "label": np.where(labels.y == 1, "yes", "no")}).to_csv(
        path, index=False
    )
    cfg = small_config(
        store,
        tmp_path,
        "--data.task",
        str(path),
        "--eval.folds_to_run",
        "[0]",
        "--eval.baselines",
        "[]",
    )
    run_dir, summary = run(cfg)
    assert run_dir.name.startswith("my_labels-") and summary["task"].iloc[0] == "my_labels"
    assert summary["mean"].iloc[0] > 0.5


def test_main_prints_one_line_errors(store, tmp_path, capsys):
    code = main(small_args(store, tmp_path, "--data.task", "nope"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no task 'nope'" in err[0]


def test_full_batch_training_learns(store, tmp_path):
    cfg = small_config(
        store, tmp_path, "--data.full_batch", "--eval.folds_to_run", "[0]", "--eval.baselines", "[]"
    )
    run_dir, summary = run(cfg)
    losses = [e["loss"] for e in json.loads((run_dir / "history.json").read_text())["0"]]
    assert losses[-1] < losses[0] and summary["mean"].iloc[0] > 0.5


@pytest.mark.parametrize("stack", ["true", "false"])
def test_receptive_field_run_equals_the_whole_graph_run(store, tmp_path, caplog, stack):
    """data.receptive_field (the default in full batch): the same run as over the whole
    graph, up to float reassociation (no dropout, so the same masks), and it says so."""
    extra = ("--eval.baselines", "[]", "--data.full_batch", "--model.dropout", "0",
             "--model.layers", "2", "--data.fanouts", "[5, 5, 5]", "--scaling.stack_folds", stack)  # fmt: skip
    with caplog.at_level("INFO"):
        trimmed, _ = run(small_config(store, tmp_path, "--run_name", "t", *extra))
    assert "receptive field" in caplog.text
    whole, _ = run(
        small_config(store, tmp_path, "--run_name", "w", "--data.receptive_field", "false", *extra)
    )
    ht, hw = (json.loads((d / "history.json").read_text()) for d in (trimmed, whole))
    for k in ("0", "1"):
        assert [e["loss"] for e in ht[k]] == pytest.approx([e["loss"] for e in hw[k]], rel=1e-4)
    mt, mw = (pd.read_parquet(d / "metrics.parquet") for d in (trimmed, whole))
    assert mt["auc"].to_numpy() == pytest.approx(mw["auc"].to_numpy(), abs=1e-4)
    np.testing.assert_allclose(
        np.load(trimmed / "embeddings_fold0.npy"), np.load(whole / "embeddings_fold0.npy"),
        rtol=1e-3, atol=1e-4,
    )  # fmt: skip


def test_masking_zeroes_a_seeded_share_of_genes(store):
    cfg = small_config(store, store.path, "--data.mask_rate", "0.25")
    inputs = load_inputs(str(store.path), cfg.data, cfg.eval, cfg.seed)
    zero = (inputs.x[: store.num_genes] == 0).all(dim=1).nonzero().flatten().numpy()
    assert np.array_equal(zero, mask_genes(store.num_genes, 0.25, cfg.seed))
    assert len(zero) == round(0.25 * store.num_genes)
    assert not (inputs.x[store.num_genes :] == 0).all(dim=1).any()  # GO terms keep their text
    assert not np.array_equal(zero, mask_genes(store.num_genes, 0.25, cfg.seed + 1))


def test_demo_defaults_apply_only_to_the_demo_and_unset_keys(tmp_path):
    demo = parse_args([])
    assert (demo.model.layers, demo.optim.epochs, demo.data.fanouts) == (1, 60, [10, 10])
    assert parse_args(["--model.layers", "2"]).model.layers == 2
    assert parse_args(["--data.store", str(tmp_path)]).model.layers == 3
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim:\n  epochs: 7\n")
    assert parse_args(["--config", str(cfg)]).optim.epochs == 7
    assert parse_args(["--preset", "gcn"]).model.layers == 3  # a preset sets the model


def test_sampled_training_learns_with_per_batch_adjacency(store, tmp_path):
    cfg = small_config(
        store,
        tmp_path,
        "--data.full_batch",
        "false",
        "--eval.folds_to_run",
        "[0]",
        "--eval.baselines",
        "[]",
    )
    run_dir, summary = run(cfg)
    history = json.loads((run_dir / "history.json").read_text())["0"]
    assert history[-1]["loss"] < history[0]["loss"] and summary["mean"].iloc[0] > 0.5
    assert "stacked_folds" not in history[0]  # sampled runs go fold by fold


def test_full_batch_auto_follows_the_memory_budget(store, caplog):
    from genen_scale.training.batches import resolve_full_batch

    cfg = small_config(store, store.path)
    csr = store.csr("ppi")
    with caplog.at_level("INFO"):
        assert resolve_full_batch(cfg.data, cfg.model, csr, 64)
        tight = dataclasses.replace(cfg.data, full_batch_memory_gb=1e-6)
        assert not resolve_full_batch(tight, cfg.model, csr, 64)
    assert (
        "full batch (auto: estimated" in caplog.text and "over the 1e-06 GiB budget" in caplog.text
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_full_batch_auto_trains_ddp_workers_on_sampled_neighbourhoods(store, caplog, workers):
    """Every DDP worker would compute the whole graph in full batch (issue 24: 0.23 of
    linear on 2 workers), so ``auto`` samples there and says why; one worker (or Ray
    Train's local mode) keeps full batch where it fits, and ``true`` stays full batch."""
    from genen_scale.training.batches import run_batches

    def batches(*extra: str):
        cfg = small_config(store, store.path, "--scaling.num_workers", str(workers), *extra)
        inputs = load_inputs(str(store.path), cfg.data, cfg.eval, cfg.seed)
        nodes = torch.from_numpy(inputs.task.nodes)
        return run_batches(cfg, inputs.csr, inputs.x, nodes, 1, torch.device("cpu"))

    with caplog.at_level("INFO"):
        assert batches().full_batch is (workers == 1)
        assert batches("--data.full_batch", "true").full_batch
    ddp = "auto: 2 DDP workers; in full batch every DDP worker computes the whole graph"
    assert (ddp in caplog.text) is (workers == 2)
    assert ("0.23 of linear (issue 24" in caplog.text) is (workers == 2)
    warned = [r for r in caplog.records if r.levelname == "WARNING" and "duplicates" in r.message]
    assert len(warned) == (workers == 2)
