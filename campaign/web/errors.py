"""Errors as people and programs read them: a French page for people, JSON for the API, never a
stack trace; 503 and Retry-After only when the database is away (campaign/core/db.py,
`unavailable`), a 500 with a reference and the traceback in the log for anything else."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template

from campaign.core import db
from campaign.core.logtext import printable

log = logging.getLogger(__name__)

_TITLES = {
    400: "Requête invalide",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    413: "Requête trop volumineuse",
    422: "Données invalides",
    429: "Trop de requêtes",
    500: "Erreur interne",
    503: "Service momentanément indisponible",
}
_PAGE_MESSAGES = {
    403: "Le formulaire a expiré ou n’a pas été envoyé depuis ce site. "
    "Rechargez la page et réessayez.",
    404: "Cette page n’existe pas ou plus.",
    413: "Les données envoyées sont trop volumineuses.",
    500: "Une erreur inattendue s’est produite. L’équipe en est informée.",
    503: "Le service est momentanément indisponible. Réessayez dans quelques instants.",
}


def _is_api(request: Request[Any, Any, Any]) -> bool:
    # The scope's path: `request.url` parses the Host header, which may be malformed.
    path: str = request.scope["path"]
    return path.startswith(("/api/", "/health", "/ready", "/schema"))


def _error(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    extra: Any = None,
    headers: dict[str, str] | None = None,
    error_id: str | None = None,
) -> Response[Any]:
    if _is_api(request):
        body: dict[str, Any] = {"status_code": status, "detail": detail}
        if extra:
            body["extra"] = extra
        if error_id:
            body["error_id"] = error_id
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)
    message = _PAGE_MESSAGES.get(status) or detail
    return Template(
        "error.html",
        context={
            "title": _TITLES.get(status, "Erreur"),
            "message": message,
            "status": status,
            "error_id": error_id,
        },
        status_code=status,
        headers=headers,
    )


def new_error_id() -> str:
    """A short random reference, shown to the visitor and written in the log line."""
    return secrets.token_hex(4)


def http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    detail = exc.detail
    if exc.status_code == 400 and detail.startswith("Validation failed"):
        detail = "Paramètres invalides."
    return _error(request, exc.status_code, detail, exc.extra, exc.headers)


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    error_id = new_error_id()
    log.warning("error %s: database unavailable (%s)", error_id, type(exc).__name__)
    return _error(
        request,
        503,
        f"Service momentanément indisponible (référence {error_id}).",
        headers={"Retry-After": "5"},
        error_id=error_id,
    )


_TOKEN_SEGMENT = re.compile(r"/[A-Za-z0-9_-]{20,}")


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if db.unavailable(exc):
        return _unavailable(request, exc)
    # Paths may carry a confirmation token: never in the logs; nor a line of the client's own.
    # The scope's path: `request.url` parses the Host header, which may be malformed.
    path = printable(_TOKEN_SEGMENT.sub("/…", request.scope["path"]))
    error_id = new_error_id()
    log.exception("error %s: unhandled on %s %s", error_id, request.method, path)
    return _error(
        request,
        500,
        f"Erreur interne (référence {error_id}). L’équipe en est informée.",
        error_id=error_id,
    )


EXCEPTION_HANDLERS = {HTTPException: http_exception, Exception: internal_error}
