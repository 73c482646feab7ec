"""Log lines that say what happened and nothing a client wrote: whatever comes from a request
(a path, a value) is logged through `printable`, and the process's log handler formats every
message on one line (`OneLineFormatter`), so that no request can forge a line of its own."""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")
MAX_CHARS = 200


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group(0)):02x}"


def printable(text: str, limit: int = MAX_CHARS) -> str:
    """`text` on one line: control characters escaped (`\\x0a`), cut at `limit` characters."""
    out = _CONTROL.sub(_escaped, text)
    return out if len(out) <= limit else out[:limit] + "…"


class OneLineFormatter(logging.Formatter):
    """A formatter whose message part never spans lines (a traceback still follows, as
    tracebacks do, indented under the line that announced it)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _CONTROL.sub(_escaped, record.message)
        return super().formatMessage(record)
