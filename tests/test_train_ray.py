"""Ray Train on a real local cluster: DDP with 1 and 2 workers, the evaluation sharded over
2 workers, and a worker killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest
import ray
import ray.cloudpickle
from ray.train import UserCallback
from train_helpers import assert_scored_as_the_whole_graph, small_config, train_store

from genen_scale.training import run

pytestmark = pytest.mark.ray

# The Train controller runs in another process, which cannot import this test module.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

ARGS = (
    "--eval.folds_to_run", "[0]", "--optim.epochs", "4", "--eval.baselines", "[]",
    "--scaling.checkpoint_every", "1",
)  # fmt: skip


class KillWorkerOnce(UserCallback):
    """Kills the rank-1 worker process (SIGKILL) after the report of ``epoch`` of fold 0.

    The controller holds its own copy of this object, so the kill is recorded in ``marker``
    (a file: controller and test share the machine).
    """

    def __init__(self, epoch: int, marker):
        self.epoch, self.marker = epoch, marker

    def after_report(self, run_context, metrics, checkpoint):
        m = metrics[0]
        if not self.marker.exists() and m["fold"] == 0 and m["epoch"] == self.epoch:
            self.marker.write_text(str(metrics[1]["pid"]))
            os.kill(metrics[1]["pid"], signal.SIGKILL)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("ray") / "store")


def _losses(run_dir):
    return [e["loss"] for e in json.loads((run_dir / "history.json").read_text())["0"]]


@pytest.fixture(scope="module")
def two_workers(cluster, store, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return run(small_config(store, out, "--scaling.num_workers", "2", "--run_name", "w2", *ARGS))[0]


@pytest.mark.slow  # a Ray Train worker group: about 30 s with its cluster on two cores
def test_loss_falls_with_one_worker(cluster, store, tmp_path):
    run_dir, summary = run(small_config(store, tmp_path, "--scaling.num_workers", "1", *ARGS))
    losses = _losses(run_dir)
    assert losses[-1] < losses[0] and summary["mean"].iloc[0] > 0.5


@pytest.mark.slow
def test_loss_falls_with_two_workers(two_workers):
    losses = _losses(two_workers)
    assert losses[-1] < losses[0]
    assert (two_workers / "ray" / "train").is_dir()  # Ray Train persisted checkpoints


@pytest.mark.slow  # about 45 s on a loaded 2-core machine: a second worker group
def test_two_sampled_workers_shard_and_gather_the_evaluation(cluster, store, tmp_path):
    """Two DDP workers in sampled mode each score half of the genes and gather the rows:
    with every neighbour sampled (GAT, fanouts -1) the gathered embeddings and test scores
    equal the kept weights over the whole graph in one process, row for row."""
    cfg = small_config(
        store, tmp_path, "--scaling.num_workers", "2", "--model.arch", "gat",
        "--data.full_batch", "false", "--data.fanouts", "[-1, -1]", "--optim.epochs", "2",
        "--eval.folds_to_run", "[0]", "--eval.baselines", "[]",
    )  # fmt: skip
    run_dir, summary = run(cfg)
    assert summary["mean"].iloc[0] > 0.5
    assert_scored_as_the_whole_graph(run_dir, cfg)


@pytest.mark.slow
def test_killed_worker_resumes_from_checkpoint(cluster, store, tmp_path, two_workers):
    marker = tmp_path / "killed"
    cfg = small_config(store, tmp_path, "--scaling.num_workers", "2", "--run_name", "k", *ARGS)
    run_dir, _ = run(cfg, callbacks=[KillWorkerOnce(epoch=1, marker=marker)])
    assert marker.is_file()  # a worker did die mid-run
    # Every epoch's randomness is derived from (seed, fold, epoch, rank), so the restarted
    # workers replay the uninterrupted run exactly.
    assert _losses(run_dir) == _losses(two_workers)
    assert (run_dir / "metrics.json").read_text() == (two_workers / "metrics.json").read_text()
