"""The application factory: one place wires settings, runtime, routes, templates, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import YamlRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from campaign import admin, api, site
from campaign.api import openapi_errors
from campaign.core import frenchnumbers
from campaign.core.logtext import OneLineFormatter
from campaign.core.settings import Settings, check_production, load_settings
from campaign.mail.sink import MailSink
from campaign.register import levels
from campaign.runtime import Runtime, running
from campaign.web import cors, errors, inputs, security
from campaign.web.hotreads import HotReadsApp

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
MAX_BODY_BYTES = 64 * 1024  # a signature is a few hundred bytes
LOG_FORMAT = "%(levelname)s - %(asctime)s - %(name)s - %(module)s - %(message)s"  # Litestar's


def _french_numbers(engine: JinjaTemplateEngine) -> None:
    """Every template writes figures one way (campaign/core/frenchnumbers.py)."""
    engine.engine.globals.update(frenchnumbers.TEMPLATE_GLOBALS)
    engine.engine.globals.update(levels.TEMPLATE_GLOBALS)  # the levels of proof' words


def create_app(settings: Settings | None = None, *, run_worker: bool = True) -> Litestar:
    settings = settings or load_settings()
    check_production(settings)  # no public site with placeholder addresses (SettingsError)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(settings, run_worker=run_worker) as runtime:
            app.state.runtime = runtime
            yield

    def provide_runtime(state: State) -> Runtime:
        return state.runtime  # type: ignore[no-any-return]

    def provide_sink(state: State) -> MailSink | None:
        return state.runtime.mail_sink  # type: ignore[no-any-return]

    handlers: list[ControllerRouterHandler] = [
        *site.routes(dev_mailbox=settings.smtp_url is None and run_worker),
        *api.routes(),
        admin.router(),
        create_static_files_router(
            path="/static", directories=[PACKAGE_DIR / "static"], include_in_schema=False
        ),
    ]

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
            directory=PACKAGE_DIR / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=_french_numbers,
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
        exception_handlers=errors.EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        # Security headers on every response, unknown Host headers refused (campaign/security.py);
        # CORS for reads of /api/v1 (campaign/cors.py).
        before_send=[security.security_headers(settings), cors.api_cors],
        # Then NUL, control characters and invalid UTF-8 refused with a 400 (campaign/inputs.py).
        middleware=[
            security.host_check(settings),
            inputs.InputCheckMiddleware(MAX_BODY_BYTES, frozenset({"/signer"})),
        ],
        # One line per log message, whatever a request carried (campaign/core/logtext.py).
        logging_config=LoggingConfig(
            formatters={"standard": {"()": OneLineFormatter, "fmt": LOG_FORMAT}}
        ),
        debug=False,
    )
