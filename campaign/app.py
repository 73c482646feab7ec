"""The application factory: one place wires settings, runtime, routes, templates, errors."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from litestar import Litestar, MediaType, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import YamlRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from campaign import admin
from campaign.api import openapi_errors
from campaign.api import public as public_api
from campaign.api import v1 as api
from campaign.core.settings import Settings, load_settings
from campaign.mail.sink import MailSink
from campaign.runtime import Runtime, running
from campaign.site import pages, public_pages, publication_pages, withdrawal_pages
from campaign.site import relay_pages as reach_pages
from campaign.web import cors, security
from campaign.web.hotreads import HotReadsApp

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_BODY_BYTES = 64 * 1024  # a signature is a few hundred bytes

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
_UNAVAILABLE = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.InterfaceError,
    # Class 08 (connection exception), class 57 (server shutting down, query cancelled by a
    # timeout), 53300 (too many connections): the database is away or overloaded, not the code.
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A pooled connection whose server went away between two queries (a restart) can fail with
    # "cannot switch to state …; another operation is in progress": a dead connection, not a bug
    # of ours. The pool throws it away when it comes back.
    asyncpg.exceptions.InternalClientError,
    ConnectionRefusedError,
    OSError,
    TimeoutError,
)


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


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
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


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, _UNAVAILABLE):
        return _unavailable(request, exc)
    # Paths may carry a confirmation token: never in the logs.
    path = _TOKEN_SEGMENT.sub("/…", request.url.path)
    error_id = new_error_id()
    log.exception("error %s: unhandled on %s %s", error_id, request.method, path)
    return _error(
        request,
        500,
        f"Erreur interne (référence {error_id}). L’équipe en est informée.",
        error_id=error_id,
    )


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> Litestar:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(settings, run_worker=run_worker) as runtime:
            app.state.runtime = runtime
            yield

    def provide_runtime(state: State) -> Runtime:
        return state.runtime  # type: ignore[no-any-return]

    def provide_sink(state: State) -> MailSink | None:
        return state.runtime.mail_sink  # type: ignore[no-any-return]

    handlers: list[Any] = [
        pages.Pages,
        withdrawal_pages.WithdrawalPages,
        reach_pages.ReachPages,
        public_pages.PublicPages,
        publication_pages.PublicationPages,
        api.CampaignApi,
        public_api.PublicApi,
        api.search_territories,
        api.health,
        api.ready,
        admin.router(),
        create_static_files_router(
            path="/static", directories=[PACKAGE_DIR / "static"], include_in_schema=False
        ),
    ]
    if settings.smtp_url is None and run_worker:
        from campaign.site.devmail import DevMailController

        handlers.append(DevMailController)

    return HotReadsApp(  # Litestar, with the counts' answers replayed (campaign/hotreads.py)
        route_handlers=handlers,
        lifespan=[lifespan],
        # The API's error answers, written into the OpenAPI document once every route is known.
        on_startup=[openapi_errors.document_errors],
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "mail_sink": Provide(provide_sink, sync_to_thread=False),
        },
        template_config=TemplateConfig(
            directory=PACKAGE_DIR / "templates", engine=JinjaTemplateEngine
        ),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="csrftoken",
            cookie_httponly=True,
            cookie_samesite="strict",
            cookie_secure=settings.base_url.startswith("https://"),
            exclude=["/api/"],
        ),
        openapi_config=OpenAPIConfig(
            title="Campagne « Jouer collectif » — API",
            version="1.0.0",
            description="Lettre ouverte aux élus locaux : signatures, comptes par territoire.",
            # The document only (/schema/openapi.json, .yaml): the HTML viewers run inline
            # scripts from a CDN, which the Content-Security-Policy refuses.
            render_plugins=[YamlRenderPlugin()],
        ),
        exception_handlers={HTTPException: _http_exception, Exception: _internal},
        request_max_body_size=MAX_BODY_BYTES,
        # Security headers on every response, unknown Host headers refused (campaign/security.py);
        # CORS for reads of /api/v1 (campaign/cors.py).
        before_send=[security.security_headers(settings), cors.api_cors],
        middleware=[security.host_check(settings)],
        debug=False,
    )
