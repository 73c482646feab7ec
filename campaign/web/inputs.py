"""Inputs no handler can use, refused (400) before any handler reads them: a control character
in the path, a NUL or invalid UTF-8 in the query string or in a url-encoded form body.

PostgreSQL refuses NUL in text, and the parsers of forms and query strings fail on invalid
UTF-8: without this, such a request reached a handler and ended in a 500. The answer names the
field (`extra`, as Litestar's validation errors do): JSON on the API, a French page elsewhere
(campaign/web/errors.py). Forms of any encoding (multipart too: file uploads) are read by
`read_form`, which checks them the same way; JSON bodies are checked by their decoders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FORM = b"application/x-www-form-urlencoded"


def refused(field: str, source: str, message: str) -> HTTPException:
    """The 400 for one field; its detail is French and names the field."""
    return HTTPException(
        status_code=400,
        detail=f"{message} (champ « {field} »).",
        extra=[{"key": field, "source": source, "message": message}],
    )


def _text(raw: bytes) -> str | None:
    """A url-encoded name or value as text; None when it is not UTF-8."""
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_pairs(encoded: bytes, source: str, *, nul: bool = False) -> None:
    """Raises the 400 for the first field whose name or value holds a NUL (unless `nul`: its
    handler refuses it itself) or is not UTF-8."""
    for pair in encoded.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name, value = _text(raw_name), _text(raw_value)
        field = name if name is not None else raw_name.decode("ascii", "replace")
        field = _CONTROL.sub("?", field)[:40] or "?"
        if name is None or value is None:
            raise refused(field, source, "Texte mal encodé (UTF-8 attendu)")
        if not nul and ("\x00" in name or "\x00" in value):
            raise refused(field, source, "Caractère nul interdit")


async def read_form(request: Request[Any, Any, Any], *, nul: bool = False) -> FormMultiDict:
    """The posted form (url-encoded or multipart), its text fields UTF-8 and free of NUL (unless
    `nul`: the handler's validation names the field next to it, keeping what was typed): else
    the 400. (Litestar's multipart parser raises on a text field that is not UTF-8.)"""
    try:
        form = await request.form()
    except UnicodeDecodeError:
        raise HTTPException(
            status_code=400, detail="Texte mal encodé dans le formulaire (UTF-8 attendu)."
        ) from None
    for name, value in form.multi_items():
        if nul:
            break
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            raise refused(_CONTROL.sub("?", name)[:40] or "?", "body", "Caractère nul interdit")
    return form


def _content_type(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bytes(value).split(b";")[0].strip().lower()
    return b""


class InputCheckMiddleware(ASGIMiddleware):
    """Refuses (400) a path with a control character, and a NUL or invalid UTF-8 in the query
    string or in a url-encoded body of at most `max_body` bytes (a larger one is passed on as it
    came: the app refuses it, 413). The forms posted to `nul_paths` may carry a NUL: their
    handlers' validation refuses it next to the field (the signing form keeps what was typed)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, max_body: int, nul_paths: frozenset[str] = frozenset()) -> None:
        self.max_body = max_body
        self.nul_paths = nul_paths

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if _CONTROL.search(scope["path"]):
            raise HTTPException(status_code=400, detail="Adresse invalide.")
        check_pairs(scope.get("query_string", b""), "query")
        if scope.get("method") in ("POST", "PUT", "PATCH") and _content_type(scope) == _FORM:
            receive = await self._checked_body(receive, nul=scope["path"] in self.nul_paths)
        await next_app(scope, receive, send)

    async def _checked_body(self, receive: Receive, *, nul: bool) -> Receive:
        """Reads the body (up to the cap), checks it, and gives the app a `receive` that hands
        it over again."""
        messages: list[ReceiveMessage] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body or not message.get("more_body", False):
                break
        last = messages[-1]
        if (
            last["type"] == "http.request"
            and not last.get("more_body", False)
            and size <= self.max_body
        ):
            check_pairs(
                b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request"),
                "body",
                nul=nul,
            )
        return _replay(messages, receive)


def _replay(messages: Iterable[ReceiveMessage], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
