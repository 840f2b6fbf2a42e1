"""A Hugging Face Hub on loopback, for upload and download round trips in tests.

It speaks the HTTP API as far as ``huggingface_hub`` 2.4 uses it on its plain-HTTP path (with
``HF_HUB_DISABLE_XET``): ``create_repo`` (``POST /api/repos/create``), ``repo_info`` and ``list_repo_tree``,
README metadata validation (``POST /api/validate-yaml``), ``preupload`` (regular vs LFS upload mode, remote
oids), the git-LFS batch API with basic and multipart transfers and the verify step, the NDJSON ``commit``
endpoint, and ``resolve`` (HEAD + GET) for ``hf_hub_download`` / ``snapshot_download``.

Every request is recorded (method, path, headers, body size) so tests can check what went over the wire,
and :meth:`FakeHub.fail` makes chosen requests fail (an HTTP status or a dropped connection) to test
error messages and resumption. Storage is in memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# Files the real Hub's default .gitattributes routes through LFS (a subset).
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".parquet", ".arrow", ".gguf", ".model", ".zst", ".7z", ".npy")
INITIAL_GITATTRIBUTES = b"".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n".encode() for suffix in LFS_SUFFIXES)
MAX_REGULAR_SIZE = 10 * 1024 * 1024


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob, as the Hub reports it for regular files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def oid(self) -> str:
        """What ``preupload`` returns as the remote oid: sha256 for LFS files, git sha1 otherwise."""
        return self.sha256 if self.lfs else git_blob_sha1(self.data)


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    files: dict[str, StoredFile] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return self.commits[-1]["oid"]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body_size: int


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern
    times: int
    status: int | None  # None: close the connection without answering


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, error_code: str | None = None, **extra):
        super().__init__(message)
        self.status, self.message, self.error_code, self.extra = status, message, error_code, extra


class FakeHub:
    """An in-memory Hub on ``127.0.0.1``; use as a context manager or call :meth:`start` / :meth:`stop`.

    ``token``: when set, writes (and reads of private repos) need ``Authorization: Bearer <token>``.
    ``multipart_threshold`` / ``chunk_size``: LFS objects above the threshold use the multipart transfer.
    """

    def __init__(self, token: str | None = None, *, multipart_threshold: int = 8 * 1024 * 1024,
                 chunk_size: int = 4 * 1024 * 1024, namespace: str = "fake-user"):
        self.token = token
        self.multipart_threshold = multipart_threshold
        self.chunk_size = chunk_size
        self.namespace = namespace
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.lfs_parts: dict[tuple[str, int], bytes] = {}
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        hub = self

        class Handler(_Handler):
            fake_hub = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers
    def fail(self, method: str, path_regex: str, *, times: int = 1, status: int | None = None) -> None:
        """Make the next ``times`` requests matching ``method`` and ``path_regex`` fail.

        ``status=None`` closes the connection without an answer (a network error); otherwise the request
        gets that HTTP status.
        """
        self._faults.append(_Fault(method.upper(), re.compile(path_regex), times, status))

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def file_bytes(self, repo_id: str, path: str, repo_type: str = "model") -> bytes:
        return self.repo(repo_id, repo_type).files[path].data

    def count(self, method: str, path_regex: str) -> int:
        """How many recorded requests match ``method`` and ``path_regex``."""
        pattern = re.compile(path_regex)
        return sum(1 for r in self.requests if r.method == method and pattern.search(r.path))

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method == method and fault.pattern.search(path):
                    fault.times -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ repository state
    def _authorize(self, headers, *, write: bool, repo: Repo | None = None) -> None:
        if self.token is None or (not write and (repo is None or not repo.private)):
            return
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise _HTTPError(401, "Invalid credentials in Authorization header")

    def _get_repo(self, repo_type: str, repo_id: str, headers) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise _HTTPError(404, "Repository not found", "RepoNotFound")
        self._authorize(headers, write=False, repo=repo)
        return repo

    @staticmethod
    def _check_revision(repo: Repo, revision: str) -> None:
        revision = unquote(revision)
        if revision != "main" and not any(commit["oid"] == revision for commit in repo.commits):
            raise _HTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _commit(self, repo: Repo, summary: str, changes: dict[str, StoredFile | None]) -> str:
        for path, stored in changes.items():
            if stored is None:
                repo.files.pop(path, None)
            else:
                repo.files[path] = stored
        digest = hashlib.sha1(json.dumps([repo.commits[-1]["oid"] if repo.commits else "", summary,
                                          sorted((p, f.oid) for p, f in repo.files.items())]).encode())
        oid = digest.hexdigest()
        repo.commits.append({"oid": oid, "summary": summary, "paths": sorted(changes)})
        return oid

    def repo_url(self, repo: Repo) -> str:
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return f"{self.url}/{prefix}{repo.repo_id}"

    # ------------------------------------------------------------------ endpoints
    def create_repo(self, payload: dict, headers) -> dict:
        self._authorize(headers, write=True)
        name, organization = payload.get("name"), payload.get("organization")
        if not name:
            raise _HTTPError(400, "Missing repository name")
        repo_type = payload.get("type") or "model"
        repo_id = f"{organization or self.namespace}/{name}"
        if (repo_type, repo_id) in self.repos:  # the Hub answers with the existing repo's URL
            raise _HTTPError(409, f"You already created this {repo_type} repo",
                             url=self.repo_url(self.repos[(repo_type, repo_id)]))
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo = self.repos[(repo_type, repo_id)] = Repo(repo_id, repo_type, private)
        self._commit(repo, "initial commit", {".gitattributes": StoredFile(INITIAL_GITATTRIBUTES, lfs=False)})
        return {"url": self.repo_url(repo), "name": repo_id}

    def repo_info(self, repo: Repo) -> dict:
        return {"id": repo.repo_id, "sha": repo.sha, "private": repo.private,
                "siblings": [{"rfilename": path} for path in sorted(repo.files)]}

    def tree(self, repo: Repo, path: str, recursive: bool) -> list[dict]:
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        entries, folders = [], set()
        for file_path, stored in sorted(repo.files.items()):
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix):]
            if "/" in rest and not recursive:
                folders.add(prefix + rest.split("/", 1)[0])
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                folders.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
            entry = {"type": "file", "path": file_path, "size": len(stored.data), "oid": git_blob_sha1(stored.data)}
            if stored.lfs:
                entry["lfs"] = {"oid": stored.sha256, "size": len(stored.data), "pointerSize": 134}
            entries.append(entry)
        entries += [{"type": "directory", "path": folder, "oid": hashlib.sha1(folder.encode()).hexdigest()}
                    for folder in sorted(folders)]
        return entries

    def preupload(self, repo: Repo, payload: dict) -> dict:
        files = []
        for item in payload.get("files", []):
            sample = base64.b64decode(item.get("sample", ""))
            path, size = item["path"], int(item["size"])
            lfs = path.endswith(LFS_SUFFIXES) or b"\0" in sample or size > MAX_REGULAR_SIZE
            remote = repo.files.get(path)
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": remote.oid if remote is not None else None})
        return {"files": files}

    def validate_yaml(self, payload: dict) -> tuple[int, dict]:
        content = payload.get("content", "")
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
        if match is None:
            return 200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}
        try:
            metadata = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as err:
            return 400, {"errors": [{"message": f"Invalid YAML: {err}"}], "warnings": []}
        errors = []
        if not isinstance(metadata, dict):
            errors.append("metadata must be a YAML mapping")
        else:
            for key in ("license", "library_name", "pipeline_tag", "base_model", "pretty_name"):
                value = metadata.get(key)
                if value is not None and not isinstance(value, (str, list)):
                    errors.append(f'"{key}" must be a string')
            for key in ("tags", "datasets", "language"):
                value = metadata.get(key)
                if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    errors.append(f'"{key}" must be a list of strings')
            configs = metadata.get("configs")
            if configs is not None and not (isinstance(configs, list)
                                            and all(isinstance(c, dict) and "config_name" in c for c in configs)):
                errors.append('"configs" must be a list of mappings with a "config_name"')
        if errors:
            return 400, {"errors": [{"message": message} for message in errors], "warnings": []}
        return 200, {"errors": [], "warnings": []}

    def lfs_batch(self, payload: dict) -> dict:
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            entry = {"oid": oid, "size": size}
            if oid not in self.lfs_objects:
                upload = {"href": f"{self.url}/_lfs/{oid}"}
                if size > self.multipart_threshold:
                    parts = -(-size // self.chunk_size)
                    upload["header"] = {"chunk_size": str(self.chunk_size),
                                        **{str(n): f"{self.url}/_lfs/{oid}/part/{n}" for n in range(1, parts + 1)}}
                entry["authenticated"] = True
                entry["actions"] = {"upload": upload, "verify": {"href": f"{self.url}/_lfs/verify"}}
            objects.append(entry)
        return {"transfer": "basic", "objects": objects}

    def store_lfs(self, oid: str, data: bytes) -> None:
        if hashlib.sha256(data).hexdigest() != oid:
            raise _HTTPError(400, f"LFS object {oid}: content does not match its sha256")
        self.lfs_objects[oid] = data

    def complete_multipart(self, oid: str, payload: dict) -> None:
        try:
            data = b"".join(self.lfs_parts.pop((oid, part["partNumber"])) for part in payload["parts"])
        except KeyError as err:
            raise _HTTPError(400, f"LFS object {oid}: missing part {err}") from err
        self.store_lfs(oid, data)

    def commit(self, repo: Repo, body: bytes) -> dict:
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _HTTPError(400, "commit payload must start with a header line")
        summary = lines[0]["value"].get("summary", "")
        changes: dict[str, StoredFile | None] = {}
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                changes[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                data = self.lfs_objects.get(value["oid"])
                if data is None or len(data) != value["size"]:
                    raise _HTTPError(422, f"LFS pointer for {value['path']} references an object not uploaded")
                changes[value["path"]] = StoredFile(data, lfs=True)
            elif key == "deletedFile":
                changes[value["path"]] = None
            else:
                raise _HTTPError(400, f"unsupported commit operation {key!r}")
        oid = self._commit(repo, summary, changes)
        return {"commitUrl": f"{self.repo_url(repo)}/commit/{oid}", "commitOid": oid, "pullRequestUrl": None}


_REPO = r"(?P<repo_id>[^/]+/[^/]+)"
_API_REPO = re.compile(rf"^/api/(?P<type>models|datasets|spaces)/{_REPO}(?:/(?P<verb>revision|tree|preupload|commit)"
                       r"(?:/(?P<rev>[^/]+))?(?P<rest>/.*)?)?$")
_LFS_BATCH = re.compile(rf"^/(?:(?P<type>datasets|spaces)/)?{_REPO}\.git/info/lfs/objects/batch$")
_RESOLVE = re.compile(rf"^/(?:(?P<type>datasets|spaces)/)?{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake_hub: FakeHub

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, *, head: bool = False) -> None:
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        # One request per connection: huggingface_hub's HTTP client is process-wide, and a kept-alive
        # connection must not outlive this server (a later test's server may reuse the port).
        headers["Connection"] = "close"
        self.close_connection = True
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, obj, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _handle(self, method: str) -> None:
        hub = self.fake_hub
        body = self._read_body() if method in ("POST", "PUT") else b""
        split = urlsplit(self.path)
        path, query = unquote(split.path), parse_qs(split.query)
        headers = {key.lower(): value for key, value in self.headers.items()}
        hub.requests.append(RecordedRequest(method, self.path, headers, len(body)))
        fault = hub._take_fault(method, path)
        if fault is not None and fault.status is None:
            self.close_connection = True
            self.connection.shutdown(2)  # a network error: no answer at all
            return
        if fault is not None:
            return self._json(fault.status, {"error": f"injected failure ({fault.status})"})
        try:
            with hub._lock:
                self._route(method, path, query, body)
        except Exception as err:  # noqa: BLE001 - a bug in the fake or a bad request: answer, never hang the client
            if not isinstance(err, _HTTPError):
                err = _HTTPError(500, f"fake hub: {type(err).__name__}: {err}")
            headers = {"X-Error-Message": err.message}
            if err.error_code:
                headers["X-Error-Code"] = err.error_code
            self._json(err.status, {"error": err.message, **getattr(err, "extra", {})}, headers)

    def _route(self, method: str, path: str, query: dict, body: bytes) -> None:
        hub = self.fake_hub
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        is_json = content_type in ("application/json", "application/vnd.git-lfs+json")
        payload = json.loads(body) if body and is_json else {}
        if method == "POST" and path == "/api/repos/create":
            return self._json(200, hub.create_repo(payload, self.headers))
        if method == "POST" and path == "/api/validate-yaml":
            return self._json(*hub.validate_yaml(payload))
        if method == "POST" and path == "/_lfs/verify":
            if payload.get("oid") not in hub.lfs_objects:
                raise _HTTPError(404, "LFS object not found")
            return self._json(200, {"success": True})
        match = re.match(r"^/_lfs/(?P<oid>[0-9a-f]{64})(?:/part/(?P<part>\d+))?$", path)
        if match and method == "PUT" and match["part"]:
            hub.lfs_parts[(match["oid"], int(match["part"]))] = body
            return self._send(200, headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})
        if match and method == "PUT":
            hub.store_lfs(match["oid"], body)
            return self._send(200)
        if match and method == "POST":
            hub.complete_multipart(match["oid"], payload)
            return self._json(200, {"success": True})
        match = _LFS_BATCH.match(path)
        if match and method == "POST":
            repo = hub._get_repo((match["type"] or "models")[:-1], match["repo_id"], self.headers)
            hub._authorize(self.headers, write=True, repo=repo)
            return self._json(200, hub.lfs_batch(payload), {"Content-Type": "application/vnd.git-lfs+json"})
        match = _API_REPO.match(path)
        if match:
            repo = hub._get_repo(match["type"][:-1], match["repo_id"], self.headers)
            verb, rev = match["verb"], match["rev"] or "main"
            if verb is not None:
                hub._check_revision(repo, rev)
            if method == "GET" and verb in (None, "revision"):
                return self._json(200, hub.repo_info(repo))
            if method == "GET" and verb == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return self._json(200, hub.tree(repo, match["rest"] or "", recursive))
            if method == "POST" and verb == "preupload":
                hub._authorize(self.headers, write=True, repo=repo)
                return self._json(200, hub.preupload(repo, payload))
            if method == "POST" and verb == "commit":
                hub._authorize(self.headers, write=True, repo=repo)
                return self._json(200, hub.commit(repo, body))
        match = _RESOLVE.match(path)
        if match and method in ("GET", "HEAD"):
            repo = hub._get_repo((match["type"] or "models")[:-1], match["repo_id"], self.headers)
            hub._check_revision(repo, match["rev"])
            stored = repo.files.get(match["path"])
            if stored is None:
                raise _HTTPError(404, f"Entry not found: {match['path']}", "EntryNotFound")
            headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": repo.sha,
                       "ETag": f'"{git_blob_sha1(stored.data)}"', "Content-Length": str(len(stored.data))}
            if stored.lfs:
                headers["X-Linked-Etag"] = f'"{stored.sha256}"'
                headers["X-Linked-Size"] = str(len(stored.data))
            return self._send(200, stored.data, headers, head=method == "HEAD")
        raise _HTTPError(404, f"fake hub: no route for {method} {path}")

    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")


def point_hub_at(monkeypatch, url: str, token: str) -> None:
    """Point huggingface_hub and the environment at ``url`` (a :class:`FakeHub`), online, plain HTTP + LFS, with
    ``token`` in ``HF_TOKEN``. huggingface_hub reads ``HF_ENDPOINT`` once, at import: the derived constants are
    set too."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", token)
