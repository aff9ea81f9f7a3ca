"""Ray Train's torch process group, listening only on the Ray node's own address.

Ray Train's ``TorchConfig`` (``init_method`` ``env`` or ``tcp``, the only two it takes)
has rank 0 start torch's ``TCPStore`` on a free port of its node, and that server binds
every interface (``::``) whatever host it is given: anyone who reaches the machine can
then talk to the rendezvous of the run. Gloo's pairs listen on the address the
hostname resolves to, which can be a public one.

:class:`BoundTorchConfig` replaces only that setup step (the rest is Ray's
``_TorchBackend``): rank 0 binds a socket to its Ray node address (``127.0.0.1`` for the
local Ray our entry points start, the node's cluster address on a cluster) and hands
it to ``TCPStore`` as ``master_listen_fd``, so the store listens there and nowhere
else; every worker points Gloo (``GLOO_SOCKET_IFNAME``) and, on GPUs, NCCL
(``NCCL_SOCKET_IFNAME``, unless the user set it) at the network interface holding its
own node's address. ``tests/test_train_ray.py`` checks a single-node run's whole process
tree for listeners outside 127.0.0.0/8, so a Ray or torch upgrade that changes this
fails there.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from datetime import timedelta

import psutil
import ray
import torch.distributed as dist
from ray.train._internal.worker_group import WorkerGroup as V1WorkerGroup
from ray.train.torch import TorchConfig
from ray.train.torch.config import _set_torch_distributed_env_vars, _TorchBackend

log = logging.getLogger(__name__)

# The listening socket rank 0 opened for the store, kept open in the worker process
# between the two calls of the setup (the port must be known before anyone connects).
_listener: socket.socket | None = None


class BoundTorchConfig(TorchConfig):
    """``TorchConfig`` whose process group listens only on each node's Ray address."""

    @property
    def backend_cls(self):
        return _BoundTorchBackend


class _BoundTorchBackend(_TorchBackend):
    def on_start(self, worker_group, backend_config: TorchConfig) -> None:
        backend = backend_config.backend
        if backend is None:
            gpus = worker_group.get_resources_per_worker().get("GPU", 0)
            backend = "nccl" if gpus > 0 else "gloo"
        addr, port = worker_group.execute_single(0, _open_store_listener)
        if not isinstance(worker_group, V1WorkerGroup):  # as Ray's own on_start does
            worker_group.execute(_set_torch_distributed_env_vars)
        n = len(worker_group)
        ray.get(
            [
                worker_group.execute_single_async(
                    rank,
                    _init_process_group,
                    backend=backend,
                    world_rank=rank,
                    world_size=n,
                    addr=addr,
                    port=port,
                    timeout_s=backend_config.timeout_s,
                )
                for rank in range(n)
            ]
        )


def node_address() -> str:
    """This process's Ray node address (where the store and the collectives listen)."""
    return ray.util.get_node_ip_address()


def interface_of(address: str) -> str | None:
    """The network interface that holds ``address``, or None if none does."""
    want = ipaddress.ip_address(address)
    for name, addrs in psutil.net_if_addrs().items():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    if ipaddress.ip_address(a.address.split("%")[0]) == want:
                        return name
                except ValueError:
                    continue
    return None


def _open_store_listener() -> tuple[str, int]:
    """Rank 0: listen on this node's address only; the store adopts the socket later."""
    global _listener
    addr = node_address()
    family = socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET
    if _listener is not None:  # a setup that failed half-way in this process
        _listener.close()
    _listener = socket.socket(family, socket.SOCK_STREAM)
    _listener.bind((addr, 0))
    _listener.listen(128)
    return addr, _listener.getsockname()[1]


def _init_process_group(
    backend: str, world_rank: int, world_size: int, addr: str, port: int, timeout_s: int
) -> None:
    global _listener
    _bind_collectives(backend)
    timeout = timedelta(seconds=timeout_s)
    if world_rank == 0:
        assert _listener is not None, "_open_store_listener runs on rank 0 first"
        fd, _listener = _listener.detach(), None  # the store owns (and closes) it now
        store = dist.TCPStore(
            addr, port, world_size, True, timeout=timeout, master_listen_fd=fd, use_libuv=True
        )
    else:
        store = dist.TCPStore(addr, port, world_size, False, timeout=timeout)
    dist.init_process_group(
        backend=backend, store=store, rank=world_rank, world_size=world_size, timeout=timeout
    )


def _bind_collectives(backend: str) -> None:
    """Point Gloo (and NCCL) at the interface of this worker's node address."""
    iface = interface_of(node_address())
    if iface is None:
        log.warning(
            "no network interface holds this node's address %s; Gloo/NCCL pick their own",
            node_address(),
        )
        return
    os.environ.setdefault("GLOO_SOCKET_IFNAME", iface)
    if "nccl" in backend:
        os.environ.setdefault("NCCL_SOCKET_IFNAME", iface)
