"""The one redactor: every message that can carry server text (push errors, judge error bodies, logged
tracebacks) passes through :func:`redact` before it is printed, logged or written."""

from __future__ import annotations

import re

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
