"""Input readers: JSON lines, YAML and JSON whose errors name the file and line (:class:`InputError`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lima_hf.errors import InputError


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
