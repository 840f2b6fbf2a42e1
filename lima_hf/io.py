"""The one output policy, and JSON-lines / YAML input with errors that name the file and line.

Output policy (every writer of lima-hf goes through it):

* files are written atomically (a temporary file beside the target, renamed over it) with the permissions
  the user's umask gives (``0666 & ~umask``), or the mode of the file replaced, so a ``chmod`` survives a rerun;
* lima-hf marks what it writes: each folder it writes into holds :data:`OUTPUT_MARK`, a small JSON manifest
  listing the files it wrote there. It never replaces a file, nor a whole folder, that the mark does not list
  (a folder that lacks the mark or holds other files is refused with :class:`OutputRefusedError`);
* a folder is built in a staging folder beside the target and swapped in (an atomic exchange where the
  system has one); staging folders left by a crashed run are removed, and a target moved aside by a run
  killed between two renames is put back, by the next write to the same target;
* an output may not be one of the inputs, nor hold one (:func:`check_output_not_input`), nor, for commands
  whose inputs are folders read whole, lie inside one.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from lima_hf.errors import InputError, OutputRefusedError

OUTPUT_MARK = ".lima-hf-output.json"
_STAGING = ".lima-hf-staging-"
_ASIDE = ".lima-hf-old-"




# --------------------------------------------------------------------------- permissions


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


# --------------------------------------------------------------------------- ownership mark


def read_mark(folder: str | os.PathLike) -> set[str] | None:
    """The relative paths lima-hf wrote in ``folder`` (``None`` when the folder has no mark)."""
    path = Path(folder) / OUTPUT_MARK
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != "lima-hf" or not isinstance(data.get("files"), list):
        return None
    return {str(name) for name in data["files"]}


def _write_mark(folder: Path, files: Iterable[str]) -> None:
    text = json.dumps({"written_by": "lima-hf", "files": sorted(set(files))}, indent=1) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f"{OUTPUT_MARK}.", suffix=".tmp", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, file_mode())
    os.replace(tmp, folder / OUTPUT_MARK)


def claim(path: str | os.PathLike) -> None:
    """Record ``path`` (a file lima-hf has just written) in its folder's mark."""
    path = Path(path)
    mark = read_mark(path.parent) or set()
    if path.name not in mark:
        _write_mark(path.parent, mark | {path.name})


def owned_by_lima_hf(path: str | os.PathLike) -> bool:
    """Whether lima-hf's mark in ``path``'s folder, or in a folder above it, lists ``path``."""
    path = Path(os.path.abspath(path))
    for folder in path.parents:
        mark = read_mark(folder)
        if mark is not None and path.relative_to(folder).as_posix() in mark:
            return True
    return False


def _tree_files(folder: Path) -> list[str]:
    """Every file (and link) under ``folder``, relative, except lima-hf's marks."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if (p.is_symlink() or not p.is_dir()) and p.name != OUTPUT_MARK
    )


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output that cannot be written: under a file, or in a folder where no file can
    be made (``/proc``, read-only or immutable). Probed by making and removing a temporary file in the nearest
    existing folder, since permission bits do not tell (root, immutable flags, read-only mounts)."""
    path = Path(os.path.abspath(path))
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputRefusedError(f"{path}: {parent} is a file, not a folder; choose another output")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lima-hf-probe-", dir=parent)
    except OSError as err:
        raise OutputRefusedError(f"{path}: cannot write in {parent} ({err.strerror or err}); choose another output"
                                 ) from None
    os.close(fd)
    os.unlink(probe)


def check_replaceable_folder(folder: str | os.PathLike) -> None:
    """Refuse (:class:`OutputRefusedError`) unless ``folder`` is absent, empty, or holds only what lima-hf wrote,
    and can be written (:func:`check_writable`)."""
    folder = Path(folder)
    check_writable(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise OutputRefusedError(f"{folder}: exists and is not a folder; refusing to replace it")
    present = _tree_files(folder)
    if not present:
        return
    mark = read_mark(folder)
    if mark is None:
        raise OutputRefusedError(
            f"{folder}: not empty and not written by lima-hf (no {OUTPUT_MARK}); refusing to replace it — "
            "choose another output folder or empty this one"
        )
    foreign = [name for name in present if name not in mark and not owned_by_lima_hf(folder / name)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputRefusedError(
            f"{folder}: holds files lima-hf did not write ({shown}); refusing to replace it — move them out "
            "or choose another output folder"
        )


def check_replaceable_file(path: str | os.PathLike) -> None:
    """Refuse to replace an existing file that lima-hf did not write, or a path that cannot be written."""
    path = Path(path)
    check_writable(path)
    if path.is_dir():
        raise OutputRefusedError(f"{path}: is a folder; expected a file path")
    if path.exists() and not owned_by_lima_hf(path):
        raise OutputRefusedError(
            f"{path}: exists and was not written by lima-hf; refusing to replace it — choose another output "
            "or remove it first"
        )


def check_output_not_input(output: str | os.PathLike, inputs: Iterable[str | os.PathLike | None], *,
                           inside: bool = False) -> None:
    """Refuse an output that is one of the inputs, or a folder holding one of them (it would be replaced); with
    ``inside``, also an output inside an input folder (what the command writes there would be read back, or
    change the input)."""
    target = Path(os.path.realpath(output))
    for given in inputs:
        if given is None or str(given) == "":
            continue
        source = Path(os.path.realpath(given))
        if source == target or target in source.parents:
            raise OutputRefusedError(
                f"{output}: is the input {given}" if source == target else f"{output}: holds the input {given}"
            ) from None
        if inside and source in target.parents and source.is_dir():
            raise OutputRefusedError(
                f"{output}: is inside the input folder {given}; choose an output outside it"
            ) from None


# --------------------------------------------------------------------------- staging and swapping


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(target: str | os.PathLike) -> None:
    """Undo what a crashed write to ``target`` left: put back a target moved aside, remove stale staging."""
    target = Path(os.path.abspath(target))
    parent = target.parent
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        name = entry.name
        for marker in (_STAGING, _ASIDE):
            prefix = f".{target.name}{marker}"
            if not name.startswith(prefix):
                continue
            pid = name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
                continue  # another run is writing this target right now
            if marker == _ASIDE and not target.exists():
                os.replace(entry, target)  # killed between the two renames: the old target comes back
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
        _recover_legacy(target, entry)


def _recover_legacy(target: Path, entry: Path) -> None:
    """What lima-hf before the ownership mark left (``.NAME.staging-*``, ``.NAME.old-*/NAME``), once an hour old."""
    if not entry.name.startswith((f".{target.name}.staging-", f".{target.name}.old-")) or not entry.is_dir():
        return
    if time.time() - entry.stat().st_mtime < 3600:
        return  # perhaps still being written
    moved = entry / target.name
    if entry.name.startswith(f".{target.name}.old-") and moved.is_dir() and not target.exists():
        os.replace(moved, target)
    shutil.rmtree(entry, ignore_errors=True)


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


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    if _exchange(staging, target):  # staging now holds the old target
        shutil.rmtree(staging, ignore_errors=True)
        return
    aside = target.parent / f".{target.name}{_ASIDE}{os.getpid()}-{os.urandom(3).hex()}"
    os.replace(target, aside)
    os.replace(staging, target)
    shutil.rmtree(aside, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``target`` whole, marked as lima-hf's.

    ``target`` must be absent, empty or a previous output of lima-hf (:func:`check_replaceable_folder`).
    """
    target = Path(os.path.abspath(target))
    cwd = Path(os.getcwd())
    if target == cwd or target in cwd.parents:
        raise OutputRefusedError(
            f"{target}: is the current folder (or holds it); give the name of a new output folder instead"
        )
    recover(target)
    check_replaceable_folder(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{_STAGING}{os.getpid()}-", dir=target.parent))
    try:
        yield staging
        apply_umask_tree(staging)
        _write_mark(staging, _tree_files(staging))
        _swap_in(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, replace: str = "owned"):
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    ``replace``: ``"owned"`` (default) refuses to replace an existing file lima-hf did not write, and
    records the file in its folder's mark; ``"any"`` replaces whatever is there (the caller has checked).
    The file gets the umask's permissions, or keeps those of the file it replaces.
    """
    path = Path(path)
    if replace == "owned":
        check_replaceable_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = file_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if replace == "owned":
        claim(path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", *, replace: str = "owned"):
    """Open a file for writing that appears at ``path`` only once it is completely written (see :func:`atomic_path`)."""
    if "b" in mode:
        encoding = None
    with atomic_path(path, replace=replace) as tmp, open(tmp, mode, encoding=encoding) as handle:
        yield handle


def dump_jsonl_line(record: Any) -> str:
    """One JSON line, stable across runs (key order kept, non-ASCII kept)."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_jsonl(path: str | os.PathLike, records: Iterable[Any], *, replace: str = "owned") -> int:
    """Write ``records`` as JSON lines atomically; return how many were written."""
    count = 0
    with atomic_open(path, replace=replace) as handle:
        for record in records:
            handle.write(dump_jsonl_line(record))
            count += 1
    return count


# --------------------------------------------------------------------------- input


def read_jsonl(path: str | os.PathLike, *, skip_blank: bool = True, on_error: str = "raise",
               skipped: list[tuple[int, InputError]] | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for each line; a malformed line (bad JSON or bad UTF-8) raises
    :class:`InputError` naming the file and line, or, with ``on_error="skip"``, is appended to ``skipped``
    as ``(line_number, error)`` and the next line is read."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError as err:
        raise InputError(f"{path}: file not found") from err
    except IsADirectoryError as err:
        raise InputError(f"{path}: is a folder, expected a JSONL file") from err
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
                if skip_blank and not line.strip():
                    continue
                obj = json.loads(line)
            except UnicodeDecodeError as err:
                error = InputError(f"{path}:{number}: invalid UTF-8 ({err.reason} at byte {err.start})")
            except json.JSONDecodeError as err:
                error = InputError(f"{path}:{number}: malformed JSON ({err.msg} at column {err.colno})")
            else:
                yield number, obj
                continue
            if on_error != "skip":
                raise error
            if skipped is not None:
                skipped.append((number, error))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping giving the same key twice."""


def _construct_unique_mapping(loader, node, deep=False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key]})", key_node.start_mark
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def read_yaml(path: str | os.PathLike, what: str = "YAML file") -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file; return ``(data, node tree)``, the tree giving line numbers for later errors.

    A missing or unreadable file, malformed YAML or a key given twice raises :class:`InputError` naming
    the file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InputError(f"{path}: {what} not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read {what} ({err})") from err
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader), yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: malformed YAML ({getattr(err, 'problem', None) or err})") from err


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in ``path``, or ``None`` when the file does not exist; malformed JSON raises
    :class:`InputError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from err
