"""The filter of the signatories list, shared by the list, bulk actions and exports.

It travels in the query string (French names, as people see them in the address bar) and becomes
the fourteen arguments of the SQL function `admin_filtered_signatures`, then the two levels of
proof the queries add (register match, kind of proof: issue 14).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

import msgspec

from campaign.core.frenchdates import BOUNDS_TEXT, PARIS, parse_day
from campaign.territories.index import TerritoryIndex
from campaign.territories.mandates import MANDATES

# `suspect` is not a status of its own: the suspects awaiting a decision, pending or confirmed.
STATUSES: Final = ("pending", "confirmed", "rejected", "withdrawn", "suspect")
STATUS_LABELS: Final = {
    "pending": "En attente",
    "confirmed": "Confirmée",
    "rejected": "Rejetée",
    "withdrawn": "Retirée",
    "suspect": "Suspecte (à examiner)",
}
SORTS: Final = {
    "recent": "Plus récentes",
    "oldest": "Plus anciennes",
    "confirmed": "Dernières confirmées",
    "name": "Nom",
    "territory": "Territoire",
}
MAX_COMMUNES = 200  # communes whose name matches the search text
_REGION = re.compile(r"^[0-9]{2}$")
_DEPARTEMENT = re.compile(r"^([0-9]{2,3}|2[AB])$")
_REF = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_YES_NO: Final = {"oui": True, "non": False}
# The kind of proof (issue 14), as the address bar says it -> as `signatures.proof` stores it
# ('none': no proof, a signature only declared or found in the register).
PROOF_PARAMS: Final = {
    "mairie": "mairie",
    "domaine": "official_domain",
    "equipe": "organisers",
    "aucune": "none",
}
PROOF_CHOICES: Final = (
    ("mairie", "Vérifié·e : mairie"),
    ("domaine", "Vérifié·e : domaine officiel"),
    ("equipe", "Vérifié·e : équipe"),
    ("aucune", "Aucune preuve"),
)


class SignatoryFilter(msgspec.Struct, frozen=True, kw_only=True):
    q: str | None = None
    status: str | None = None
    mandate: str | None = None
    region: str | None = None
    departement: str | None = None
    ref: str | None = None
    since: date | None = None
    until: date | None = None
    public: bool | None = None
    featured: bool | None = None
    verified: bool | None = None
    register_match: bool | None = None  # « mandat trouvé au RNE »
    proof: str | None = None  # a key of PROOF_PARAMS
    sort: str = "recent"

    def params(self) -> dict[str, str]:
        """The query-string form (for links: pages, exports, bulk actions)."""
        out = {
            "q": self.q,
            "statut": self.status,
            "mandat": self.mandate,
            "region": self.region,
            "departement": self.departement,
            "relais": self.ref,
            "du": self.since.isoformat() if self.since else None,
            "au": self.until.isoformat() if self.until else None,
            "liste": None if self.public is None else ("oui" if self.public else "non"),
            "avant": None if self.featured is None else ("oui" if self.featured else "non"),
            "verifie": None if self.verified is None else ("oui" if self.verified else "non"),
            "rne": None
            if self.register_match is None
            else ("oui" if self.register_match else "non"),
            "preuve": self.proof,
            "tri": None if self.sort == "recent" else self.sort,
        }
        return {k: v for k, v in out.items() if v}

    def query_string(self) -> str:
        return urlencode(self.params())

    def is_empty(self) -> bool:
        return not any(k != "tri" for k in self.params())

    def sql_args(
        self, campaign_id: int, index: TerritoryIndex | None, *, with_email: bool
    ) -> tuple[Any, ...]:
        """The arguments of `admin_filtered_signatures`, in order."""
        communes: list[str] = []
        if self.q and index is not None:
            communes = [t.code for t in index.search(self.q, "commune", MAX_COMMUNES)]
        return (
            campaign_id,
            self.status,
            self.mandate,
            self.region,
            self.departement,
            _like_escape(self.q) if self.q else None,
            communes,
            self.ref,
            _paris_midnight(self.since) if self.since else None,
            _paris_midnight(self.until + timedelta(days=1)) if self.until else None,
            self.public,
            self.featured,
            with_email,
            self.verified,
            self.register_match,
            PROOF_PARAMS[self.proof] if self.proof else None,
        )


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=PARIS)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean_text(value: str) -> str:
    return "".join(c for c in value if unicodedata.category(c)[0] != "C").strip()[:100]


def parse_filter(params: Mapping[str, str]) -> tuple[SignatoryFilter, list[str]]:
    """A filter from the query string; what cannot be understood is dropped and reported."""
    errors: list[str] = []
    values: dict[str, Any] = {}

    def pick(name: str, field: str, valid: Any, message: str) -> None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return
        if valid(raw):
            values[field] = raw
        else:
            errors.append(message)

    q = _clean_text(params.get("q") or "")
    if q:
        values["q"] = q
    pick("statut", "status", lambda v: v in STATUSES, "Statut inconnu.")
    pick("mandat", "mandate", lambda v: v in MANDATES, "Mandat inconnu.")
    pick("region", "region", _REGION.fullmatch, "Code de région invalide.")
    pick("departement", "departement", _DEPARTEMENT.fullmatch, "Code de département invalide.")
    pick("relais", "ref", _REF.fullmatch, "Code relais invalide.")
    pick("tri", "sort", lambda v: v in SORTS, "Tri inconnu.")
    pick("preuve", "proof", lambda v: v in PROOF_PARAMS, "Preuve inconnue.")
    for name, field in (("du", "since"), ("au", "until")):
        raw = (params.get(name) or "").strip()
        if raw:
            try:
                values[field] = parse_day(raw)
            except ValueError:
                errors.append(f"Date invalide (format AAAA-MM-JJ, {BOUNDS_TEXT}).")
    for name, field in (
        ("liste", "public"),
        ("avant", "featured"),
        ("verifie", "verified"),
        ("rne", "register_match"),
    ):
        raw = (params.get(name) or "").strip()
        if raw in _YES_NO:
            values[field] = _YES_NO[raw]
        elif raw:
            errors.append("Choix invalide.")
    return SignatoryFilter(**values), errors
