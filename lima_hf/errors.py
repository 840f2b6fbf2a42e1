"""The lima-hf error family: every error lima-hf raises on purpose derives from :class:`LimaError`, which the
``lima-hf`` command reports in one line (exit code 1; :class:`ConfigError`, a usage error, exit code 2). Anything
else reaching the command is a bug: a one-line summary and a traceback log.

::

    LimaError
    ├── ConfigError                  a missing, unknown or invalid option (exit 2)
    │   ├── CLIError                     (lima_hf.cli_args) a command-line usage error
    │   └── MissingExtraError            (lima_hf._optional) an optional extra is not installed; also an ImportError
    ├── InputError                   bad input data, naming the file and line or record; also a ValueError
    │   ├── OutputRefusedError           an output over something lima-hf did not write, over an input, or unwritable
    │   ├── SettingsChangedError         (lima_hf.evaluation.resumable) a resumable output made with other settings
    │   └── RowError                     (lima_hf.data.sources.stackexchange.rows) a dump row off the layout
    ├── JudgeUnavailableError        (lima_hf.evaluation.judges.base) the judge cannot answer; also a RuntimeError
    └── HubPushError                 (lima_hf.hub) a push failed; also a RuntimeError
"""


class LimaError(Exception):
    """Base of every error lima-hf raises on purpose; its message is one line that says what to do."""


class ConfigError(LimaError):
    """A missing, unknown or invalid option; the ``lima-hf`` command reports it as a usage error (exit code 2)."""


class InputError(LimaError, ValueError):
    """Bad input data; the message names the file and the line or record."""


class OutputRefusedError(InputError):
    """An output would replace or delete something lima-hf did not write, or one of the inputs, or cannot be
    written."""
