"""A catalyst sees its console and nothing else: every route of the app walked as a catalyst
(the back office refuses it with a 403, the console answers), and the back office's roles
refused on the console."""

from __future__ import annotations

import re
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from campaign.app import create_app
from campaign.core.settings import load_settings
from campaign.organisers.roles import ROLES, declared
from tests.support.admin import csrf_of, logged_in, make_signature
from tests.support.catalysts import catalyst_client, territory

LOGIN = {("GET", "/admin/connexion"), ("POST", "/admin/connexion")}
COMMUNE = "48003"  # Allenc (Lozère): the walk's territory


def all_routes() -> Iterator[tuple[str, str, str | None, bool]]:
    """(method, path, declared role, anonymous flag) of every handler of the real app."""
    app = create_app(
        load_settings({"DATABASE_URL": "postgresql://unused/x", "SMTP_URL": "smtp://x:1"})
    )
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method in ("OPTIONS", "HEAD"):
                    continue
                yield (
                    method,
                    route.path,
                    handler.opt.get("role"),
                    bool(handler.opt.get("anonymous")),
                )


ROUTES = sorted(set(all_routes()))
GUARDED = [
    r for r in ROUTES if r[1].startswith(("/admin", "/console")) and (r[0], r[1]) not in LOGIN
]


def test_only_the_back_office_and_the_console_are_guarded_and_each_declares_a_role() -> None:
    console = [r for r in GUARDED if r[1].startswith("/console")]
    assert len(console) >= 8
    for method, path, role, anonymous in ROUTES:
        if path.startswith("/console"):
            assert role == "catalyst" and not anonymous, (method, path)
        elif path.startswith("/admin") and (method, path) not in LOGIN:
            assert declared(role) and role != "catalyst", (method, path, role)
        elif not path.startswith("/admin"):
            assert role is None, f"{method} {path}: a role outside the guarded routers"


def concrete(path: str, signature_id: int) -> str:
    path = re.sub(r"\{[a-z_]+:int\}", str(signature_id), path)
    path = path.replace("{level:str}", "commune")
    return path.replace("{code:str}", COMMUNE)


async def _request(client: httpx.AsyncClient, method: str, url: str, token: str) -> httpx.Response:
    if method == "GET":
        return await client.get(url)
    return await client.request(method, url, data={"_csrf_token": token, "kind": "call"})


@pytest.mark.parametrize("held", ROLES)
async def test_back_office_roles_are_refused_on_the_console(
    server: str, db: asyncpg.Connection, held: str
) -> None:
    async with logged_in(server, db, held) as client:
        token = csrf_of((await client.get("/admin")).text)
        for method, path, _, _ in GUARDED:
            if path.startswith("/console"):
                response = await _request(client, method, concrete(path, 1), token)
                assert response.status_code == 403, (held, method, path, response.status_code)


async def test_a_catalyst_walks_every_route_and_only_its_console_answers(
    server: str, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, family_name="Promenade")
    walked = 0
    async with catalyst_client(server, db, [territory("commune", COMMUNE, "48")]) as client:
        token = csrf_of((await client.get("/console")).text)
        for method, path, _, _ in GUARDED:
            if path == "/console/deconnexion":
                continue
            response = await _request(client, method, concrete(path, signature_id), token)
            if path.startswith("/console"):
                expected = {200} if method == "GET" else {303, 422}
                assert response.status_code in expected, (method, path, response.status_code)
            else:
                assert response.status_code == 403, (method, path, response.status_code)
                assert "Accès refusé" in response.text
                assert "Promenade" not in response.text
            walked += 1
        # The login leads a catalyst to its console even when it asked for the back office.
        assert walked == len(GUARDED) - 1
        # Logging out ends the session on the server.
        out = await client.post("/console/deconnexion", data={"_csrf_token": token})
        assert out.status_code == 303
        again = await client.get("/console")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/admin/connexion?suivant=/console")
    # Nothing of the back office was changed by the refused requests.
    row = await db.fetchrow("SELECT status, featured FROM signatures WHERE id = $1", signature_id)
    assert (row["status"], row["featured"]) == ("confirmed", False)


async def test_anonymous_visitors_of_the_console_go_to_the_login_and_come_back(
    server: str, db: asyncpg.Connection
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=20) as anonymous:
        response = await anonymous.get("/console/affiche")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/connexion?suivant=/console/affiche"
