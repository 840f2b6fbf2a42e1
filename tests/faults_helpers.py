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


TOKEN = "hf_FaultsHelperToken0123456789abcdef"


def assert_no_token(*texts, folders=(), token=TOKEN):
    """``token`` appears in none of ``texts`` and in no file under ``folders``."""
    for text in texts:
        assert token not in text
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert token.encode() not in path.read_bytes(), f"token written into {path}"


class Marker:
    """A pickled object whose unpickling creates the folder ``path``: proof that a file was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


def plant_pickle(folder, marker) -> Path:
    """Write ``folder/training_args.bin`` as ``torch.save`` would, holding a :class:`Marker` for ``marker``."""
    import torch

    path = Path(folder) / "training_args.bin"
    torch.save(Marker(marker), path)
    return path


def point_hub_at(monkeypatch, url, token=TOKEN):
    """Point huggingface_hub (read at import) and the environment at ``url``, online, with ``token``."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", token)
