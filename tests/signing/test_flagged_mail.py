"""A flagged signing sends nothing beyond the first email of the day to its mailbox: re-submitted
(from a network over its limit, a form sent too fast...), a pending or confirmed signature gets no
further link nor « already signed » that day, whatever alias is typed."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import asyncpg

from campaign.core.settings import load_settings
from campaign.letter.campaigns import list_campaigns
from campaign.mail.addresses import cap_key
from campaign.signing import abuse, signatures
from campaign.signing.signatures import SignOutcome
from campaign.signing.validation import check_signing
from campaign.territories.index import TerritoryIndex
from tests.support.signing import SLUG, valid_body

FLAGGED = abuse.Signals(form_reason="too_fast")
CLEAN = abuse.Signals()


async def test_a_flagged_resubmission_sends_nothing_more_that_day(
    server: str, db: asyncpg.Connection
) -> None:
    """`server`: the app has created the demo campaign."""
    settings = load_settings({"SECRET_KEY": os.environ["SECRET_KEY"], **_no_limits()})
    [campaign] = [c for c in await list_campaigns(db) if c.slug == SLUG]
    index = await TerritoryIndex.load(db)
    local = f"maire{uuid.uuid4().hex[:8]}"

    async def sign(address: str, signals: abuse.Signals) -> SignOutcome:
        req, errors = check_signing(valid_body(email=address), index)
        assert req is not None, errors
        return await signatures.sign(db, settings, campaign, req, signals)

    async def emails() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM outbox o JOIN signatures s ON s.id = o.signature_id"
                " WHERE s.email = $1",
                f"{local}@gmail.com",
            )
        )

    assert await sign(f"{local}@gmail.com", FLAGGED) is SignOutcome.CREATED
    assert await emails() == 1
    # The first email of the day went (as the mail worker counts it when it claims it).
    await db.execute(
        "INSERT INTO mail_caps (day, address_key, claimed) VALUES ($1, $2, 1)"
        " ON CONFLICT DO NOTHING",
        datetime.now(UTC).date(),
        cap_key(settings.secret_key, f"{local}@gmail.com"),
    )
    assert await sign(f"{local[:2]}.{local[2:]}+x@gmail.com", FLAGGED) is SignOutcome.NOTHING_SENT
    assert await emails() == 1
    # A clean re-submission still gets its link (the worker's cap then applies to the flagged
    # signature's mail).
    assert await sign(f"{local}@gmail.com", CLEAN) is SignOutcome.RESENT
    assert await emails() == 2
    await db.execute(
        "UPDATE signatures SET status = 'confirmed' WHERE email = $1", f"{local}@gmail.com"
    )
    assert await sign(f"{local}@googlemail.com", FLAGGED) is SignOutcome.NOTHING_SENT
    assert await emails() == 2
    assert await sign(f"{local}@googlemail.com", CLEAN) is SignOutcome.ALREADY_CONFIRMED
    assert await emails() == 3
    await db.execute("DELETE FROM signatures WHERE email = $1", f"{local}@gmail.com")


def _no_limits() -> dict[str, str]:
    return {
        "SIGN_LIMIT_NETWORK": "0",
        "SIGN_LIMIT_DOMAIN": "0",
        "SIGN_LIMIT_RESENDS": "0",
        "SIGN_LIMIT_CAMPAIGN": "0",
    }
