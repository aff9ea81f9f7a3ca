"""A Ray that genen-train / genen-encode start themselves listens on 127.0.0.1 only."""

from __future__ import annotations

import ipaddress

import pytest

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

from genen_scale.encode.stage import _Runner  # noqa: E402
from genen_scale.training.config import ScaleConfig  # noqa: E402
from genen_scale.training.distributed import connect  # noqa: E402


def listening_addresses() -> set[str]:
    """Local addresses of every listening TCP socket of this process and its children."""
    me = psutil.Process()
    pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
    return {
        c.laddr.ip.removeprefix("::ffff:")
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    }


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
    monkeypatch.setattr("genen_scale.local_ray.init_local_ray", fake_init)
    cfg = tiny_cfg("unused-model", use_ray=True, num_actors=1, threads_per_actor=1)
    with pytest.raises(Started):
        _Runner(cfg).__enter__()
