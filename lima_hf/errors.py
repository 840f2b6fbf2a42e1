"""The library's usage error: a bad option or option value given to a lima-hf function."""


class ConfigError(Exception):
    """A missing, unknown or invalid option; the ``lima-hf`` command reports it as a usage error (exit code 2)."""
