"""The authors' masking design: warm starts (``init_from``) and a chain of rates."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pandas as pd
import pytest
import torch
from train_helpers import small_args, small_config, train_store

from genen_scale.report import masking_designs
from genen_scale.train import main
from genen_scale.training import TrainError, run
from genen_scale.training.chain import run_chain
from genen_scale.training.inputs import mask_genes

ONE_SPLIT = ("--eval.protocol", "paper", "--eval.folds_to_run", "[0]", "--eval.baselines", "[]")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("chain") / "store")


def test_masked_sets_of_one_seed_are_nested():
    low, high = mask_genes(200, 0.25, seed=3), mask_genes(200, 0.5, seed=3)
    assert len(low) == 50 and len(high) == 100 and set(low) <= set(high)


def test_a_warm_start_begins_from_the_previous_runs_kept_model(store, tmp_path):
    first, _ = run(small_config(store, tmp_path, "--run_name", "a", *ONE_SPLIT))
    # A learning rate too small to move the weights: the kept model is the start.
    cfg = small_config(
        store, tmp_path, "--run_name", "b", "--optim.lr", "1e-12", "--optim.epochs", "1",
        "--init_from", str(first), *ONE_SPLIT,
    )  # fmt: skip
    second, _ = run(cfg)
    a, b = (torch.load(d / "checkpoints" / "best_fold0.pt") for d in (first, second))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=0)
    fresh, _ = run(dataclasses.replace(cfg, init_from=None, run_name="c"))
    c = torch.load(fresh / "checkpoints" / "best_fold0.pt")
    assert any(not torch.allclose(a[k], c[k]) for k in a)


def test_the_chain_runs_the_rates_in_order_each_from_the_last(store, tmp_path):
    cfg = small_config(store, tmp_path, "--run_name", "ch", "--data.mask_nodes", "all", *ONE_SPLIT)
    out = run_chain(cfg, [0.0, 0.5])
    rows = pd.read_parquet(out)
    assert rows["mask_rate"].tolist() == [0.0, 0.5] and rows["chain_step"].tolist() == [0, 1]
    assert rows["init_from"].tolist() == ["", str(tmp_path / "ch-mask0")]
    assert (rows["auc_masked"].isna() == (rows["mask_rate"] == 0)).all()


def test_bad_chains_and_missing_warm_starts_are_one_line(store, tmp_path, capsys):
    with pytest.raises(TrainError, match="increasing"):
        run_chain(small_config(store, tmp_path), [0.5, 0.25])
    out = tmp_path / "out"
    args = small_args(store, out)
    assert main([*args, "--init_from", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "best_fold0.pt" in err[0]
    assert not out.exists() or not any(out.iterdir())  # no run directory was made
    assert main([*args, "--mask_chain", "[0, x]"]) == 2
    assert "--mask_chain" in capsys.readouterr().err


def test_a_planted_warm_start_is_refused_without_torchs_advice(store, tmp_path, capsys):
    d = tmp_path / "planted" / "checkpoints"
    d.mkdir(parents=True)
    torch.save({"w": Fraction(1, 3)}, d / "best_fold0.pt")  # any object a pickle carries
    out = tmp_path / "out"
    assert main([*small_args(store, out), "--init_from", str(d.parent)]) == 2
    err = capsys.readouterr().err
    assert "is not loaded" in err and "weights_only" not in err


def test_designs_table_sets_the_chain_beside_runs_from_scratch(store, tmp_path):
    runs = tmp_path / "runs"
    base = ("--output_dir", str(runs), "--data.mask_nodes", "all", *ONE_SPLIT[:4])
    run_chain(small_config(store, tmp_path, "--run_name", "toy_binary-gcn-chain", *base), [0, 0.5])
    for rate in ("0", "0.5"):
        name = f"toy_binary-gcn-scratch-mask{rate}"
        run(small_config(store, tmp_path, "--run_name", name, "--data.mask_rate", rate, *base))
    cfg = masking_designs.MaskingDesignsConfig(
        runs_dir=str(runs),
        rows=str(tmp_path / "rows.parquet"),
        output=str(tmp_path / "t.md"),
        figure=str(tmp_path / "fig" / "designs.png"),
    )
    text = masking_designs.build(cfg).read_text()
    assert "![masking designs](fig/designs.png)" in text
    assert (tmp_path / "fig" / "designs.png").stat().st_size > 0
    rows = pd.read_parquet(tmp_path / "rows.parquet")
    gnn = rows[rows["model"] == "gcn"].set_index(["design", "mask_rate"])["auc"]
    assert sorted(gnn.index) == [("chain", 0.0), ("chain", 0.5), ("scratch", 0.0), ("scratch", 0.5)]
    # Step 0 of the chain is a run from scratch at rate 0: the same computation.
    assert gnn[("chain", 0.0)] == pytest.approx(gnn[("scratch", 0.0)])
    assert f"| 50% | {gnn[('chain', 0.5)]:.3f} |" in text
    # Rebuilt from the kept rows alone: the same tables.
    again = dataclasses.replace(cfg, runs_dir="", output=str(tmp_path / "u.md"))
    assert masking_designs.build(again).read_text() == text
