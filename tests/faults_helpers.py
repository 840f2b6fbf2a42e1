"""Helpers of the fault tests: the user's files a command must leave as they were (:class:`UserFiles`), the token
that must appear nowhere, pickles that must never run and servers that misbehave."""

import contextlib
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fake_hub import point_hub_at  # noqa: F401  (the fault tests take it from here)


def snapshot(*roots) -> dict[str, tuple[str, int]]:
    """``path -> (sha256, mode)`` of every file under ``roots`` (files or folders)."""
    state = {}
    for root in map(Path, roots):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            state[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mode & 0o7777)
    return state


class UserFiles:
    """The user's files a test hands to a command (inputs, configs, a previous output it must not touch), each
    ``(sha256, mode)`` as registered; :meth:`check` names every one that changed, vanished or appeared since.
    The ``user_files`` fixture (tests/conftest.py) makes one a test and checks it after the test body."""

    def __init__(self):
        self.roots: dict[Path, frozenset[str]] = {}  # registered root -> paths under it the command may write
        self.before: dict[str, tuple[str, int]] = {}

    def __call__(self, *roots, written=()):
        """Register ``roots`` (files or folders) as they are now; registering one again records it anew (after an
        edit a test makes on purpose). ``written``: files under them the command is meant to write. Returns the
        single root, or the roots."""
        for root in map(Path, roots):
            self.release(root)
            self.roots[root] = frozenset(map(str, written))
            self.before.update(self._state(root))
        return roots[0] if len(roots) == 1 else roots

    def release(self, *roots):
        """Stop watching ``roots`` (a folder the test now hands to a command as its output)."""
        for root in map(Path, roots):
            self.before = {k: v for k, v in self.before.items() if not _under(k, root)}
            self.roots.pop(root, None)

    def _state(self, root):
        return {k: v for k, v in snapshot(root).items() if k not in self.roots[root]}

    def changes(self) -> list[str]:
        """What changed since registration, one phrase a path: ``PATH: content``, ``mode 0o644 -> 0o600``,
        ``removed`` or ``new file``."""
        now = {}
        for root in self.roots:
            now.update(self._state(root))
        said = []
        for path in sorted(self.before.keys() | now.keys()):
            old, new = self.before.get(path), now.get(path)
            if old is None:
                said.append(f"{path}: new file")
            elif new is None:
                said.append(f"{path}: removed")
            elif old != new:
                what = [] if old[0] == new[0] else ["content"]
                what += [] if old[1] == new[1] else [f"mode {oct(old[1])} -> {oct(new[1])}"]
                said.append(f"{path}: {', '.join(what)}")
        return said

    def check(self):
        """Fail naming every change to the registered files."""
        changes = self.changes()
        assert not changes, "the user's files changed:\n  " + "\n  ".join(changes)


def _under(path: str, root: Path) -> bool:
    return Path(path) == root or root in Path(path).parents


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


class _Echo(BaseHTTPRequestHandler):
    """Answers every request 401 with its Authorization header echoed in the body and a header, as some
    proxies and misconfigured servers do."""

    def _answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        body = json.dumps({"error": f"Invalid credentials in Authorization header: {auth}"}).encode()
        self.send_response(401)
        self.send_header("X-Error-Message", f"Invalid credentials: {auth}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler], **state):
    """A threaded loopback HTTP server answering with ``handler``, stopped when the block ends. ``state`` becomes
    attributes of the server (its handler reads ``self.server.NAME``; a test may change them). Yields the server;
    ``server.url`` is its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.url = f"http://127.0.0.1:{server.server_port}"
    for name, value in state.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def echo_server():
    """A loopback server that echoes the credentials it is sent (see :class:`_Echo`); yields its URL."""
    with loopback_server(_Echo) as server:
        yield server.url


AVX512BF16_SITE = '''"""Make bitsandbytes believe the CPU has AVX512-BF16: on such CPUs its import asks the Hub for a kernel."""
import importlib.abc
import importlib.machinery
import sys


class _Patch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "bitsandbytes.functional":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.has_avx512bf16 = lambda: True

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Patch())
'''


def online_env(tmp_path, url, token=TOKEN) -> dict:
    """The environment of a ``lima-hf`` subprocess online against ``url`` with ``token``, on a CPU where importing
    bitsandbytes calls the Hub (see :data:`AVX512BF16_SITE`), logs in ``tmp_path/logs``."""
    site = tmp_path / "avx512bf16_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(AVX512BF16_SITE)
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "HF_ENDPOINT": url, "HF_TOKEN": token, "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0",
           "HF_HUB_DISABLE_XET": "1", "LIMA_HF_LOG_DIR": str(tmp_path / "logs"),
           "PYTHONPATH": os.pathsep.join([str(site), str(root), os.environ.get("PYTHONPATH", "")])}
    return env
