"""Permissions of what lima-hf writes: those the user's umask gives (``0666 & ~umask`` for a file, ``0777 & ~umask``
for a folder), read without changing the umask for longer than one call."""

from __future__ import annotations

import os
from pathlib import Path


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions of a new file under the current umask."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """Permissions of a new folder under the current umask."""
    return 0o777 & ~umask()


def apply_umask_tree(root: Path) -> None:
    """Give a staged tree (made with mkdtemp's 0700 / mkstemp's 0600) the umask's permissions."""
    fmode, dmode = file_mode(), dir_mode()
    os.chmod(root, dmode)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), dmode)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, fmode)
