"""A Ray that genen-train / genen-encode start themselves listens on 127.0.0.1 only."""

from __future__ import annotations

import ipaddress
import threading

import psutil
import pytest
import ray
from train_helpers import small_config, train_store  # noqa: E402

from genen_scale.encode.stage import _Runner  # noqa: E402
from genen_scale.training import run  # noqa: E402
from genen_scale.training.config import ScaleConfig  # noqa: E402
from genen_scale.training.distributed import connect  # noqa: E402


def listeners() -> set[tuple[str, str]]:
    """(local address, process name) of every listening TCP socket of this process and
    its children."""
    me = psutil.Process()
    procs = {me.pid: me} | {p.pid: p for p in me.children(recursive=True)}
    found = set()
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.pid in procs:
            try:
                name = procs[c.pid].name()
            except psutil.NoSuchProcess:
                name = "?"
            found.add((c.laddr.ip.removeprefix("::ffff:"), name))
    return found


def listening_addresses() -> set[str]:
    """Local addresses of every listening TCP socket of this process and its children."""
    return {ip for ip, _ in listeners()}


def assert_loopback_only() -> None:
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    addresses = listening_addresses()
    assert addresses, "the Ray node listens on nothing?"
    exposed = {a for a in addresses if not ipaddress.ip_address(a).is_loopback}
    assert not exposed, f"Ray listens beyond loopback on {exposed}"


@pytest.fixture
def no_ray():
    if ray.is_initialized():
        pytest.skip("a Ray from another test is still running")
    yield
    ray.shutdown()


@pytest.mark.ray
def test_train_starts_local_ray_on_loopback(no_ray):
    assert connect(ScaleConfig(num_workers=1, threads_per_worker=1))
    assert_loopback_only()


def test_encode_starts_its_ray_the_same_way(monkeypatch):
    """genen-encode goes through the same init_local_ray (checked for real above)."""
    from tests.encode_helpers import tiny_cfg

    class Started(Exception):
        pass

    def fake_init(**kwargs):
        raise Started(kwargs)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr("genen_scale.ray_env.local_ray.init_local_ray", fake_init)
    cfg = tiny_cfg("unused-model", use_ray=True, num_actors=1, threads_per_actor=1)
    with pytest.raises(Started):
        _Runner(cfg).__enter__()


@pytest.mark.ray
@pytest.mark.slow  # a two-worker Ray Train run: about 30 s on two cores
def test_two_worker_training_listens_only_on_loopback(no_ray, tmp_path):
    """Torch's rendezvous store (which binds every interface when left to Ray Train) and
    Gloo's pairs of the Train workers: polled for the whole run, not one is public."""
    store = train_store(tmp_path / "store")
    args = ("--scaling.num_workers", "2", "--eval.folds_to_run", "[0]", "--eval.baselines", "[]")
    cfg = small_config(store, tmp_path / "out", *args)
    assert connect(cfg.scaling)
    seen: set[tuple[str, str]] = set()
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.update(listeners())
            stop.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        run(cfg)
    finally:
        stop.set()
        poller.join()
    workers = {ip for ip, name in seen if "RayTrainWorker" in name or "process_group" in name}
    assert workers, f"no Train worker was seen listening: {sorted(seen)}"
    exposed = {(ip, name) for ip, name in seen if not ipaddress.ip_address(ip).is_loopback}
    assert not exposed, f"listening beyond loopback: {sorted(exposed)}"
