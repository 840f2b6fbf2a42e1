"""Helpers of the fault tests: a snapshot of a folder's files to prove that a failed command changed nothing."""

import hashlib
import os
from pathlib import Path


def snapshot(*roots) -> dict[str, tuple[str, int]]:
    """``path -> (sha256, mode)`` of every file under ``roots`` (files or folders)."""
    state = {}
    for root in map(Path, roots):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            state[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mode & 0o7777)
    return state
