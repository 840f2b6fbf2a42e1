"""The output policy: every writer of lima-hf goes through it.

* files are written atomically (a temporary file beside the target, renamed over it) with the permissions
  the user's umask gives, or the mode of the file replaced, so a ``chmod`` survives a rerun
  (:mod:`lima_hf.io.permissions`);
* lima-hf marks what it writes: each folder it writes into holds :data:`OUTPUT_MARK`, a small JSON manifest
  listing the files it wrote there. It never replaces a file, nor a whole folder, that the mark does not list
  (a folder that lacks the mark or holds other files is refused with :class:`OutputRefusedError`);
* a folder is built in a staging folder beside the target and swapped in; what a crashed run left is undone
  by the next write to the same target (:mod:`lima_hf.io.recovery`);
* an output may not be one of the inputs, nor hold one (:func:`check_output_not_input`), nor, for commands
  whose inputs are folders read whole, lie inside one; nor be unwritable (:func:`check_writable`, before any work).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lima_hf.errors import OutputRefusedError
from lima_hf.io.permissions import apply_umask_tree, file_mode
from lima_hf.io.recovery import make_staging, recover, swap_in

OUTPUT_MARK = ".lima-hf-output.json"


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


# --------------------------------------------------------------------------- atomic writers


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
    staging = make_staging(target)
    try:
        yield staging
        apply_umask_tree(staging)
        _write_mark(staging, _tree_files(staging))
        swap_in(staging, target)
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
