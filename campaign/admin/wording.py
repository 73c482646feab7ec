"""The organisers' words for what the code names in English: statuses, verification results,
journal actions (one French sentence per audit action), and Paris time with its zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import msgspec

from campaign.core.audit import AuditEntry
from campaign.core.frenchdates import PARIS
from campaign.core.frenchnumbers import count_of
from campaign.moderation.filters import STATUS_LABELS
from campaign.organisers.roles import LABELS as ROLE_LABELS

_MONTHS: Final = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin",
    "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip
NBSP: Final = "\u00a0"

VERIFICATION_LABELS: Final = {
    "verified": "reconnue au répertoire des élus",
    "not_found": "introuvable au répertoire des élus",
    "ambiguous": "plusieurs élus possibles au répertoire",
    "pending": "pas encore comparée au répertoire",
    None: "pas encore comparée au répertoire",
}
DECISION_LABELS: Final = {
    "verified": "reconnue (décision manuelle)",
    "not_found": "non trouvée (décision manuelle)",
    None: "vérification automatique",
}
# Values recorded in before/after that read better in French.
_VALUES: Final[dict[object, str]] = {True: "oui", False: "non"}
_VALUES.update(STATUS_LABELS)
_VALUES.update(ROLE_LABELS)


def paris_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """« 4 déc. 2026 à 15 h 02 (heure de Paris) »; empty for no moment."""
    if moment is None:
        return ""
    local = moment.astimezone(PARIS)
    clock = f"{local.hour}{NBSP}h{NBSP}{local.minute:02d}"
    if seconds:
        clock += f"{NBSP}min{NBSP}{local.second:02d}{NBSP}s"
    date = f"{local.day}{NBSP}{_MONTHS[local.month - 1]}{NBSP}{local.year}"
    return f"{date} à {clock} (heure de Paris)"


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "—")


def value_label(value: Any) -> str:
    if isinstance(value, (bool, str)):
        return _VALUES.get(value, str(value))
    if value is None:
        return "aucun"
    if isinstance(value, list):
        return ", ".join(value_label(v) for v in value) or "aucun"
    if isinstance(value, dict):
        return ", ".join(f"{k}{NBSP}: {value_label(v)}" for k, v in value.items())
    return str(value)


def _json(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _count(value: Any, key: str, one: str, many: str | None = None) -> str:
    """A count recorded in the journal's detail, with its noun agreed (« 2 signatures »)."""
    found = _get(value, key)
    return count_of(found if isinstance(found, int) else 0, one, many)


def _target(entry: AuditEntry) -> str:
    names = {
        "signature": "la signature",
        "mailing": "l’envoi",
        "organiser": "le compte",
        "relay": "le relais",
        "campaign": "la campagne",
        "webhook": "le webhook",
    }
    if entry.target_type is None:
        return ""
    name = names.get(entry.target_type, entry.target_type)
    return f"{name} n°{NBSP}{entry.target_id}" if entry.target_id is not None else name


def _reason(detail: Any) -> str:
    motif = _get(detail, "motif")
    return f"{NBSP}: motif «{NBSP}{motif}{NBSP}»" if motif else ""


Phrase = Callable[[AuditEntry, Any, Any, Any], str]
"""What an action did, from its entry and its decoded before, after and detail."""

PHRASES: Final[dict[str, Phrase]] = {
    "login": lambda e, b, a, d: "s’est connecté·e",
    "logout": lambda e, b, a, d: "s’est déconnecté·e",
    "signature.reject": lambda e, b, a, d: f"a rejeté {_target(e)}{_reason(d)}",
    "signature.restore": lambda e, b, a, d: (
        f"a restauré {_target(e)} ({status_label(_get(a, 'status')).lower()}){_reason(d)}"
    ),
    "signature.feature": lambda e, b, a, d: f"a mis en avant {_target(e)}",
    "signature.unfeature": lambda e, b, a, d: f"a retiré {_target(e)} de la mise en avant",
    "signature.clear": lambda e, b, a, d: f"a levé la suspicion sur {_target(e)}",
    "signature.correct": lambda e, b, a, d: (
        f"a corrigé le nom de {_target(e)}{NBSP}: {value_label(b)} → {value_label(a)}"
    ),
    "signature.resend": lambda e, b, a, d: f"a renvoyé le lien de confirmation de {_target(e)}",
    "signature.verify": lambda e, b, a, d: (
        f"a changé la vérification de {_target(e)}{NBSP}: "
        f"{DECISION_LABELS.get(_get(a, 'décision'), str(_get(a, 'décision')))}"
    ),
    "signature.attest": lambda e, b, a, d: (
        f"a attesté que {_target(e)} est bien l’élu·e déclaré·e{_reason(d)}"
    ),
    "signature.unattest": lambda e, b, a, d: (
        f"a retiré son attestation de {_target(e)}{_reason(d)}"
    ),
    "mail.retry": lambda e, b, a, d: f"a relancé un courriel de {_target(e)}",
    "mailing.create": lambda e, b, a, d: (
        f"a préparé {_target(e)}"
        + (f" «{NBSP}{_get(a, 'objet')}{NBSP}»" if _get(a, "objet") else "")
    ),
    "mailing.start": lambda e, b, a, d: (
        f"a lancé {_target(e)} "
        f"({_count(d, 'destinataires ajoutés', 'destinataire ajouté', 'destinataires ajoutés')})"
    ),
    "mailing.pause": lambda e, b, a, d: f"a mis en pause {_target(e)}",
    "mailing.resume": lambda e, b, a, d: f"a repris {_target(e)}",
    "mailing.cancel": lambda e, b, a, d: f"a annulé {_target(e)}",
    "mailing.test": lambda e, b, a, d: f"s’est envoyé un test de {_target(e)}",
    "export": lambda e, b, a, d: (
        f"a exporté les signataires (format {str(_get(d, 'format') or '?').upper()})"
    ),
    "campaign.update": lambda e, b, a, d: "a modifié la campagne",
    "account.create": lambda e, b, a, d: (
        f"a créé le compte {_get(a, 'email')} ({value_label(_get(a, 'role'))})"
    ),
    "account.reset": lambda e, b, a, d: f"a réinitialisé le mot de passe de {_target(e)}",
    "account.role": lambda e, b, a, d: (
        f"a donné le rôle {value_label(_get(a, 'role'))} au compte {_get(b, 'email') or ''}"
    ).rstrip(),
    "account.activate": lambda e, b, a, d: f"a réactivé le compte {_get(b, 'email') or ''}",
    "account.deactivate": lambda e, b, a, d: f"a désactivé le compte {_get(b, 'email') or ''}",
    "blocklist.add": lambda e, b, a, d: "a ajouté une entrée à la liste d’opposition",
    "blocklist.remove": lambda e, b, a, d: "a retiré une entrée de la liste d’opposition",
    "privacy.access": lambda e, b, a, d: "a traité une demande d’accès aux données",
    "privacy.erase": lambda e, b, a, d: (
        f"a effacé des données personnelles ({_count(d, 'signatures', 'signature')})"
    ),
    "invitations.import": lambda e, b, a, d: (
        f"a importé des invité·es ({_count(d, 'ajoutées', 'ajoutée')})"
    ),
    "relay.create": lambda e, b, a, d: f"a créé le relais «{NBSP}{_get(a, 'nom')}{NBSP}»",
    "relay.activate": lambda e, b, a, d: f"a réactivé {_target(e)}",
    "relay.deactivate": lambda e, b, a, d: f"a désactivé {_target(e)}",
    "relay.renew_link": lambda e, b, a, d: f"a renouvelé le lien de {_target(e)}",
    "webhook.create": lambda e, b, a, d: f"a créé {_target(e)} vers {_get(a, 'host')}",
    "webhook.activate": lambda e, b, a, d: f"a réactivé {_target(e)}",
    "webhook.deactivate": lambda e, b, a, d: f"a désactivé {_target(e)}",
    "webhook.delete": lambda e, b, a, d: f"a supprimé {_target(e)}",
    "webhook.ping": lambda e, b, a, d: f"a envoyé un test au webhook n°{NBSP}{e.target_id}",
}


def who(entry: AuditEntry, roles: dict[str, str] | None = None) -> str:
    """Who acted: the account (with its role when known), or the command line."""
    name = entry.organiser_email or "quelqu’un"
    role = (roles or {}).get(entry.organiser_email or "")
    return f"{name} ({ROLE_LABELS.get(role, role).lower()})" if role else name


def sentence(entry: AuditEntry, roles: dict[str, str] | None = None) -> str:
    """The journal's sentence for an entry: « anne@… (administrateur) a rejeté la signature
    n° 42 : motif « doublon » »; an unknown action still reads as a sentence."""
    before, after, detail = _json(entry.before), _json(entry.after), _json(entry.detail)
    phrase = PHRASES.get(entry.action)
    if phrase is not None:
        try:
            what = phrase(entry, before, after, detail)
        except (TypeError, ValueError, AttributeError):
            phrase = None
    if phrase is None:
        what = f"a fait l’action «{NBSP}{entry.action}{NBSP}»"
        if entry.target_type:
            what += f" sur {_target(entry)}"
        changes = [
            f"{label}{NBSP}: {value_label(value)}"
            for label, value in (("avant", before), ("après", after), ("détail", detail))
            if value is not None
        ]
        if changes:
            what += f" ({' ; '.join(changes)})"
    return f"{who(entry, roles)} {what}."


def masked_email(address: str | None) -> str:
    """An address partly hidden, enough to recognise it: « an•••@exemple.fr »."""
    if not address or "@" not in address:
        return "—"
    local, domain = address.rsplit("@", 1)
    return f"{local[:2]}•••@{domain}"


def remaining_time(left: int, sent_last_minute: int, rate: float) -> str:
    """« environ 4 min restantes », from the rate measured over the last minute (the set rate
    until something was sent); empty when nothing is left."""
    if left <= 0:
        return ""
    per_second = sent_last_minute / 60 if sent_last_minute else rate
    if per_second <= 0:
        return ""
    seconds = left / per_second
    if seconds < 60:
        return "moins d’une minute restante"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"environ {minutes}{NBSP}min restantes"
    hours, rest = divmod(minutes, 60)
    return f"environ {hours}{NBSP}h{NBSP}{rest:02d} restantes"
