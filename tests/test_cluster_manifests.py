"""The deployment files in ``cluster/`` parse and hold the fields the README promises."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from ray.runtime_env import RuntimeEnv

from genen_core.config import load_config
from genen_scale.train import parse_args
from genen_scale.training.config import TrainConfig

CLUSTER = Path(__file__).resolve().parents[1] / "cluster"
IMAGE_REPO = "/home/ray/genen_scale/"  # where cluster/Dockerfile puts the repository


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


@pytest.mark.parametrize("path", sorted(CLUSTER.rglob("*.yaml")), ids=lambda p: p.name)
def test_every_yaml_parses_to_one_mapping(path):
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 1 and isinstance(docs[0], dict)


def test_runtime_env_is_valid_and_the_rayjob_inlines_it():
    shared = load("runtime_env.yaml")
    RuntimeEnv(**shared)  # Ray validates every field it knows
    job = load("kuberay/rayjob.yaml")
    assert yaml.safe_load(job["spec"]["runtimeEnvYAML"]) == shared


def check_cluster_spec(spec: dict) -> None:
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert head["rayStartParams"]["num-cpus"] == "0"  # KubeRay wants strings here
    groups = spec["workerGroupSpecs"]
    gpu_groups = [
        g
        for g in groups
        if any(
            "nvidia.com/gpu" in c["resources"]["limits"]
            for c in g["template"]["spec"]["containers"]
        )
    ]
    assert gpu_groups, "no GPU worker group"
    for pod in [head["template"]] + [g["template"] for g in groups]:
        for c in pod["spec"]["containers"]:
            assert c["resources"]["requests"] == c["resources"]["limits"], c["name"]
            assert {"name": "RAY_AUTH_MODE", "value": "token"} in c["env"]


def test_raycluster_and_rayjob_share_one_cluster_spec():
    cluster, job = load("kuberay/raycluster.yaml"), load("kuberay/rayjob.yaml")
    for doc, kind in ((cluster, "RayCluster"), (job, "RayJob")):
        assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == kind
    check_cluster_spec(cluster["spec"])
    assert job["spec"]["rayClusterSpec"] == cluster["spec"]


def test_rayjob_runs_a_valid_training_and_cleans_up():
    spec = load("kuberay/rayjob.yaml")["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["ttlSecondsAfterFinished"] >= 0
    argv = shlex.split(spec["entrypoint"].replace(IMAGE_REPO, str(CLUSTER.parent) + "/"))
    assert argv[:3] == ["python", "-m", "genen_scale.train"]
    cfg = parse_args(argv[3:])  # the same parser the job runs
    assert cfg.data.store.startswith("s3://") and cfg.scaling.use_gpu
    groups = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert cfg.scaling.num_workers <= sum(g["maxReplicas"] for g in groups)


def test_cloud_launcher_has_a_gpu_free_head_and_installs_the_project():
    cfg = load("aws-gpu.yaml")
    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    assert head["resources"] == {"CPU": 0, "GPU": 0}
    assert any("--num-gpus=0" in c for c in cfg["head_start_ray_commands"])
    workers = [t for name, t in types.items() if name != cfg["head_node_type"]]
    assert workers and all(w["min_workers"] >= 1 for w in workers)
    assert cfg["file_mounts"]["~/genen_scale"] == "."  # the repository, from its root
    assert any("pip install" in c and "-e ~/genen_scale" in c for c in cfg["setup_commands"])


def test_onprem_launcher_and_gpu_training_config():
    onprem = load("onprem.yaml")
    assert onprem["provider"]["type"] == "local" and onprem["provider"]["worker_ips"]
    cfg = load_config(TrainConfig, str(CLUSTER / "train-gpu.toml"), [])
    assert cfg.scaling.use_gpu and cfg.scaling.num_workers >= 2


def test_local_cluster_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(CLUSTER / "local.sh")], check=True)
