"""No email address, name, token or client address in any log line: the whole path (sign through
the form from behind a trusted proxy, a flagged signature, confirm, admin actions, access and
erasure requests, withdraw, purge, bad links) with every logger at DEBUG, then the captured lines
are searched."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from campaign.core.settings import load_settings
from campaign.signing import purge
from tests.support.admin import logged_in, post_form
from tests.support.app import app_server
from tests.support.mail import Mailbox

CLIENT_IP = "203.0.113.77"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/(confirmer|retirer)/([A-Za-z0-9_-]{43})")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Not the service's log: aiosmtpd's "mail.log" is the test's SMTP server, standing in for
        # the outside relay (the service keeps it at WARNING, see campaign/cli.py); httpx and
        # httpcore are the test's own HTTP clients, which the service does not use.
        if record.name.startswith(("mail.log", "httpx", "httpcore")):
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@pytest.fixture
def captured() -> Iterator[Capture]:
    """Every logger at DEBUG into one handler (including those that do not propagate)."""
    handler = Capture()
    root = logging.getLogger()
    saved = {name: (lg.level, lg.propagate) for name, lg in _loggers()}
    saved_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    _all_debug(handler)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved_root)
    for name, lg in _loggers():
        lg.removeHandler(handler)
        if name in saved:
            lg.setLevel(saved[name][0])


def _loggers() -> list[tuple[str, logging.Logger]]:
    return [
        (name, lg)
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    ]


def _all_debug(handler: Capture) -> None:
    """Again after the app starts: Litestar replaces the root's handlers, uvicorn sets levels."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    if handler not in root.handlers:
        root.addHandler(handler)
    for name, lg in _loggers():
        lg.setLevel(logging.DEBUG)
        # uvicorn's access log is off (`campaign serve` and the tests' servers pass
        # access_log=False, because paths carry tokens); a handler here would turn it on.
        if name == "uvicorn.access":
            continue
        if not lg.propagate and handler not in lg.handlers:
            lg.addHandler(handler)


async def test_the_whole_path_logs_no_personal_data(
    dsn: str, db: asyncpg.Connection, mailbox: Mailbox, captured: Capture
) -> None:
    given, family = "Zéphyrine", f"Quelconque{uuid.uuid4().hex[:8]}"
    address = f"zephyrine.{uuid.uuid4().hex[:10]}@mairie-journal.fr"
    flagged = f"flag.{uuid.uuid4().hex[:10]}@yopmail.com"
    smtp_url = f"smtp://127.0.0.1:{mailbox.port}"  # type: ignore[attr-defined]
    env = {"TRUSTED_PROXIES": "127.0.0.1", "SIGN_LIMIT_NETWORK": "1", "FORM_MIN_SECONDS": "0"}
    secrets: list[str] = [address, address.upper(), given, family, flagged, CLIENT_IP]
    async with app_server(DATABASE_URL=dsn, SMTP_URL=smtp_url, **env) as base:
        _all_debug(captured)  # uvicorn set its own levels while starting
        headers = {"X-Forwarded-For": f"6.6.6.6, {CLIENT_IP}"}
        async with httpx.AsyncClient(base_url=base, timeout=20, headers=headers) as client:
            page = await client.get("/")
            assert 'src="/signer/jeton"' in page.text
            await client.get("/signer/jeton")  # the form's image: its cookie
            form = {
                "given_name": given,
                "family_name": family,
                "email": address.upper(),
                "mandate": "maire",
                "territory_code": "Lyon",
                "public": "true",
            }
            signed = await client.post("/signer", data=form)
            assert signed.status_code == 303 and signed.headers["location"] == "/merci"
            # The thank-you page shows the address typed (from its cookie), and logs it nowhere.
            assert address in (await client.get("/merci")).text
            secrets.append(signed.cookies["adresse-saisie"])
            # Over the network's limit (1): kept, flagged.
            second = {**form, "email": flagged, "family_name": family + "Bis"}
            assert (await client.post("/signer", data=second)).status_code == 303
            [message] = await mailbox.wait_for(address)
            links = {
                m.group(1): m.group(0)
                for m in LINK.finditer(message.get_body(("plain",)).get_content())
            }
            secrets += [links["confirmer"].rsplit("/", 1)[1], links["retirer"].rsplit("/", 1)[1]]
            confirm_page = await client.get(links["confirmer"])
            csrf = re.search(r'name="_csrf_token" value="([^"]+)"', confirm_page.text)
            assert csrf
            await client.post(links["confirmer"], data={"_csrf_token": csrf.group(1)})
            await client.get(f"/retirer/{'B' * 43}")  # an unknown link
            await client.post(f"/confirmer/{'C' * 43}", data={"_csrf_token": csrf.group(1)})

        async with logged_in(base, db, "organiser") as organiser:
            secrets.append(organiser.email)  # type: ignore[attr-defined]
            query = {"statut": "suspect", "q": family + "Bis"}
            await organiser.get("/admin/signataires", params=query)
            await post_form(
                organiser,
                "/admin/signataires/lot?statut=suspect",
                "/admin/signataires/lot",
                {**query, "action": "lever-suspicion", "attendu": "1"},
            )
            await post_form(
                organiser, "/admin/blocage", "/admin/blocage", {"kind": "email", "value": flagged}
            )
            access = await post_form(
                organiser, "/admin/donnees", "/admin/donnees/acces", {"email": address}
            )
            assert access.status_code == 200
            erased = await post_form(
                organiser,
                "/admin/donnees",
                "/admin/donnees/effacement",
                {"email": flagged, "confirmer": "oui"},
            )
            assert "1 signature effacée" in erased.text

        async with httpx.AsyncClient(timeout=20) as client:
            withdrawn = await client.post(links["retirer"])
            assert "Votre signature est retirée" in withdrawn.text
            await client.post(links["retirer"])  # twice

    conn = await asyncpg.connect(dsn)
    try:
        await purge.purge(conn, load_settings({"DATABASE_URL": dsn}), dry_run=False)
    finally:
        await conn.close()
    await db.execute("DELETE FROM block_list WHERE value = $1", flagged)

    log_text = "\n".join(captured.lines)
    assert len(captured.lines) > 10, "nothing was captured: the test would prove nothing"
    assert "withdrawn by its signer" in log_text and "purge:" in log_text
    for secret in secrets:
        assert secret not in log_text, f"{secret!r} appears in the logs"
        assert secret.lower() not in log_text.lower(), f"{secret!r} appears in the logs"
