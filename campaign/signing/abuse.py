"""Abuse signals on signing: limits shared by every process, the form's timing, disposable
domains, organisers' block lists.

Nothing here rejects: a signing over a limit gets the same answer as any other, and its signature
is kept but flagged `suspect` with the reasons, never counted nor listed until an organiser clears
it. Counters live in PostgreSQL (`abuse_counters`), keyed by HMACs with the secret key of a client
network (never the address itself), an email domain or address, or a shard of the campaign.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import asyncpg
import msgspec
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

from campaign.core.clientaddr import IPAddress, from_scope, network_of
from campaign.core.db import Q
from campaign.core.settings import Settings
from campaign.mail.addresses import canonical

CAMPAIGN_SHARDS = 16  # the campaign-wide counter is spread over this many rows
_API: Any = object()  # no form: a JSON request

REASONS: Final = {
    "network_limit": "Trop de signatures depuis le même réseau en une heure",
    "domain_limit": "Trop de signatures du même domaine de messagerie en une heure",
    "resend_limit": "Même adresse soumise trop souvent en une heure (aucun courriel envoyé)",
    "campaign_ceiling": "Plafond horaire de la campagne dépassé",
    "too_fast": "Formulaire envoyé trop vite après son affichage",
    "honeypot": "Champ invisible rempli (robot probable)",
    "no_form_stamp": "Formulaire sans horodatage valide (envoyé sans afficher la page ?)",
    "disposable_domain": "Adresse jetable (domaine de messagerie temporaire)",
    "blocked_email": "Adresse en liste de blocage",
    "blocked_domain": "Domaine en liste de blocage",
    "blocked_network": "Réseau en liste de blocage",
    "mairie_denied": "La mairie ne reconnaît pas cette personne comme élue de la commune",
}
"""Why a signature was flagged: code → what the back office shows."""

# Mailbox providers that thousands of elected officials share: a per-domain limit there would
# flag honest signers, and every signature would update the same counter row. The other limits
# still apply to them.
SHARED_MAIL_DOMAINS: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "neuf.fr",
        "laposte.net",
        "bbox.fr",
        "numericable.fr",
        "hotmail.fr",
        "hotmail.com",
        "outlook.fr",
        "outlook.com",
        "live.fr",
        "msn.com",
        "yahoo.fr",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.fr",
        "protonmail.com",
        "proton.me",
    }
)


class Signals(msgspec.Struct, frozen=True, kw_only=True):
    """What the request tells about the signer: its client address, the form's timing verdict."""

    client: IPAddress | None = None
    form_reason: str | None = None  # "too_fast" | "no_form_stamp" | "honeypot" | None


def signals(scope: Mapping[str, Any], settings: Settings, *, form_stamp: object = _API) -> Signals:
    """The signals of a request (Litestar: `request.scope`). `form_stamp`: the hidden field of
    the HTML form, as posted; the JSON API has no form to time."""
    reason = None
    if form_stamp is not _API:
        reason = form_reason(settings.secret_key, form_stamp, settings.form_min_seconds)
    return Signals(client=from_scope(scope, settings.trusted_proxies), form_reason=reason)


class Assessment(msgspec.Struct, frozen=True):
    reasons: tuple[str, ...] = ()

    @property
    def suspect(self) -> bool:
        return bool(self.reasons)

    @property
    def resends_exceeded(self) -> bool:
        """The address was submitted too often: nothing is sent to it this time."""
        return "resend_limit" in self.reasons


CLEAN = Assessment()


def _key(secret_key: str, kind: str, value: str) -> bytes:
    return hmac.new(secret_key.encode(), f"limit:{kind}:{value}".encode(), hashlib.sha256).digest()


@functools.lru_cache(maxsize=64)
def _campaign_shards(secret_key: str, campaign_id: int) -> tuple[bytes, ...]:
    return tuple(_key(secret_key, "campaign", f"{campaign_id}:{n}") for n in range(CAMPAIGN_SHARDS))


def email_domain(email: str) -> str:
    return email.rpartition("@")[2]


def is_disposable(domain: str) -> bool:
    """The domain, or one it belongs to, is a known disposable-address provider."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


class _Plan(msgspec.Struct, frozen=True):
    """One signing's counters (kinds and keys go together) and what the block lists match."""

    kinds: list[str]
    keys: list[bytes]
    limits: dict[str, int]
    shards: tuple[bytes, ...]
    email: str
    domain: str
    client: str | None
    form_reason: str | None


def _plan(settings: Settings, campaign_id: int, email: str, signals: Signals) -> _Plan:
    secret = settings.secret_key
    domain = email_domain(email)
    limits: dict[str, int] = {}
    kinds: list[str] = []
    keys: list[bytes] = []

    def count(kind: str, value: str, limit: int) -> None:
        if limit > 0:
            kinds.append(kind)
            keys.append(_key(secret, kind, value))
            limits[kind] = limit

    if signals.client is not None:
        count("network", str(network_of(signals.client)), settings.sign_limit_network)
    if domain not in SHARED_MAIL_DOMAINS:
        count("domain", domain, settings.sign_limit_domain)
    # The first submission of an address is one hit; each re-send one more, whatever alias of
    # its mailbox is typed.
    count(
        "email",
        canonical(email),
        settings.sign_limit_resends + 1 if settings.sign_limit_resends else 0,
    )
    shards = _campaign_shards(secret, campaign_id) if settings.sign_limit_campaign > 0 else ()
    if shards:
        kinds.append("campaign")
        keys.append(secrets.choice(shards))
        limits["campaign"] = settings.sign_limit_campaign
    client = str(signals.client) if signals.client is not None else None
    return _Plan(kinds, keys, limits, shards, email, domain, client, signals.form_reason)


def _verdict(plan: _Plan, hits: Iterable[tuple[str, int]]) -> Assessment:
    """The reasons to flag a signing, from its counters' hits (and block-list matches)."""
    reasons: list[str] = []
    for kind, n in hits:
        if kind.startswith("blocked_"):
            reasons.append(kind)
        elif n > plan.limits[kind]:
            reasons.append(_LIMIT_REASONS[kind])
    if plan.form_reason:
        reasons.append(plan.form_reason)
    if is_disposable(plan.domain):
        reasons.append("disposable_domain")
    return Assessment(tuple(sorted(set(reasons))))


async def assess(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign_id: int,
    email: str,
    signals: Signals,
) -> Assessment:
    """Count this signing against every limit (one statement) and collect the reasons to flag it."""
    p = _plan(settings, campaign_id, email, signals)
    rows = await conn.fetch(
        Q["abuse_assess"], p.kinds, p.keys, list(p.shards), p.email, p.domain, p.client
    )
    return _verdict(p, ((row["kind"], row["hits"]) for row in rows))


async def assess_many(
    conn: asyncpg.Connection,
    settings: Settings,
    campaign_id: int,
    signings: Sequence[tuple[str, Signals]],
) -> list[Assessment]:
    """`assess` for signings of one campaign written together, in one statement: each is judged
    as if they had come one after the other, in this order."""
    plans = [_plan(settings, campaign_id, email, signals) for email, signals in signings]
    if plans and plans[0].shards:
        # One shard for the whole batch (a random one, as for a signing alone): batches written
        # at once then mostly lock different rows, instead of each most of the shards.
        shard = secrets.choice(plans[0].shards)
        for p in plans:
            p.keys[p.kinds.index("campaign")] = shard
    items = [n for n, p in enumerate(plans, 1) for _ in p.kinds]
    rows = await conn.fetch(
        Q["abuse_assess_batch"],
        items,
        [kind for p in plans for kind in p.kinds],
        [key for p in plans for key in p.keys],
        list(plans[0].shards) if plans else [],
        [p.email for p in plans],
        [p.domain for p in plans],
        [p.client for p in plans],
    )
    hits: list[list[tuple[str, int]]] = [[] for _ in plans]
    for row in rows:
        hits[row["item"] - 1].append((row["kind"], row["hits"]))
    return [_verdict(p, h) for p, h in zip(plans, hits, strict=True)]


_LIMIT_REASONS: Final = {
    "network": "network_limit",
    "domain": "domain_limit",
    "email": "resend_limit",
    "campaign": "campaign_ceiling",
}


# -- the form's timing: a signed timestamp in a hidden field ------------------------------------

FORM_STAMP_FIELD = "form_ts"


def _stamp_mac(secret_key: str, issued: int) -> str:
    digest = hmac.new(secret_key.encode(), f"form:{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def form_stamp(secret_key: str, now: float | None = None) -> str:
    """The value of the form's hidden timestamp: when it was shown, signed."""
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_stamp_mac(secret_key, issued)}"


def form_reason(
    secret_key: str, stamp: object, min_seconds: float, now: float | None = None
) -> str | None:
    """None when the form was shown long enough before being posted; else why to flag it."""
    if min_seconds <= 0:
        return None
    if not isinstance(stamp, str) or stamp.count(".") != 1:
        return "no_form_stamp"
    issued_text, mac = stamp.split(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return "no_form_stamp"
    issued = int(issued_text)
    if not hmac.compare_digest(mac, _stamp_mac(secret_key, issued)):
        return "no_form_stamp"
    elapsed = (now if now is not None else time.time()) - issued
    if elapsed < -60:  # from the future: not ours to have issued
        return "no_form_stamp"
    return "too_fast" if elapsed < min_seconds else None


def form_stamp_valid(secret_key: str, stamp: object, now: float | None = None) -> bool:
    """The stamp is one this service issued (however long ago): the sign form's anti-forgery
    check, its cookie being sent back only by pages of this site."""
    return form_reason(secret_key, stamp, float("inf"), now) == "too_fast"
