"""Errors: French pages for people, JSON for the API, never a stack trace."""

from __future__ import annotations

import httpx


async def test_an_unknown_page_gets_a_french_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/nulle-part")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in r.text
    assert "Traceback" not in r.text


async def test_the_api_answers_errors_in_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/campaigns/inconnue")
    assert r.status_code == 404
    assert r.json() == {"status_code": 404, "detail": "Campagne inconnue : inconnue"}
    r = await client.get("/api/v1/campaigns/jouer-collectif/counts", params={"level": "planete"})
    assert r.status_code == 400
    body = r.json()
    assert body["status_code"] == 400
    assert any(e.get("key") == "level" for e in body["extra"])


async def test_a_wrong_method_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.delete("/")
    assert r.status_code in (403, 405)  # CSRF checks unsafe methods before routing
    assert "Traceback" not in r.text
    r = await client.put("/api/v1/campaigns/jouer-collectif/signatures", json={})
    assert r.status_code == 405
    assert r.json()["status_code"] == 405


async def test_a_form_posted_without_its_csrf_token_is_refused_in_french(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/confirmer/" + "A" * 43, data={})
    assert r.status_code == 403
    assert "Le formulaire a expiré" in r.text
    # The sign form's check is its cookie: the form comes back, in French, with it.
    r = await client.post("/signer", data={"given_name": "Anne"})
    assert r.status_code == 403
    assert "cookie technique" in r.text and 'value="Anne"' in r.text
