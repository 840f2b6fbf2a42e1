"""Clear errors for optional extras that are not installed."""

import importlib

from lima_hf.errors import ConfigError


class MissingExtraError(ConfigError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` line that fixes it."""


def require(module: str, install: str, purpose: str):
    """Import ``module`` or raise :class:`MissingExtraError` telling the user to run ``install``."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(f"{purpose} needs the '{module}' package: run `{install}`") from err
