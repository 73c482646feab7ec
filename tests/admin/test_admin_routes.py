"""Every /admin route of the app, as registered, refuses anonymous visitors and roles below the
one it declares; and none is left without a declared role."""

from __future__ import annotations

import re
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from campaign.app import create_app
from campaign.core.settings import load_settings
from campaign.organisers.roles import RANK, ROLES
from tests.support.admin import csrf_of, logged_in, make_signature

PUBLIC = {("GET", "/admin/connexion"), ("POST", "/admin/connexion")}


def admin_routes() -> Iterator[tuple[str, str, str | None, bool]]:
    """(method, path, declared role, anonymous flag) of every /admin handler of the real app."""
    app = create_app(
        load_settings({"DATABASE_URL": "postgresql://unused/x", "SMTP_URL": "smtp://x:1"})
    )
    for route in app.routes:
        if not route.path.startswith("/admin"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method in ("OPTIONS", "HEAD"):
                    continue
                yield (
                    method,
                    route.path,
                    handler.opt.get("role"),
                    bool(handler.opt.get("anonymous")),
                )


ROUTES = sorted(set(admin_routes()))


def concrete(path: str, signature_id: int) -> str:
    return re.sub(r"\{[a-z_]+:int\}", str(signature_id), path)


def test_the_walk_sees_the_whole_back_office() -> None:
    paths = {p for _, p, _, _ in ROUTES}
    assert len(ROUTES) >= 20
    for expected in ("/admin", "/admin/signataires", "/admin/export.csv", "/admin/comptes"):
        assert expected in paths


@pytest.mark.parametrize(("method", "path", "role", "anonymous"), ROUTES)
def test_every_route_declares_a_role_or_is_the_login(
    method: str, path: str, role: str | None, anonymous: bool
) -> None:
    if (method, path) in PUBLIC:
        assert anonymous
    else:
        assert not anonymous, f"{method} {path} is open to anonymous visitors"
        assert role in RANK, f"{method} {path} declares no role"


async def _request(client: httpx.AsyncClient, method: str, url: str, token: str) -> httpx.Response:
    if method == "GET":
        return await client.get(url)
    return await client.request(method, url, data={"_csrf_token": token})


async def test_anonymous_and_under_privileged_visitors_are_refused_everywhere(
    server: str, db: asyncpg.Connection
) -> None:
    signature_id = await make_signature(db, family_name="Parcours")
    checked = 0
    # Anonymous: every route but the login sends to the login page, and does nothing.
    async with httpx.AsyncClient(base_url=server, timeout=20) as anonymous:
        token = csrf_of((await anonymous.get("/admin/connexion")).text)
        for method, path, _role, _ in ROUTES:
            if (method, path) in PUBLIC:
                continue
            response = await _request(anonymous, method, concrete(path, signature_id), token)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/admin/connexion"), (method, path)
            checked += 1
    # Each role below the declared one gets a 403.
    for held in ROLES[:-1]:
        async with logged_in(server, db, held) as client:
            token = csrf_of((await client.get("/admin")).text)
            for method, path, role, _ in ROUTES:
                if (method, path) in PUBLIC or RANK[role or "admin"] <= RANK[held]:
                    continue
                response = await _request(client, method, concrete(path, signature_id), token)
                assert response.status_code == 403, (held, method, path, response.status_code)
                assert "Accès refusé" in response.text
                checked += 1
    assert checked > len(ROUTES)
    # Nothing was done by all these refused requests.
    row = await db.fetchrow("SELECT status, featured FROM signatures WHERE id = $1", signature_id)
    assert (row["status"], row["featured"]) == ("confirmed", False)


async def test_viewers_never_see_addresses(server: str, db: asyncpg.Connection) -> None:
    email = "adresse.secrete@mairie-test.fr"
    signature_id = await make_signature(db, family_name="Discrète", email=email)
    async with logged_in(server, db, "viewer") as viewer:
        for url in ("/admin/signataires?q=Discrète", f"/admin/signataires/{signature_id}"):
            page = await viewer.get(url)
            assert page.status_code == 200
            assert "Discrète" in page.text
            assert email not in page.text
        # Nor can they find one by searching for it.
        found = await viewer.get("/admin/signataires", params={"q": "adresse.secrete"})
        assert "Discrète" not in found.text
    async with logged_in(server, db, "organiser") as organiser:
        assert email in (await organiser.get(f"/admin/signataires/{signature_id}")).text
