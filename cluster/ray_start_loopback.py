"""``ray start`` for one node of a one-machine cluster, with every server on 127.0.0.1.

Usage: ``python cluster/ray_start_loopback.py start [ray start options]`` (``local.sh``
runs it for the head and each worker node).

On Linux, ``ray start --node-ip-address=127.0.0.1`` (and ``--address=127.0.0.1:port``)
is silently turned into the machine's network address, where the GCS and raylets then
listen; Ray keeps loopback only while ``ray_constants.ENABLE_RAY_CLUSTER`` is false
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, the value Ray itself uses on macOS), but with
it false ``ray start`` refuses to add a worker node. Ray 2.60 has no public switch for
both, so this entry sets the variable (inherited by the node's processes, so its workers
and job drivers resolve 127.0.0.1 to itself too) and lets only the CLI's own "may a
worker node join" check see ``True``. ``tests/test_cluster_local.py`` checks the
outcome (every node registered as 127.0.0.1), so a Ray upgrade that changes this fails
there.
"""

import os
import sys
import types

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # read when Ray is imported

from ray._private import ray_constants  # noqa: E402
from ray.scripts import scripts  # noqa: E402

scripts.ray_constants = types.SimpleNamespace(**{**vars(ray_constants), "ENABLE_RAY_CLUSTER": True})

if __name__ == "__main__":
    sys.exit(scripts.main())
