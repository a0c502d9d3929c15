"""One error hierarchy for the whole tool. Every face maps `AidkbError` subclasses in one place (exit status 2
on the command line, 422 or 504 over HTTP); anything else is a bug."""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SHOWN = 80  # characters of a user value quoted in a message


def escape(text: str) -> str:
    """User text made safe for a terminal or a log line: control characters (ANSI/OSC escapes, bidi overrides,
    line breaks other than \\n) shown as \\x.. escapes."""
    return _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text
    )


def show(value: object, limit: int = SHOWN) -> str:
    """A user value quoted in an error message: repr, escaped, and cut to a readable length."""
    try:
        text = repr(value) if not isinstance(value, (list, dict, tuple, set)) else _short_repr(value, limit)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    text = escape(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: list[Any] | dict[Any, Any] | tuple[Any, ...] | set[Any], limit: int) -> str:
    """repr of a container without building the whole string (an aliased YAML value can be huge)."""
    parts: list[str] = []
    size = 0
    items = value.items() if isinstance(value, dict) else value
    for item in items:
        piece = f"{show(item[0], limit)}: {show(item[1], limit)}" if isinstance(value, dict) else show(item, limit)
        parts.append(piece)
        size += len(piece) + 2
        if size > limit:
            parts.append("…")
            break
    brackets: dict[type, tuple[str, str]] = {dict: ("{", "}"), list: ("[", "]"), tuple: ("(", ")"), set: ("{", "}")}
    opening, closing = brackets.get(type(value), ("[", "]"))
    return opening + ", ".join(parts) + closing


class AidkbError(Exception):
    """Base of every error the tool reports to a user (never a traceback)."""

    exit_status = 2
    http_status = 422


class InputError(AidkbError):
    """Bad input that gets no answer: names the source (file) and the field."""

    def __init__(self, source: str, field_path: str, message: str):
        self.source, self.field, self.message = escape(str(source)), escape(field_path), message
        super().__init__(f"{self.source}: {self.field}: {message}" if field_path else f"{self.source}: {message}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # picklable, so that it crosses from a deadline worker process intact
        return (type(self), (self.source, self.field, self.message))


class UsageError(AidkbError):
    """A command used wrongly (a missing file, incompatible options)."""
