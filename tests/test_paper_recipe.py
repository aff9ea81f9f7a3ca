"""The authors' recipe as a preset: cited values per task, applied below the command
line, a clear error for a task no notebook trains, and as a sweep grid axis."""

from __future__ import annotations

import pytest

from genen_core.config import ConfigError, from_mapping
from genen_scale.train import parse_args
from genen_scale.training import TrainConfig
from genen_scale.training.paper_recipe import RECIPES, recipe


def test_preset_resolves_to_the_cited_numbers():
    # other.ipynb cell 31 (TF range): GCN(num_layers=4) = 3 GCNConv + linear, lr 0.01, 650 epochs.
    tf_range = parse_args(["--preset", "paper_recipe", "--data.task", "tf_range"])
    assert (tf_range.model.layers, tf_range.model.output, tf_range.model.hidden) == (
        3,
        "linear",
        64,
    )
    assert (tf_range.optim.lr, tf_range.optim.epochs, tf_range.optim.weight_decay) == (
        0.01,
        650,
        0.001,
    )
    assert (tf_range.optim.scheduler, tf_range.optim.scheduler_factor) == ("plateau", 0.2)
    assert tf_range.optim.scheduler_patience == 50
    assert recipe("tf_range", "gcn")["optim.epochs"] == (650, "other.ipynb cell 31")
    # Cell 32 (GATA4 direct vs indirect): num_layers=5, lr 0.1, 500 epochs.
    gata4 = parse_args(["--preset", "paper_recipe", "--data.task", "tf_target_type_gata4"])
    assert (gata4.model.layers, gata4.optim.lr, gata4.optim.epochs) == (4, 0.1, 500)
    assert recipe("tf_target_type_gata4", "gcn")["optim.lr"] == (0.1, "other.ipynb cell 32")
    # regression.ipynb cell 17 (conservation): no schedule, no weight decay, lr 0.01.
    cons = parse_args(["--preset", "paper_recipe", "--data.task", "conservation"])
    assert (cons.optim.scheduler, cons.optim.weight_decay, cons.model.dropout) == ("none", 0.0, 0.0)
    # GAT: GO+PPI.ipynb cells 31-32, 6 heads x 64, attention dropout 0.6, lr 1e-4.
    gat = parse_args(
        ["--preset", "paper_recipe", "--data.task", "solubility", "--model.arch", "gat"]
    )
    assert (gat.model.heads, gat.model.hidden, gat.model.attn_dropout) == (6, 384, 0.6)
    assert gat.optim.lr == 1e-4


def test_command_line_wins_and_unknown_tasks_are_named():
    cfg = parse_args(["--preset", "paper_recipe", "--data.task", "tf_range", "--optim.epochs", "5"])
    assert cfg.optim.epochs == 5 and cfg.optim.lr == 0.01
    with pytest.raises(ConfigError, match="tf_target_type_gata4 or tf_target_type_tbx5"):
        parse_args(["--preset", "paper_recipe", "--data.task", "tf_target_type"])
    assert parse_args(["--preset", "gcn"]).optim.scheduler == "none"  # other presets unchanged


@pytest.mark.parametrize(("task", "arch"), sorted(RECIPES))
def test_every_recipe_is_a_valid_config_with_a_citation(task, arch):
    options = recipe(task, arch)
    assert all(
        cite.endswith(tuple("0123456789")) for k, (_, cite) in options.items() if k != "model.arch"
    )
    from genen_scale.training.paper_recipe import train_options

    from_mapping(TrainConfig, {"data": {"task": task}, **train_options(task, arch)})


def test_sweep_grid_runs_each_task_under_its_recipe(tmp_path):
    from genen_core.config import load_config
    from genen_scale.sweep.config import SweepConfig
    from genen_scale.sweep.grid import expand

    sweep = tmp_path / "s.toml"
    sweep.write_text(
        """
output_dir = "out"
[train]
optim.epochs = 100
[[grid]]
tasks = ["tf_range", "dosage_sensitivity"]
models = ["gcn", "logreg"]
protocols = ["cv", "paper"]
recipes = ["ours", "paper"]
options = { "optim.patience" = [30] }
[[override]]
when = { recipe = "paper", task = "dosage_sensitivity" }
train = { optim = { epochs = 9 } }
"""
    )
    specs = expand(load_config(SweepConfig, sweep, []))
    gnn = {
        (s.keys["task"], s.keys["protocol"], s.keys["recipe"]): s.train
        for s in specs
        if s.model == "gcn"
    }
    assert len(gnn) == 2 * 2 * 2
    assert gnn["tf_range", "paper", "paper"]["optim"]["epochs"] == 650  # other.ipynb cell 31
    assert gnn["tf_range", "cv", "paper"]["optim"]["lr"] == 0.01
    assert gnn["tf_range", "cv", "ours"]["optim"]["epochs"] == 100  # the [train] options
    assert gnn["dosage_sensitivity", "cv", "paper"]["optim"]["epochs"] == 9  # override wins
    assert all(t["optim"]["patience"] == 30 for t in gnn.values())  # options after recipe
    baselines = [s for s in specs if s.model == "logreg"]
    assert {s.keys["recipe"] for s in baselines} == {"none"} and len(baselines) == 2 * 2
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[grid]]\ntasks = ["combined_solubility"]\nmodels = ["gcn"]\nrecipes = ["paper"]\n'
    )
    with pytest.raises(ConfigError, match="no paper recipe for task 'combined_solubility'"):
        expand(load_config(SweepConfig, bad, []))


def test_the_doc_holds_the_tables_the_code_resolves():
    from pathlib import Path

    from genen_scale.training.paper_recipe import markdown_table

    doc = (Path(__file__).resolve().parents[1] / "docs" / "paper-recipe.md").read_text()
    assert markdown_table("gcn") in doc and markdown_table("gat") in doc
