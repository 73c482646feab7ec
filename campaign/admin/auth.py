"""Who may use the back office: login, logout, and the guard every /admin route goes through.

Each /admin handler names the least role it needs in its `opt` (`role`); the guard refuses a
route that names none (fail closed). Anonymous visitors are sent to the login page; a role too
low gets a 403 page.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from campaign.core import audit, clientaddr
from campaign.core.audit import Actor
from campaign.core.db import Q
from campaign.core.frenchnumbers import count_of
from campaign.organisers import passwords, sessions, throttle
from campaign.organisers.accounts import normalise_email
from campaign.organisers.roles import CATALYST, allows, declared
from campaign.organisers.sessions import SessionUser
from campaign.runtime import Runtime, RuntimeDep
from campaign.web import inputs
from campaign.web.httpcache import NO_STORE

log = logging.getLogger(__name__)

LOGIN_PATH = "/admin/connexion"
CONSOLE_PATH = "/console"
BAD_LOGIN = "Adresse ou mot de passe incorrect."


def actor(user: SessionUser) -> Actor:
    return Actor(id=user.id, email=user.email)


def _runtime(connection: ASGIConnection[Any, Any, Any, Any]) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


async def role_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Resume the session and check the role the route asks for."""
    if handler.opt.get("anonymous"):
        return
    required = handler.opt.get("role")
    if not declared(required):
        raise PermissionDeniedException(detail="Route sans rôle déclaré.")
    runtime = _runtime(connection)
    session_id = connection.cookies.get(sessions.cookie_name(runtime.settings))
    async with runtime.pool.acquire() as conn:
        user = await sessions.resume(conn, session_id)
    if user is None:
        raise NotAuthorizedException(detail="Connexion requise.")
    connection.state.organiser = user
    if not allows(user.role, str(required)):
        raise PermissionDeniedException(detail="Votre rôle ne permet pas d’accéder à cette page.")


UserDep = NamedDependency[SessionUser]
"""How handlers ask for the organiser of the session (set by the guard)."""


def provide_user(request: Request[Any, Any, Any]) -> SessionUser:
    user: SessionUser = request.state.organiser
    return user


def to_login(request: Request[Any, Any, Any], _exc: NotAuthorizedException) -> Response[Any]:
    """Anonymous (or expired) visitors go to the login page, and come back after."""
    home = CONSOLE_PATH if request.url.path.startswith(CONSOLE_PATH) else "/admin"
    target = request.url.path if request.method == "GET" else home
    query = f"?suivant={quote(target)}" if target not in ("/admin", "/admin/") else ""
    return Redirect(LOGIN_PATH + query, status_code=303, headers=NO_STORE)


def forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    return Template(
        "admin/error.html",
        context={"title": "Accès refusé", "message": exc.detail, "user": None},
        status_code=403,
        headers=NO_STORE,
    )


def safe_next(target: str | None) -> str:
    """Only a path of the back office or the console: never another site (`//evil`, `/\\evil`)."""
    if (
        target
        and target.startswith(("/admin", CONSOLE_PATH))
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return "/admin"


def home_of(role: str, target: str) -> str:
    """Where a login leads: a catalyst to its console, whatever it was going to; anyone else
    to the page it asked for, never to the console (it is the catalysts')."""
    if role == CATALYST:
        return target if target.startswith(CONSOLE_PATH) else CONSOLE_PATH
    return "/admin" if target.startswith(CONSOLE_PATH) else target


def _login_page(
    message: str | None, email: str = "", suivant: str = "", status: int = 200
) -> Template:
    return Template(
        "admin/login.html",
        context={"message": message, "email": email, "suivant": suivant, "user": None},
        status_code=status,
        headers=NO_STORE,
    )


class LoginController(Controller):
    path = "/admin"
    include_in_schema = False

    @get("/connexion", opt={"anonymous": True})
    async def login_page(
        self, suivant: FromQuery[str | None] = None, fin: FromQuery[str | None] = None
    ) -> Template:
        message = "Vous êtes déconnecté·e." if fin else None
        return _login_page(message, suivant=safe_next(suivant))

    @post("/connexion", opt={"anonymous": True})
    async def login(self, runtime: RuntimeDep, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await inputs.read_form(request)
        email = normalise_email(str(form.get("email") or ""))[:254]
        password = str(form.get("password") or "")
        target = safe_next(str(form.get("suivant") or ""))
        client = clientaddr.from_scope(request.scope, runtime.settings.trusted_proxies)
        address = str(client) if client else "unknown"
        async with runtime.pool.acquire() as conn:
            wait = await throttle.wait_seconds(conn, email, address)
            row = None if wait else await conn.fetchrow(Q["admin_organiser_by_email"], email)
        if wait:  # the same for an account that does not exist
            message = f"Trop de tentatives. Réessayez dans {count_of(wait, 'seconde')}."
            return _login_page(message, email, target, status=429)
        stored = row["password_hash"] if row is not None and row["active"] else None
        with throttle.one_at_a_time(email) as mine:
            if not mine:
                message = f"Trop de tentatives. Réessayez dans {count_of(1, 'seconde')}."
                return _login_page(message, email, target, status=429)
            # The hash is checked with no database connection held: a login flood must not
            # take the pool from the pages (read, release, verify, then write).
            ok = await passwords.verify_password_async(stored, password)
            if not ok or row is None:
                async with runtime.pool.acquire() as conn:
                    await throttle.failed(conn, email, address)
                return _login_page(BAD_LOGIN, email, target, status=401)
        new_hash = None
        if passwords.needs_rehash(row["password_hash"]):
            new_hash = await passwords.hash_password_async(password)
        async with runtime.pool.acquire() as conn:
            if new_hash is not None:
                await conn.execute(Q["admin_set_password_hash"], row["id"], new_hash)
            cookie = sessions.cookie_name(runtime.settings)
            # Whatever id the browser came with (planted or stale) ends here; the new one is fresh.
            await sessions.end(conn, request.cookies.get(cookie))
            session_id = await sessions.start(conn, row["id"])
            await throttle.succeeded(conn, email, address)
            await conn.execute(Q["admin_record_login"], row["id"])
            await audit.record(conn, Actor(id=row["id"], email=email), "login")
        log.info("organiser %s logged in", row["id"])
        home = home_of(row["role"], target)
        response: Response[Any] = Redirect(home, status_code=303, headers=NO_STORE)
        response.set_cookie(session_cookie(runtime, session_id))
        return response

    @post("/deconnexion", opt={"role": "viewer"})
    async def logout(self, runtime: RuntimeDep, request: Request[Any, Any, Any]) -> Response[Any]:
        return await end_session(runtime, request.state.organiser, request)


async def end_session(
    runtime: Runtime, user: SessionUser, request: Request[Any, Any, Any]
) -> Response[Any]:
    """Logout, from the back office or a catalyst's console: the session ends on the server."""
    cookie = sessions.cookie_name(runtime.settings)
    async with runtime.pool.acquire() as conn:
        await sessions.end(conn, request.cookies.get(cookie))
        await audit.record(conn, actor(user), "logout")
    response: Response[Any] = Redirect(f"{LOGIN_PATH}?fin=1", status_code=303, headers=NO_STORE)
    # Same attributes as when it was set: a `__Host-` cookie is only replaced by a Secure one.
    response.set_cookie(session_cookie(runtime, "", max_age=0))
    return response


def session_cookie(
    runtime: Runtime, session_id: str, *, max_age: int = sessions.ABSOLUTE_SECONDS
) -> Cookie:
    return Cookie(
        key=sessions.cookie_name(runtime.settings),
        value=session_id,
        path="/",
        max_age=max_age,
        secure=sessions.secure(runtime.settings),
        httponly=True,
        samesite="strict",
    )
