"""A multi-node Ray cluster on this machine (``cluster/local.sh``), trained on by ``ray job submit``.

Three worker nodes of one CPU each and a head with none: a 2-worker DDP run must put its
workers on two different nodes. The fault test kills the raylet of a node that holds a
worker mid-run; Ray Train restarts the group on the nodes left and resumes from the last
checkpoint, and the results equal the uninterrupted run's. Both runs read the store from
a ``file://`` URI, so every node copies it once into a shared cache (one machine).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from train_helpers import small_args, train_store

# Three-node clusters take a minute to start on two cores: the fast tier leaves them out.
pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
LOCAL_SH = REPO / "cluster" / "local.sh"
RAY = Path(sys.executable).with_name("ray")
WORKER_NODES = 3
# One fold of six short epochs: long enough to kill a node after the second checkpoint.
TRAIN = ("--scaling.num_workers", "2", "--eval.folds_to_run", "[0]", "--eval.baselines", "[]")


class LocalCluster:
    """``cluster/local.sh`` with its own state directory; every call sees the same env."""

    def __init__(self, state: Path):
        # The submitting shell needs token auth (local.sh starts the nodes with it).
        self.env = {**os.environ, "GENEN_LOCAL_CLUSTER": str(state), "RAY_AUTH_MODE": "token"}
        self.env.pop("RAY_ADDRESS", None)
        self.env["PATH"] = f"{RAY.parent}{os.pathsep}{self.env['PATH']}"
        self.state = state

    def sh(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(LOCAL_SH), *args],
            env={**self.env, "PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def dashboard(self) -> str:
        return (self.state / "dashboard").read_text().strip()

    def submit(self, args: list[str], **popen) -> subprocess.Popen:
        cmd = [str(RAY), "job", "submit", "--address", self.dashboard, "--working-dir", "."]
        cmd += ["--runtime-env", str(REPO / "cluster" / "runtime_env.yaml")]
        cmd += ["--", "python", "-m", "genen_scale.train", *args]
        return subprocess.Popen(cmd, cwd=REPO, env=self.env, text=True, **popen)

    def state_list(self, kind: str, *filters: str) -> list[dict]:
        cmd = [str(RAY), "list", kind, "--address", self.dashboard, "--detail", "--format"]
        cmd += ["json", "--limit", "1000", *(a for f in filters for a in ("--filter", f))]
        out = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        # An empty listing is a message, not JSON.
        return [] if out.stdout.startswith("No resource") else json.loads(out.stdout)

    def train_workers(self) -> dict[str, dict]:
        """Every Ray Train worker actor the cluster has seen, by actor id."""
        return {a["actor_id"]: a for a in self.state_list("actors", "class_name=RayTrainWorker")}


@pytest.fixture(scope="module")
def cluster():
    # Short: Ray's unix socket paths under it are limited to ~107 bytes.
    state = Path(tempfile.mkdtemp(prefix="genen-lc-", dir="/tmp"))
    c = LocalCluster(state)
    try:
        up = c.sh("up", str(WORKER_NODES), "1")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        yield c
    finally:
        down = c.sh("down", timeout=120)
        # Whatever `down` missed: no process of ours may outlive the tests.
        for f in state.glob("*.pid"):
            try:
                os.killpg(int(f.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert down.returncode == 0, down.stderr
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return train_store(tmp_path_factory.mktemp("lc") / "store")


def run_args(store, out: Path, name: str) -> list[str]:
    args = small_args(store, out, *TRAIN, "--run_name", name)
    args[args.index("--data.store") + 1] = store.path.resolve().as_uri()
    return [*args, "--data.store_cache", str(out / "node-cache")]


def finish(job: subprocess.Popen, timeout: float = 400) -> str:
    try:
        stdout, _ = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        job.kill()
        raise
    assert job.returncode == 0, stdout[-3000:]
    return stdout


def losses(run_dir: Path) -> list[float]:
    return [e["loss"] for e in json.loads((run_dir / "history.json").read_text())["0"]]


@pytest.fixture(scope="module")
def uninterrupted(cluster, store, tmp_path_factory):
    """A 2-worker run and the worker actors it used."""
    out = tmp_path_factory.mktemp("out")
    before = cluster.train_workers()
    stdout = finish(cluster.submit(run_args(store, out, "whole"), stdout=subprocess.PIPE))
    assert "| toy_binary | gcn | ppi |" in stdout
    workers = {k: v for k, v in cluster.train_workers().items() if k not in before}
    return out, out / "whole", workers


def test_workers_land_on_different_nodes(cluster, uninterrupted):
    out, run_dir, workers = uninterrupted
    nodes = {n["node_id"]: n for n in cluster.state_list("nodes")}
    assert len(nodes) == WORKER_NODES + 1
    assert {n["node_ip"] for n in nodes.values()} == {"127.0.0.1"}  # loopback only
    assert len(workers) == 2
    used = {w["node_id"] for w in workers.values()}
    assert len(used) == 2 and all(not nodes[n]["is_head_node"] for n in used)
    assert len(losses(run_dir)) == 6 and (run_dir / "embeddings.npy").is_file()
    assert len(list((out / "node-cache").glob("*/store"))) == 1  # one copy for the machine


def live_train_workers() -> dict[int, psutil.Process]:
    """The Ray Train worker processes alive now, by pid. Every node runs on this machine,
    so ``/proc`` has them in milliseconds, where ``ray list`` takes seconds: longer than the
    epochs left after the second checkpoint on a fast machine."""
    found = {}
    for p in psutil.process_iter(["cmdline"]):
        cmdline = p.info["cmdline"] or [""]
        if cmdline[0].startswith("ray::RayTrainWorker"):
            found[p.pid] = p
    return found


def resume(processes: list[psutil.Process]) -> None:
    for p in processes:
        try:
            p.resume()
        except psutil.NoSuchProcess:
            pass


def test_killed_node_resumes_from_checkpoint(cluster, store, uninterrupted, tmp_path):
    whole = uninterrupted[1]
    before = cluster.train_workers()
    earlier = set(live_train_workers())
    log = tmp_path / "job.log"
    with log.open("w") as f:
        job = cluster.submit(
            run_args(store, tmp_path, "killed"), stdout=f, stderr=subprocess.STDOUT
        )
    first: list[psutil.Process] = []
    try:
        run_dir = tmp_path / "killed"
        deadline = time.monotonic() + 300
        # Rank 0 checkpoints after every epoch: kill once epochs 0 and 1 are saved.
        while len(list(run_dir.rglob("checkpoint_*"))) < 2:
            assert job.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoints appeared"
            time.sleep(0.05)
        first = [p for pid, p in live_train_workers().items() if pid not in earlier]
        # Freeze the run where it stands, so that the kill lands mid-run however fast the
        # epochs are; the run kept going for seconds while `ray list` answered.
        for p in first:
            p.suspend()
        assert len(first) == 2
        assert not (run_dir / "metrics.json").exists(), "the run ended before the kill"
        victim = min(first, key=lambda p: p.pid)
        raylet = victim.parent()  # a worker's parent is its raylet
        assert raylet.name() == "raylet"
        raylet.kill()
        resume(first)
        finish(job)
    finally:
        resume(first)  # a stopped process would outlive a failed test
        if job.poll() is None:
            job.kill()
    workers = [w for k, w in cluster.train_workers().items() if k not in before]
    first_pids = {p.pid for p in first}
    assert {w["pid"] for w in workers} >= first_pids
    (killed_node,) = {w["node_id"] for w in workers if w["pid"] == victim.pid}
    restarted = [w for w in workers if w["pid"] not in first_pids]
    assert len(restarted) == 2  # Ray Train started a new group ...
    assert killed_node not in {w["node_id"] for w in restarted}  # ... on the nodes left
    # Every epoch's randomness is derived from (seed, fold, epoch, rank): the resumed run
    # computes exactly what the uninterrupted one did.
    assert losses(run_dir) == losses(whole)
    assert (run_dir / "metrics.json").read_text() == (whole / "metrics.json").read_text()
