"""« Mentions légales » and the privacy page name the publisher and its contact from the
settings, and the footer links both."""

from __future__ import annotations

import httpx

from tests.support.app import app_server
from tests.support.mail import Mailbox


async def test_legal_pages_come_from_the_settings(dsn: str, mailbox: Mailbox) -> None:
    publisher = {
        "PUBLISHER_NAME": "Association Jouer collectif",
        "PUBLISHER_ADDRESS": "12 rue des Lilas, 69001 Lyon",
        "PUBLISHER_EMAIL": "donnees@jouer-collectif.fr",
        "HOSTING_PROVIDER": "Hébergeur Exemple SAS, 1 quai du Port, 13002 Marseille",
    }
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    async with (
        app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **publisher) as base,
        httpx.AsyncClient(base_url=base, timeout=10) as client,
    ):
        legal = await client.get("/mentions-legales")
        assert legal.status_code == 200
        assert "<h1>Mentions légales</h1>" in legal.text
        for value in publisher.values():
            assert value in legal.text
        privacy = await client.get("/confidentialite")
        assert privacy.status_code == 200
        assert "Association Jouer collectif, qui porte la lettre ouverte" in privacy.text
        assert "12 rue des Lilas, 69001 Lyon" in privacy.text
        assert 'href="mailto:donnees@jouer-collectif.fr"' in privacy.text
        assert ".localhost" not in privacy.text
        home = await client.get("/")
        assert 'href="/mentions-legales"' in home.text and 'href="/confidentialite"' in home.text
