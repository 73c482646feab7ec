"""Mailings: a message (Markdown) to the confirmed signatories of a campaign, or the invitations
to its invitees, sent through the outbox at a set rate.

Starting a mailing writes one outbox row per recipient (`bulk`), under a unique (mailing,
recipient) index: started twice, or by two organisers at once, it reaches each recipient at most
once. The workers claim those rows through `mailing_claim` (migration 0007), a token bucket in the
mailing's row, so the rate holds across every worker process and every restart. Nothing lives in a
process: a restarted worker goes on where the queue stands.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

import asyncpg
import msgspec

from campaign.core.audit import Actor, record
from campaign.core.db import Q, convert, convert_all
from campaign.moderation.filters import SignatoryFilter, parse_filter
from campaign.territories.index import TerritoryIndex

KINDS: Final = ("signatories", "invitations")
STATUS_LABELS: Final = {
    "draft": "Brouillon",
    "sending": "En cours d’envoi",
    "paused": "En pause",
    "done": "Terminé",
    "cancelled": "Annulé",
}
RATE_MAX: Final = 1000.0
DEFAULT_RATE: Final = 5.0
SUBJECT_MAX: Final = 200
BODY_MAX: Final = 50_000
INVITATION_TEXT: Final = ("Invitation à signer la lettre", "")  # the email has its own text


class MailingError(ValueError):
    """A mailing cannot do what was asked (French message, shown as is)."""


class Mailing(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    campaign_id: int
    kind: str
    subject: str
    body: str
    filter: str  # JSON object: the signatories filter's query-string form, or the invitations'
    rate: float
    status: str
    recipients: int
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def filter_params(self) -> dict[str, str]:
        value = json.loads(self.filter)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """What an organiser writes: checked by `check_draft`."""

    subject: str
    body: str
    filter: SignatoryFilter
    rate: float


def check_draft(form: dict[str, str]) -> tuple[Draft | None, dict[str, str]]:
    """The composer's fields, every error at once (French, per field)."""
    errors: dict[str, str] = {}
    subject = " ".join(form.get("subject", "").split())
    if not subject:
        errors["subject"] = "L’objet est obligatoire."
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = f"{SUBJECT_MAX} caractères au plus."
    body = form.get("body", "").replace("\r\n", "\n").strip()
    if not body:
        errors["body"] = "Le message ne peut pas être vide."
    elif len(body) > BODY_MAX:
        errors["body"] = f"{BODY_MAX} caractères au plus."
    rate = parse_rate(form.get("rate", ""), errors)
    # Only confirmed signatories, filtered by mandate and territory.
    params = {k: form.get(k, "") for k in ("mandat", "region", "departement")}
    f, problems = parse_filter(params)
    if problems:
        errors["filter"] = " ".join(problems)
    if errors or rate is None:
        return None, errors
    f = msgspec.structs.replace(f, status="confirmed")
    return Draft(subject=subject, body=body + "\n", filter=f, rate=rate), {}


def parse_rate(raw: str, errors: dict[str, str], field: str = "rate") -> float | None:
    text = raw.strip().replace(",", ".") or str(DEFAULT_RATE)
    try:
        rate = float(text)
    except ValueError:
        errors[field] = "Un nombre de messages par seconde (par exemple 5 ou 0,5)."
        return None
    if not 0.01 <= rate <= RATE_MAX:
        errors[field] = f"Entre 0,01 et {RATE_MAX:.0f} messages par seconde."
        return None
    return rate


async def _insert(
    conn: asyncpg.Connection,
    campaign_id: int,
    who: Actor,
    kind: str,
    text: tuple[str, str],
    params: dict[str, str],
    rate: float,
    audited: dict[str, Any],
) -> int:
    """A new mailing: its `text` (subject, body), its filter `params` (stored as JSON)."""
    subject, body = text
    filter_json = json.dumps(params, ensure_ascii=False, sort_keys=True)
    async with conn.transaction():
        mailing_id: int = await conn.fetchval(
            Q["mailing_insert"], campaign_id, kind, subject, body, filter_json, rate, who.email
        )
        await record(
            conn, who, "mailing.create", target_type="mailing", target_id=mailing_id, after=audited
        )
    return mailing_id


async def create(conn: asyncpg.Connection, campaign_id: int, draft: Draft, who: Actor) -> int:
    params = {k: v for k, v in draft.filter.params().items() if k != "statut"}
    audited = {"objet": draft.subject, "filtre": params, "débit": draft.rate}
    text = (draft.subject, draft.body)
    return await _insert(conn, campaign_id, who, "signatories", text, params, draft.rate, audited)


async def create_invitations(
    conn: asyncpg.Connection,
    campaign_id: int,
    who: Actor,
    *,
    rate: float,
    departement: str | None = None,
    relay_id: int | None = None,
) -> int:
    """A mailing of invitations (the text is the `invitation` email's): started at once."""
    params = {
        k: v for k, v in {"departement": departement, "relais": relay_id}.items() if v is not None
    }
    audited = {"invitations": True, "filtre": params, "débit": rate}
    as_text = {k: str(v) for k, v in params.items()}
    return await _insert(
        conn, campaign_id, who, "invitations", INVITATION_TEXT, as_text, rate, audited
    )


async def get(conn: asyncpg.Connection, mailing_id: int) -> Mailing | None:
    row = await conn.fetchrow(Q["mailing_get"], mailing_id)
    return None if row is None else convert(row, Mailing)


async def recent(conn: asyncpg.Connection, campaign_id: int, limit: int = 50) -> list[Mailing]:
    return convert_all(await conn.fetch(Q["mailing_list"], campaign_id, limit), Mailing)


async def start(
    conn: asyncpg.Connection, mailing_id: int, who: Actor, index: TerritoryIndex | None = None
) -> int:
    """Queues every recipient not queued yet; returns how many were added (0 when started again
    with nobody new). Safe to call twice, from anywhere, at the same time."""
    async with conn.transaction():
        row = await conn.fetchrow(Q["mailing_lock"], mailing_id)
        if row is None:
            raise MailingError("Envoi introuvable.")
        if row["status"] == "cancelled":
            raise MailingError("Cet envoi a été annulé : il ne peut plus partir.")
        mailing = await get(conn, mailing_id)
        assert mailing is not None
        params = mailing.filter_params()
        if mailing.kind == "invitations":
            relay = params.get("relais")
            status = await conn.execute(
                Q["mailing_enqueue_invitations"],
                mailing_id,
                mailing.campaign_id,
                params.get("departement"),
                int(relay) if relay else None,
            )
        else:
            f, _ = parse_filter(params)
            f = msgspec.structs.replace(f, status="confirmed")
            status = await conn.execute(
                Q["mailing_enqueue_signatories"],
                mailing_id,
                *f.sql_args(mailing.campaign_id, index, with_email=False),
            )
        added = int(status.split()[-1])
        await conn.execute(Q["mailing_mark_started"], mailing_id, added)
        await record(
            conn,
            who,
            "mailing.start",
            target_type="mailing",
            target_id=mailing_id,
            detail={"destinataires ajoutés": added},
        )
        await conn.execute(Q["mailing_wake"])
    return added


async def set_status(conn: asyncpg.Connection, mailing_id: int, action: str, who: Actor) -> bool:
    """`pause`, `resume` or `cancel`; False when the mailing is not in a state that allows it."""
    transitions: dict[str, tuple[list[str], str]] = {
        "pause": (["sending"], "paused"),
        "resume": (["paused"], "sending"),
        "cancel": (["draft", "sending", "paused"], "cancelled"),
    }
    allowed, target = transitions[action]
    async with conn.transaction():
        if await conn.fetchval(Q["mailing_set_status"], mailing_id, allowed, target) is None:
            return False
        if target == "cancelled":
            await conn.execute(Q["mailing_cancel_queued"], mailing_id)
        await record(conn, who, f"mailing.{action}", target_type="mailing", target_id=mailing_id)
        if target == "sending":
            await conn.execute(Q["mailing_wake"])
    return True


async def send_test(conn: asyncpg.Connection, mailing_id: int, address: str, who: Actor) -> bool:
    """The message as recipients will get it, to the organiser's own address (False: the address
    is on the suppression list, nothing goes)."""
    async with conn.transaction():
        row = await conn.fetchrow(Q["mailing_test_enqueue"], mailing_id, address)
        await record(conn, who, "mailing.test", target_type="mailing", target_id=mailing_id)
    return bool(row is not None and row["status"] != "cancelled")


class Minute(msgspec.Struct, frozen=True):
    minute: datetime
    sent: int


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """A mailing's progress, as the live page and `campaign mailing status` show it."""

    id: int
    status: str
    status_label: str
    rate: float
    recipients: int
    queued: int
    sending: int
    sent: int
    failed: int
    cancelled: int
    last_minute: int
    per_minute: list[Minute]
    remaining_seconds: int | None
    failures: list[dict[str, Any]]

    @property
    def done_share(self) -> float:
        total = self.queued + self.sending + self.sent + self.failed + self.cancelled
        return 0.0 if total == 0 else (total - self.queued - self.sending) / total


async def progress(
    conn: asyncpg.Connection, mailing: Mailing, *, minutes: int = 15, failures: int = 20
) -> Progress:
    counts = await conn.fetchrow(Q["mailing_progress"], mailing.id)
    per_minute = convert_all(await conn.fetch(Q["mailing_per_minute"], mailing.id, minutes), Minute)
    failed_rows = await conn.fetch(Q["mailing_failures"], mailing.id, failures)
    left = counts["queued"] + counts["sending"]
    remaining = round(left / mailing.rate) if mailing.status == "sending" and left else None
    return Progress(
        id=mailing.id,
        status=mailing.status,
        status_label=mailing.status_label,
        rate=mailing.rate,
        recipients=mailing.recipients,
        queued=counts["queued"],
        sending=counts["sending"],
        sent=counts["sent"],
        failed=counts["failed"],
        cancelled=counts["cancelled"],
        last_minute=counts["last_minute"],
        per_minute=per_minute,
        remaining_seconds=remaining,
        failures=[
            {"id": r["id"], "reason": r["last_error"] or "", "attempts": r["attempts"]}
            for r in failed_rows
        ],
    )
