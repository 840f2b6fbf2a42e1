"""Staging and recovery, the output policy's helpers: a folder is built in a staging folder beside its target and
swapped in (an atomic exchange where the system has one); what a crashed run left (staging folders, a target
moved aside by a run killed between two renames) is undone by :func:`recover` before the next write to the same
target. This module owns the names of those temporaries, so that it alone knows what to clean."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from pathlib import Path

from lima_hf import compat

STAGING = ".lima-hf-staging-"
ASIDE = ".lima-hf-old-"


def make_staging(target: Path) -> Path:
    """A new, empty staging folder beside ``target``, named so that :func:`recover` knows it (and its process)."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING}{os.getpid()}-", dir=target.parent))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(target: str | os.PathLike) -> None:
    """Undo what a crashed write to ``target`` left: put back a target moved aside, remove stale staging (also
    that of lima-hf's earlier layout, :func:`lima_hf.compat.recover_old_layout`)."""
    target = Path(os.path.abspath(target))
    parent = target.parent
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        name = entry.name
        for marker in (STAGING, ASIDE):
            prefix = f".{target.name}{marker}"
            if not name.startswith(prefix):
                continue
            pid = name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
                continue  # another run is writing this target right now
            if marker == ASIDE and not target.exists():
                os.replace(entry, target)  # killed between the two renames: the old target comes back
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
        compat.recover_old_layout(target, entry)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); ``False`` where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def swap_in(staging: Path, target: Path) -> None:
    """Put the staging folder in place of ``target`` (atomically where the system can exchange two paths)."""
    if not target.exists():
        os.replace(staging, target)
        return
    if _exchange(staging, target):  # staging now holds the old target
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = target.parent / f".{target.name}{ASIDE}{os.getpid()}-{os.urandom(3).hex()}"
    os.replace(target, aside)
    os.replace(staging, target)
    shutil.rmtree(aside, ignore_errors=True)
