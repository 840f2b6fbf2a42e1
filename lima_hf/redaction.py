"""The one redactor: every message that can carry server text (push errors, judge error bodies, logged
tracebacks) passes through :func:`redact` before it is printed, logged or written; and the one process-wide guard,
:func:`redacted_output`, through which everything any library prints or logs during a ``lima-hf`` command passes."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Iterator

REDACTED = "[REDACTED]"
_PATTERNS = (
    re.compile(r"\bhf_[A-Za-z0-9]{6,}"),  # Hugging Face tokens
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),  # OpenAI-style API keys (sk-..., sk-proj-...)
    re.compile(r"(?i)\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/\-]{6,}=*"),  # Authorization header values
    re.compile(r"(?i)\b(token|key|api[_-]?key|access[_-]?token|authorization|password|secret)"
               r"([\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{6,}"),  # key=value, "key": "value"
)
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a configured secret (a token, an API key) so that :func:`redact` removes it verbatim too."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: object) -> str:
    """``text`` with every token, key and ``Bearer ...`` value, and every registered secret, replaced."""
    text = str(text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


# Environment variables whose values are credentials (HF_TOKEN, OPENAI_API_KEY, WANDB_API_KEY, ...)
_SECRET_VARIABLE = re.compile(r"(?:^|_)(TOKEN|KEY|SECRET|PASSWORD|PASSWD)$")


def register_environment_secrets() -> None:
    """Register the credentials this process can see: variables named ``*_TOKEN``, ``*_KEY``, ``*_SECRET``,
    ``*_PASSWORD`` (HF_TOKEN, OPENAI_API_KEY, ...) and the token ``hf auth login`` saved."""
    for name, value in os.environ.items():
        if _SECRET_VARIABLE.search(name.upper()) and len(value) >= 8:
            register_secret(value)
    with contextlib.suppress(Exception):  # no huggingface_hub, or an unreadable token file: nothing to register
        from huggingface_hub import get_token

        register_secret(get_token())


class _RedactingStream:
    """A text stream whose writes pass :func:`redact` before reaching the wrapped stream (``isatty``, ``fileno``,
    ``encoding`` and the rest are the wrapped stream's)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        self._stream.write(redact(text) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _redact_record(record: logging.LogRecord) -> None:
    """Redact a log record in place: its message (with its arguments merged), traceback and stack."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed call: log what was given
        message = f"{record.msg} {record.args}"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """While active, everything the process prints or logs passes :func:`redact`, whoever prints it: writes to
    ``sys.stdout`` and ``sys.stderr`` (``print``, tqdm, ``warnings``), every ``logging`` record (message,
    arguments, traceback, whatever its handler), and formatted warnings. The credentials of the environment are
    registered first. The one process-wide guard: ``lima-hf`` runs every command inside it."""
    register_environment_secrets()
    out, err = sys.stdout, sys.stderr
    factory = logging.getLogRecordFactory()
    formatwarning = warnings.formatwarning

    def make_record(*args, **kwargs):
        record = factory(*args, **kwargs)
        _redact_record(record)
        return record

    sys.stdout, sys.stderr = _RedactingStream(out), _RedactingStream(err)
    logging.setLogRecordFactory(make_record)
    warnings.formatwarning = lambda *args, **kwargs: redact(formatwarning(*args, **kwargs))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        logging.setLogRecordFactory(factory)
        warnings.formatwarning = formatwarning
