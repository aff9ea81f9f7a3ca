"""Sweeps: grid expansion and hashing, resume in process, and a Ray sweep killed midway."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from train_helpers import FEATURES, SWEEP, train_store

from genen_core.config import ConfigError, load_config
from genen_core.provenance import git_revision
from genen_scale import train
from genen_scale.report import selection
from genen_scale.report.cli import ReportConfig, build_report
from genen_scale.report.cli import main as report_main
from genen_scale.sweep.cli import main as sweep_main
from genen_scale.sweep.config import SweepConfig
from genen_scale.sweep.grid import config_hash, expand
from genen_scale.sweep.layout import MARKER, ROWS, SPEC, trial_dir
from genen_scale.sweep.runner import run_sweep
from genen_scale.sweep.trial import VOLATILE_COLUMNS
from genen_scale.training import results

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("sweep") / "store")


def write_sweep(path: Path, store, out: Path, extra: str = "") -> Path:
    path.write_text(SWEEP.format(out=out, store=store.path, features=FEATURES) + extra)
    return path


def sweep_config(tmp_path: Path, store, extra: str = "", *overrides: str) -> SweepConfig:
    return load_config(
        SweepConfig, write_sweep(tmp_path / "s.toml", store, tmp_path / "out", extra), overrides
    )


def test_expand_dedupes_baselines_and_applies_overrides(tmp_path, store):
    extra = """
[[leakage]]
name = "no_go"
exclude_go_terms = "GO:000000"
[[grid]]
tasks = ["toy_binary"]
graphs = ["ppi", "go"]
models = ["gcn", "logreg"]
leakage = ["none", "no_go"]
options = { "optim.lr" = [0.01, 0.1] }
[[override]]
when = { graph = "go" }
train = { model = { hidden = 8 } }
"""
    specs = expand(sweep_config(tmp_path, store, extra))
    keys = [s.keys for s in specs]
    # Grid 1: 4 trials. Grid 2: gcn on ppi ignores the GO filter (2 lr), gcn on go
    # with and without it (4), logreg once per lr whatever the graph (2), of which
    # lr = 0.01 is grid 1's unmasked logreg trial (the same config: one trial).
    assert len(specs) == 4 + 2 + 4 + 2 - 1
    assert len({s.id for s in specs}) == len(specs)
    base = [k for k in keys if k["model"] == "logreg"]
    assert {k["graph"] for k in base} == {"none"} and {k["leakage"] for k in base} == {"none"}
    go = [s for s in specs if s.keys["graph"] == "go"]
    assert {s.train["model"]["hidden"] for s in go} == {8}
    assert all(
        s.train["data"]["exclude_go_terms"] == "GO:000000"
        for s in go
        if s.keys["leakage"] == "no_go"
    )
    assert {s.train["optim"]["lr"] for s in specs if "optim.lr" in s.keys} == {0.01, 0.1}
    # The hash follows the result-relevant config only.
    again = expand(
        sweep_config(tmp_path, store, extra, "--output_dir", str(tmp_path / "elsewhere"))
    )
    assert [s.id for s in again] == [s.id for s in specs]
    other = expand(sweep_config(tmp_path, store, extra, "--train.optim.epochs", "4"))
    assert not {s.id for s in other} & {s.id for s in specs}


def test_trial_ids_and_the_resume_check_agree_on_what_the_same_config_is(tmp_path, store):
    cfg = sweep_config(tmp_path, store, "")
    for spec in expand(cfg):
        run_cfg = spec.config(tmp_path / "elsewhere")  # where it writes is not hashed
        digest = results.config_hash(run_cfg)
        assert spec.id == hashlib.sha256(f"{spec.model}:{digest}".encode()).hexdigest()[:12]
    # A field at its default, given or not, is the same trial; another value is not.
    spec = expand(cfg)[0]
    same = {**spec.train, "optim": {**spec.train["optim"], "min_delta": 0.0}}
    other = {**spec.train, "optim": {**spec.train["optim"], "min_delta": 0.5}}
    assert config_hash(spec.model, same) == spec.id != config_hash(spec.model, other)


def test_bad_sweep_configs_fail_with_the_key(tmp_path, store):
    with pytest.raises(ConfigError, match="optim.epoch"):
        expand(sweep_config(tmp_path, store, "", "--train.optim.epoch", "3"))
    with pytest.raises(ConfigError, match="no_such_filter"):
        sweep_config(tmp_path, store, '[[grid]]\nleakage = ["no_such_filter"]\n')
    with pytest.raises(ConfigError, match="drops nothing"):
        sweep_config(tmp_path, store, '[[leakage]]\nname = "empty"\n')


def test_random_go_filter_reaches_the_trial(tmp_path, store):
    extra = """
[[leakage]]
name = "random_control"
exclude_go_random = 5
exclude_go_random_seed = 2
[[grid]]
tasks = ["toy_binary"]
graphs = ["go"]
models = ["gcn"]
leakage = ["random_control"]
"""
    (spec,) = [s for s in expand(sweep_config(tmp_path, store, extra)) if s.keys["graph"] == "go"]
    assert spec.keys["leakage"] == "random_control"
    assert spec.train["data"]["exclude_go_random"] == 5
    assert spec.train["data"]["exclude_go_random_seed"] == 2
    with pytest.raises(ConfigError, match="grid keys"):
        sweep_config(tmp_path, store, '[[override]]\nwhen = { modle = "gcn" }\n')


@pytest.fixture(scope="module")
def local_sweep(store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    cfg = sweep_config(tmp, store, "", "--local")
    outcome = run_sweep(cfg)
    return cfg, outcome, pd.read_parquet(outcome.results)


def test_local_sweep_rows_have_every_key_and_metric(local_sweep):
    cfg, outcome, table = local_sweep
    assert outcome.done == outcome.total == 4 and not outcome.failed
    assert len(table) == 4 * 2  # two folds per trial
    for col in ("task", "graph", "model", "mask_rate", "seed", "protocol", "leakage", "fold"):
        assert table[col].notna().all()
    for col in (
        "auc",
        "f1",
        "auc_less_studied",
        "auc_well_studied",
        "auc_unmasked",
        "wall_s",
        "cpu_s",
        "cpus",
    ):
        assert table[col].notna().all(), col
    assert (table["cpu_s"] > 0).all()
    masked = table[table["mask_rate"] == 0.5]
    assert (
        masked["auc_masked"].notna().all()
        and table.loc[table.mask_rate == 0, "auc_masked"].isna().all()
    )
    # Text-only logreg sees zeros for masked genes: chance on them, better on the rest.
    lr = masked[masked["model"] == "logreg"]
    assert (lr["auc_masked"] < lr["auc_unmasked"]).all()
    gnn = table[table["model"] == "gcn"]
    assert (gnn["epochs"] == 3).all() and (gnn["graph"] == "go_ppi").all()
    assert (table["revision"] == git_revision()).all()


def test_gnn_trials_keep_their_history_and_the_selection_evidence_replays_it(local_sweep, tmp_path):
    _, outcome, table = local_sweep
    gnn = table[table["model"] == "gcn"]
    choices = selection.fold_choices(outcome.output_dir, gnn)
    # One choice per GNN fold row; the replayed loss rule keeps the epoch the run kept.
    assert len(choices) == len(gnn)
    assert (choices["loss_rule"] == choices["kept"]).all()
    out = selection.build(
        selection.SelectionReportConfig(
            new_dir=str(outcome.output_dir),
            old_dir=str(outcome.output_dir),
            output=str(tmp_path / "sel.md"),
            figures_dir=str(tmp_path / "fig"),
            curves=["toy_binary:gcn:0"],
        )
    )
    text = out.read_text()
    assert "val_loss rule" in text and (tmp_path / "fig" / "selection_curves.png").is_file()


def test_rerun_skips_finished_and_retries_lost_trials(local_sweep):
    cfg, outcome, table = local_sweep
    lost = table["trial"].iloc[0]
    d = trial_dir(outcome.output_dir, lost)
    (d / ROWS).unlink()
    (d / "run" / "metrics.parquet").unlink()  # a partial run left by the interruption
    before = {
        t: (trial_dir(outcome.output_dir, t) / ROWS).stat().st_mtime_ns
        for t in table.trial.unique()
        if t != lost
    }
    again = run_sweep(cfg)
    assert again.done == 4
    after = {t: (trial_dir(outcome.output_dir, t) / ROWS).stat().st_mtime_ns for t in before}
    assert after == before  # finished trials were not run again
    pd.testing.assert_frame_equal(
        pd.read_parquet(again.results).drop(columns=list(VOLATILE_COLUMNS)),
        table.drop(columns=list(VOLATILE_COLUMNS)),
    )


def test_a_cut_off_gnn_trial_resumes_its_run_and_counts_every_attempt(local_sweep):
    """A GNN trial whose rows are missing but whose checkpointed run has the same config
    resumes that run (kept, not deleted) and its time adds the earlier attempts'; a run
    of another config is discarded."""
    cfg, outcome, table = local_sweep
    gnn = table[table["model"] == "gcn"]["trial"].unique()
    kept, other = (trial_dir(outcome.output_dir, t) for t in gnn[:2])
    for d in (kept, other):
        (d / ROWS).unlink()
        (d / "run" / "metrics.parquet").unlink()
        (d / "run" / "left_by_the_attempt").write_text("")
        (d / "elapsed.json").write_text(json.dumps({"wall_s": 1000.0, "cpu_s": 900.0}))
    manifest = json.loads((other / "run" / "run.json").read_text())
    (other / "run" / "run.json").write_text(json.dumps({**manifest, "config_hash": "another"}))
    again = pd.read_parquet(run_sweep(cfg).results)
    assert (kept / "run" / "left_by_the_attempt").is_file()  # resumed in place
    assert not (other / "run" / "left_by_the_attempt").exists()  # discarded, run afresh
    by_trial = again.groupby("trial")
    assert (by_trial.get_group(kept.name)["wall_s"] >= 1000.0).all()
    assert (by_trial.get_group(other.name)["wall_s"] < 1000.0).all()
    pd.testing.assert_frame_equal(
        again.drop(columns=list(VOLATILE_COLUMNS)), table.drop(columns=list(VOLATILE_COLUMNS))
    )


def test_kept_rows_alone_resume_on_another_machine(local_sweep, tmp_path):
    """What docs/reproduction-results keeps in git (each trial's rows.parquet and
    trial.json, no run directories) is enough for a fresh checkout to skip every
    finished trial and report them."""
    cfg, outcome, table = local_sweep
    kept = tmp_path / "kept"
    for t in table["trial"].unique():
        for name in (ROWS, "trial.json"):
            trial_dir(kept, t).mkdir(parents=True, exist_ok=True)
            shutil.copy(trial_dir(outcome.output_dir, t) / name, trial_dir(kept, t) / name)
    shutil.copy(outcome.output_dir / MARKER, kept / MARKER)  # kept in git with the rows
    again = run_sweep(dataclasses.replace(cfg, output_dir=str(kept)))
    assert again.done == 4
    assert not any((trial_dir(kept, t) / "run").exists() for t in table["trial"])
    pd.testing.assert_frame_equal(
        pd.read_parquet(again.results).drop(columns=list(VOLATILE_COLUMNS)),
        table.drop(columns=list(VOLATILE_COLUMNS)),
    )
    report = ReportConfig(str(kept), tsne_task="toy_binary")
    text = build_report(report).read_text()
    assert "| ours: gcn on go_ppi |" in text and "exported no embeddings" in text
    assert "tsne_toy_binary.png" not in text

    # The report's way back to the t-SNE: the trial's own training config, re-run into
    # its directory, gives the same fold metrics and the embeddings the figure needs.
    gnn = table[(table["model"] == "gcn") & (table["mask_rate"] == 0)].iloc[0]
    d = trial_dir(kept, gnn["trial"])
    assert f"< {d}/trial.json" in text and f"--output_dir {d} --run_name run" in text
    train_cfg = tmp_path / "train.yaml"
    train_cfg.write_text(json.dumps(json.loads((d / "trial.json").read_text())["train"]))
    assert (
        train.main(["--config", str(train_cfg), "--output_dir", str(d), "--run_name", "run"]) == 0
    )
    rerun = pd.read_parquet(d / "run" / "metrics.parquet")
    rerun = rerun[rerun["model"] == "gcn"].set_index("fold")["auc"]
    kept_auc = table[table["trial"] == gnn["trial"]].set_index("fold")["auc"]
    pd.testing.assert_series_equal(rerun.sort_index(), kept_auc.sort_index(), check_names=False)
    text = build_report(report).read_text()
    assert "exported no embeddings" not in text and "figures/tsne_toy_binary.png" in text


def test_report_builds_tables_and_figures(local_sweep, tmp_path):
    _, outcome, _ = local_sweep
    md = build_report(
        ReportConfig(str(outcome.output_dir), output=str(tmp_path / "r.md"), tsne_task="toy_binary")
    )
    text = md.read_text()
    assert "| ours: gcn on go_ppi |" in text and "| ours: logreg (text only) |" in text
    assert f"`{git_revision()}` (4 trials)" in text and "CPU time, recorded for 4 of them" in text
    assert "paper: Genen GCN on GO+PPI" in text and "mask_rate = 0.5" in text
    for name in ("study_groups.png", "masking_toy_binary.png", "tsne_toy_binary.png"):
        png = tmp_path / "figures" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"figures/{name}" in text


@pytest.mark.ray
@pytest.mark.slow
def test_ray_sweep_killed_midway_resumes_to_the_same_results(local_sweep, store, tmp_path):
    """A sweep through Ray Tune (local cluster), SIGKILLed with its whole process group
    after its first finished trial, then re-run: the results equal the in-process sweep's."""
    _, local, expected = local_sweep
    out = tmp_path / "ray"
    config = write_sweep(tmp_path / "ray.toml", store, out)
    cmd = [sys.executable, "-m", "genen_scale.sweep", str(config)]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    first = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        # Warm trial processes finish a tiny trial in a fifth of a second, so the sweep is
        # frozen (SIGSTOP, the whole group) the moment a first trial's rows appear, and
        # only then killed: the kill lands midway on a machine of any speed.
        while not list((out / "trials").glob(f"*/{ROWS}")):
            assert first.poll() is None, "the sweep ended before any trial finished"
            assert time.monotonic() < deadline, "no trial finished in 300 s"
            time.sleep(0.01)
        os.killpg(first.pid, signal.SIGSTOP)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    done_before = len(list((out / "trials").glob(f"*/{ROWS}")))
    assert done_before < 4
    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    result = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(
        result.drop(columns=list(VOLATILE_COLUMNS)),
        expected.drop(columns=list(VOLATILE_COLUMNS)),
    )


def test_trial_actor_module_imports_no_training_stack():
    """Tune unpickles the trainable in every trial actor: its module must stay light
    (the training stack loads once, in the actor's forkserver child)."""
    code = (
        "import sys, genen_scale.sweep.actor\n"
        "print(sorted(m for m in ('torch', 'torch_geometric', 'sklearn', 'pandas', 'numpy')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("what", ["user folder", "file"])
def test_sweep_writes_only_into_its_own_folder(local_sweep, store, tmp_path, capsys, what):
    """A folder it did not make (a user's results.parquet, sweep.json, sweep.yaml and a
    trials/<id>/run/ of their own) or a file: refused in one line, nothing touched."""
    _, _, table = local_sweep
    out = tmp_path / "mine"
    if what == "file":
        out.write_text("not a folder")
    else:
        for name in ("results.parquet", "sweep.json", "sweep.yaml"):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_text(f"the user's {name}")
        (trial_dir(out, table["trial"].iloc[0]) / "run").mkdir(parents=True)
        (trial_dir(out, table["trial"].iloc[0]) / "run" / "notes.txt").write_text("keep")
    before = out.read_bytes() if what == "file" else snapshot(out)
    config = write_sweep(tmp_path / "s.toml", store, out)
    assert sweep_main([str(config), "--local"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "genen-sweep: error" in x]
    assert f"output_dir={out}" in line
    assert (out.read_bytes() if what == "file" else snapshot(out)) == before


def test_unfinished_trials_fail_the_sweep_with_their_reason(local_sweep, store, tmp_path, capsys):
    """Trials that fail outside their own error handling (a folder that cannot be made,
    rows that cannot be read back, rows that are a link) fail alone, with a reason."""
    cfg, outcome, table = local_sweep
    out = tmp_path / "copy"
    shutil.copytree(outcome.output_dir, out)
    no_dir, garbage, linked, ok = table["trial"].unique()
    shutil.rmtree(trial_dir(out, no_dir))
    trial_dir(out, no_dir).write_text("a file where the trial's folder goes")
    (trial_dir(out, garbage) / ROWS).write_bytes(b"PAR1 garbage")
    (trial_dir(out, linked) / ROWS).unlink()
    (trial_dir(out, linked) / ROWS).symlink_to(trial_dir(out, ok) / ROWS)
    (trial_dir(out, linked) / "run").mkdir(exist_ok=True)
    (trial_dir(out, linked) / SPEC).unlink()  # so its run/ is not this sweep's: kept
    again = run_sweep(dataclasses.replace(cfg, output_dir=str(out)))
    assert again.done == 1 and set(again.failed) == {no_dir, garbage, linked}
    assert "FileExistsError" in again.failed[no_dir]
    assert f"{ROWS} cannot be read" in again.failed[garbage]
    assert "is a link" in again.failed[linked] and (trial_dir(out, linked) / "run").is_dir()
    assert set(pd.read_parquet(again.results)["trial"]) == {ok}
    status = {t["id"]: t["status"] for t in json.loads((out / "sweep.json").read_text())["trials"]}
    assert status == {no_dir: "failed", garbage: "failed", linked: "failed", ok: "done"}
    args = [str(tmp_path / "s.toml"), "--output_dir", str(out), "--local"]
    write_sweep(tmp_path / "s.toml", store, out)
    assert sweep_main(args) == 1
    err = capsys.readouterr().err
    assert f"trial {no_dir} did not finish: FileExistsError" in err


def test_report_quotes_every_value_of_its_re_export_command(local_sweep, tmp_path):
    """A trial id of ``x; touch INJ #`` in results.parquet: the printed command, pasted
    into a shell, runs genen-train and nothing else."""
    _, outcome, table = local_sweep
    src = tmp_path / "sweep"
    shutil.copytree(outcome.output_dir, src, ignore=shutil.ignore_patterns("run", "tune"))
    hostile = "x; touch INJ #"
    gnn = (table["model"] == "gcn") & (table["mask_rate"] == 0)
    table = table.assign(
        trial=table["trial"].where(~gnn, hostile),
        run_dir=table["run_dir"].where(~gnn, f"trials/{hostile}/run"),
    )
    table.to_parquet(src / "results.parquet")
    text = build_report(ReportConfig(str(src), tsne_task="toy_binary")).read_text()
    block = text.split("```bash\n")[1].split("```")[0]
    subprocess.run(["bash", "-c", "genen-train() { :; }\n" + block], cwd=tmp_path, check=False)
    assert not (tmp_path / "INJ").exists()


@pytest.mark.parametrize("damage", ["garbage", "no model column"])
def test_report_on_a_damaged_results_file_is_one_line(local_sweep, tmp_path, capsys, damage):
    _, _, table = local_sweep
    (tmp_path / "s").mkdir()
    if damage == "garbage":
        (tmp_path / "s" / "results.parquet").write_bytes(b"PAR1 not parquet")
    else:
        table.drop(columns=["model"]).to_parquet(tmp_path / "s" / "results.parquet")
    assert report_main([str(tmp_path / "s")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert "results.parquet" in line and (
        "cannot be read as Parquet" in line if damage == "garbage" else "['model']" in line
    )


def test_grid_graphs_take_what_data_graph_takes(tmp_path, store):
    extra = '[[grid]]\ntasks = ["toy_binary"]\ngraphs = ["ppi+gene_go"]\nmodels = ["gcn"]\n'
    (spec,) = [s for s in expand(sweep_config(tmp_path, store, extra)) if "+" in s.keys["graph"]]
    assert spec.train["data"]["graph"] == "ppi+gene_go"
    with pytest.raises(ConfigError, match="grid.graphs: graph 'ppi\\+../x'"):
        sweep_config(tmp_path, store, '[[grid]]\ngraphs = ["ppi+../x"]\n')


def test_a_sweep_above_max_trials_needs_yes(tmp_path, store):
    seeds = ", ".join(str(i) for i in range(2500))
    big = f'[[grid]]\ntasks = ["toy_binary"]\nmodels = ["gcn"]\nseeds = [{seeds}]\n'
    with pytest.raises(
        ConfigError, match="2504 grid points, more than max_trials=2000; pass --yes"
    ):
        sweep_config(tmp_path, store, big)
    assert sweep_config(tmp_path, store, big, "--yes").size() == 2504
    assert sweep_config(tmp_path, store, big, "--max_trials", "3000").size() == 2504


def test_a_large_grid_shows_its_expansion(tmp_path, store, capsys):
    seeds = ", ".join(str(i) for i in range(600))
    big = f'[[grid]]\ntasks = ["toy_binary"]\nmodels = ["gcn"]\nseeds = [{seeds}]\n'
    assert len(expand(sweep_config(tmp_path, store, big))) > 600
    assert "expanding the grid" in capsys.readouterr().err
    expand(sweep_config(tmp_path, store))  # a small one stays quiet
    assert "expanding the grid" not in capsys.readouterr().err


def test_collect_only_rewrites_the_results_and_runs_nothing(local_sweep, tmp_path, capsys):
    """A sweep stopped mid-run: ``--collect_only`` rebuilds ``results.parquet`` and
    ``sweep.json`` from the finished trials' rows, and starts no trial."""
    cfg, outcome, table = local_sweep
    kept = tmp_path / "kept"
    shutil.copytree(outcome.output_dir, kept)
    gone = table["trial"].iloc[-1]
    shutil.rmtree(trial_dir(kept, gone))  # a trial that had not finished
    (kept / "results.parquet").unlink()
    toml = outcome.output_dir.parent / "s.toml"  # the fixture's sweep file
    args = [str(toml), "--output_dir", str(kept), "--collect_only"]
    assert sweep_main(args) == 0
    assert "3 of 4 trials finished" in capsys.readouterr().out
    again = pd.read_parquet(kept / "results.parquet")
    assert set(again["trial"]) == set(table["trial"]) - {gone}
    assert not trial_dir(kept, gone).exists()  # nothing ran it
    status = json.loads((kept / "sweep.json").read_text())
    assert [t["status"] for t in status["trials"]].count("pending") == 1
