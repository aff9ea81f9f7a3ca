"""A Ray started by our own entry points listens on 127.0.0.1 only.

Anyone who can reach a Ray node's ports can run code on it (Ray's security guide), and
a local ``ray.init()`` on Linux binds its servers to the machine's network address.
``genen-encode`` and ``genen-train`` therefore start their local Ray on the loopback
address; joining a cluster (``scaling.ray_address``, a ``ray job submit`` job) is left as
the cluster was configured.

Ray 2.60 has no public switch for this: ``ray.init(_node_ip_address="127.0.0.1")`` is
silently turned back into the network address (``resolve_ip_for_localhost``) unless
``ray_constants.ENABLE_RAY_CLUSTER`` is false, the value Ray itself uses on macOS and
Windows, read from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when Ray is imported. So
:func:`init_local_ray` sets both (the variable for the processes the node starts) for
the duration of the call only. ``tests/test_ray_local.py`` checks the outcome, every
listening socket of the started node on 127.0.0.1, so a Ray upgrade that changes this
fails loudly there.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import ray
from ray._private import ray_constants

LOOPBACK = "127.0.0.1"


def init_local_ray(**kwargs) -> None:
    """``ray.init(**kwargs)`` for a new single-node Ray bound to 127.0.0.1."""
    with _single_host():
        ray.init(_node_ip_address=LOOPBACK, **kwargs)


def join_or_start(address: str | None, log_to_driver: bool = True, **local_kwargs) -> str | None:
    """Join ``address``, else the cluster of a ``ray job submit`` job (``RAY_ADDRESS``),
    else start a local Ray on 127.0.0.1 with ``local_kwargs``.

    Args:
        log_to_driver: Print the log lines of this job's tasks and actors here.

    Returns:
        The address joined, or None when this call started a local Ray.
    """
    address = address or ("auto" if os.environ.get("RAY_ADDRESS") else None)
    if address:
        ray.init(address=address, log_to_driver=log_to_driver)
    else:
        init_local_ray(log_to_driver=log_to_driver, **local_kwargs)
    return address


@contextmanager
def _single_host():
    name = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    saved = ray_constants.ENABLE_RAY_CLUSTER, os.environ.get(name)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[name] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved[0]
        if saved[1] is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved[1]
