"""``ray job submit`` of the training and sweep entry points to a local head node started
for the test: both run unchanged on the job's cluster, and a sweep trial may itself be a
Ray Train run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from train_helpers import FEATURES, SWEEP, small_args, train_store

pytestmark = [pytest.mark.ray, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")


# A trial that is itself a one-worker Ray Train run (Train inside Tune): its Train worker
# takes the head's second CPU beside the trial's driver.
TRAIN_INSIDE_TUNE = """
[[grid]]
tasks = ["toy_binary"]
graphs = ["ppi"]
models = ["gcn"]
options = { "scaling.num_workers" = [1] }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_dashboard(port: int, head: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with code {head.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (401 when token authentication is on): it is up
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"the Ray dashboard on port {port} did not come up in {timeout:.0f} s")


def stop_group(head: subprocess.Popen) -> None:
    """SIGTERM the head's process group, then SIGKILL whatever of it is left."""
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is gone already


def submit_job(dash: int, env: dict, *command: str) -> subprocess.CompletedProcess:
    """``ray job submit -- COMMAND`` to the head's dashboard; its completed process."""
    submit = [
        str(RAY), "job", "submit", "--address", f"http://127.0.0.1:{dash}",
        "--working-dir", ".", "--", *command,
    ]  # fmt: skip
    # The head enables token authentication; the client sends the token only when told.
    auth = {**env, "RAY_AUTH_MODE": "token"}
    for _ in range(30):
        job = subprocess.run(
            submit, cwd=REPO, env=auth, capture_output=True, text=True, timeout=240
        )
        # The dashboard answers before its job agent has registered; nothing was
        # submitted then, so trying again is safe.
        if "No available agent" not in job.stderr:
            break
        time.sleep(2)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    return job


def test_ray_job_submit_trains_and_sweeps(tmp_path):
    store = train_store(tmp_path / "store")
    out = tmp_path / "out"
    gcs, dash = free_port(), free_port()
    # Short: Ray's unix sockets live under it and socket paths are limited to ~107 bytes.
    ray_tmp = tempfile.mkdtemp(prefix="genen-ray-", dir="/tmp")
    env = {**os.environ, "RAY_ADDRESS": ""}
    env.pop("RAY_ADDRESS")
    start = [
        str(RAY),
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs}",
        "--num-cpus=2",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dash}",
        # The agent's default port (52365) may belong to another cluster on this machine.
        f"--dashboard-agent-listen-port={free_port()}",
        f"--temp-dir={ray_tmp}",
        "--disable-usage-stats",
    ]
    # --block keeps the head in a foreground process of its own session: ending that
    # group stops exactly this cluster (`ray stop` would stop every Ray on the machine).
    head = subprocess.Popen(
        start + ["--block"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_dashboard(dash, head)
        train = small_args(
            store,
            out,
            "--optim.epochs",
            "3",
            "--eval.folds_to_run",
            "[0]",
            "--scaling.num_workers",
            "1",
            "--run_name",
            "job",
        )
        job = submit_job(dash, env, "python", "-m", "genen_scale.train", *train)
        assert "| toy_binary | gcn | ppi |" in job.stdout
        sweep_file = tmp_path / "sweep.toml"
        sweep_file.write_text(
            SWEEP.format(out=tmp_path / "sweep", store=store.path, features=FEATURES)
            + TRAIN_INSIDE_TUNE
        )
        sweep = submit_job(dash, env, "python", "-m", "genen_scale.sweep", str(sweep_file))
        # It joined the job's cluster instead of starting a Ray of its own.
        logs = sweep.stdout + sweep.stderr
        assert "Connected to Ray cluster" in logs and "Started a local Ray" not in logs
    finally:
        stop_group(head)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    run_dir = out / "job"
    history = json.loads((run_dir / "history.json").read_text())["0"]
    assert len(history) == 3 and (run_dir / "embeddings.npy").is_file()
    assert (run_dir / "ray" / "train").is_dir()  # trained by Ray Train workers, not in process
    rows = pd.read_parquet(tmp_path / "sweep" / "results.parquet")
    # 2 models x 2 mask rates, and the Train-inside-Tune trial; 2 folds each
    assert sorted(rows["model"].unique()) == ["gcn", "logreg"] and len(rows) == 10
    assert rows["auc"].notna().all()
    inside = rows[rows["workers"] == 1]
    assert len(inside) == 2 and set(inside["graph"]) == {"ppi"}
    # Its folds ran on a Ray Train worker, started from inside the Tune trial.
    assert (tmp_path / "sweep" / inside["run_dir"].iloc[0] / "ray" / "train").is_dir()
