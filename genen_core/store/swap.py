"""Crash-safe replacement of a store directory, and recovery of what a killed run left.

A store is built in ``.<name>.building-<pid>`` beside its destination ``<name>``. POSIX
cannot swap two non-empty directories atomically, so replacing an existing store takes
two renames and a removal::

    1. <name>                  -> .<name>.old-<pid>      (<name> is absent for a moment)
    2. .<name>.building-<pid>  -> <name>
    3. remove .<name>.old-<pid>

A kill can stop the process between any two steps. Every state it can leave is told
apart by the names in the parent directory, and :func:`recover`, which every build runs
before it starts, resolves each one, touching only the leftovers of *dead* processes
(a live PID may be a concurrent build, whose files are left alone):

=================================== ======================================================
found                               meaning and action
=================================== ======================================================
``.building-`` of a dead PID        a build that never finished: removed
no ``<name>``, one dead ``.old-``   killed between 1 and 2: renamed back to ``<name>``
                                    (the old store returns whole, ``features/`` included)
``<name>`` and a dead ``.old-``     killed after 2, or during 3: the new store is in place;
                                    the old copy is removed
=================================== ======================================================

Within a live process a failure of step 2 renames the old store straight back.

Why not a symlink swap (``<name>`` a link to a versioned directory, replaced by an atomic
``rename`` of a new link): it is one atomic step, but ``<name>`` stops being a plain
directory, which changes what users, ``rsync`` and object-store uploads see, and turns
every existing store into a migration. Three recovery rules keep the layout as it is.

PID liveness is only meaningful on the host that wrote the leftovers; a store directory
shared between machines is built from one of them at a time.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

BUILDING, OLD = "building", "old"


class LeftoverError(ValueError):
    """Leftovers of killed builds that cannot be resolved without the user."""


@dataclass(frozen=True)
class Leftover:
    """A ``.<name>.<kind>-<pid>`` directory beside a store."""

    path: Path
    kind: str
    """``building`` or ``old``."""
    pid: int

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def leftover_path(dest: Path, kind: str, pid: int | None = None) -> Path:
    """``<parent>/.<name>.<kind>-<pid>`` (this process's PID by default)."""
    return dest.parent / f".{dest.name}.{kind}-{os.getpid() if pid is None else pid}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def leftovers(dest: Path) -> list[Leftover]:
    """The ``.building-`` / ``.old-`` directories of ``dest``, sorted by path."""
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.({BUILDING}|{OLD})-(\d+)")
    if not dest.parent.is_dir():
        return []
    found = []
    for p in sorted(dest.parent.iterdir()):
        m = pattern.fullmatch(p.name)
        if m and p.is_dir() and not p.is_symlink():
            found.append(Leftover(p, m.group(1), int(m.group(2))))
    return found


def recover(dest: Path) -> None:
    """Resolve what killed builds of ``dest`` left (see the module docstring).

    Raises:
        LeftoverError: ``dest`` is absent and several dead ``.old-`` copies exist, so
            which one to restore is the user's call.
    """
    dead = [x for x in leftovers(dest) if not x.alive]
    for x in dead:
        if x.kind == BUILDING:
            log.warning("removing %s, left by a killed build (PID %d)", x.path, x.pid)
            shutil.rmtree(x.path)
    old = [x for x in dead if x.kind == OLD]
    if not old:
        return
    if not os.path.lexists(dest):
        if len(old) > 1:
            listed = ", ".join(str(x.path) for x in old)
            raise LeftoverError(
                f"{dest} is missing and several earlier copies were left by killed builds "
                f"({listed}); rename the one to keep to {dest} and remove the others"
            )
        log.warning("restoring %s from %s, left by a build killed mid-commit", dest, old[0].path)
        os.replace(old[0].path, dest)
        return
    for x in old:
        log.warning("removing %s, the replaced copy of %s (PID %d was killed)", x.path, dest, x.pid)
        shutil.rmtree(x.path)


def swap_in(new: Path, dest: Path) -> None:
    """Move the finished directory ``new`` to ``dest``, replacing what is there (steps 1-3)."""
    if not os.path.lexists(dest):
        os.replace(new, dest)
        return
    old = leftover_path(dest, OLD)
    if old.exists():  # a copy left by an earlier process that had our PID
        shutil.rmtree(old)
    os.replace(dest, old)
    try:
        os.replace(new, dest)
    except BaseException:
        os.replace(old, dest)  # the old store goes back; ``new`` is the caller's to clean
        raise
    shutil.rmtree(old)
