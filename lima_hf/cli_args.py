"""Parse a command's config dataclasses from a YAML recipe (``--config``) plus command-line overrides.

Built on TRL's ``TrlParser`` so recipes look exactly like TRL's and the alignment handbook's, with errors
that name the file, line and key instead of a traceback.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Sequence
from typing import Any

import yaml
from trl import TrlParser

from lima_hf.errors import ConfigError, InputError
from lima_hf.io import read_yaml


class CLIError(ConfigError):
    """A usage error: bad option, bad recipe file or bad value. The CLI prints it and exits with code 2."""


class _Parser(TrlParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # --max_step must not silently run as --max_steps
        super().__init__(*args, **kwargs)
        for action in self._actions:  # a help text saying "95% intervals" must not break --help
            if action.help:
                action.help = re.sub(r"%(?!\()", "%%", action.help)

    def error(self, message):  # argparse would print usage and exit; we want one clear line
        raise CLIError(message)


def _key_lines(node) -> dict[str, int]:
    """Line number (1-based) of each top-level key of a parsed YAML mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}


def load_recipe(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, int]]:
    """Read a YAML recipe; return its mapping and the line of each key. Errors name the file and line."""
    try:
        config, node = read_yaml(path, "recipe file")
    except InputError as err:
        raise CLIError(str(err)) from err
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise CLIError(f"{path}: a recipe must be a YAML mapping of option: value")
    return config, _key_lines(node)


def pop_option(args: list[str], flag: str, what: str) -> str | None:
    """Remove ``flag VALUE`` from ``args`` and return VALUE (``None`` when the flag is absent)."""
    if flag not in args:
        return None
    index = args.index(flag)
    if index + 1 >= len(args):
        raise CLIError(f"{flag} needs {what}")
    value = args[index + 1]
    del args[index : index + 2]
    return value


def check_recipe(path: str | os.PathLike, parser: TrlParser, prog: str) -> None:
    """Read a recipe with lima-hf's YAML reader and check its keys against ``parser``: errors name the file, the
    line and the key (TRL's own parser reports neither file nor line)."""
    config, lines = load_recipe(path)
    if not isinstance(config.get("env", {}), dict):
        raise CLIError(f"{path}:{lines.get('env', '?')}: 'env' must be a mapping of variable: value")
    known = {action.dest for action in parser._actions} | {"env"}
    for key in config:
        if key not in known:
            raise CLIError(f"{path}:{lines.get(key, '?')}: unknown key '{key}' for `{prog}`")


def parse_args(
    dataclass_types: Sequence[type], argv: Sequence[str], prog: str, description: str | None = None
) -> tuple:
    """Return one instance per dataclass type, from ``--config FILE`` (optional) and ``argv`` overrides.

    TRL's ``TrlParser.parse_args_and_config`` does the parsing (``--config``, ``env``, recipe values as
    defaults, command-line overrides); the recipe is checked first by :func:`check_recipe`."""
    parser = _Parser(list(dataclass_types), prog=prog, description=description)
    args = list(argv)
    source = "command line"
    if "--config" in args:
        index = args.index("--config")
        if index + 1 >= len(args):
            raise CLIError("--config needs a recipe file path")
        source = args[index + 1]
        check_recipe(source, parser, prog)
    try:
        return tuple(parser.parse_args_and_config(args=args))
    except CLIError:
        raise
    except (ValueError, TypeError) as err:
        unused = re.search(r"not used by the HfArgumentParser: (\[.*\])", str(err))
        if unused:
            raise CLIError(f"unrecognized arguments: {' '.join(ast.literal_eval(unused.group(1)))}") from err
        raise CLIError(f"{source}: {err}") from err
