"""What every back-office page shares: the campaign it works on, the page frame, messages, the
redirect after an action, pages of a long list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol, TypeVar

from litestar.params import FromQuery
from litestar.response import Redirect, Template

from campaign.admin import wording
from campaign.core.frenchdates import PARIS
from campaign.letter.campaigns import Campaign
from campaign.organisers.roles import LABELS as ROLE_LABELS
from campaign.organisers.roles import allows
from campaign.organisers.sessions import SessionUser
from campaign.runtime import Runtime
from campaign.signing.abuse import REASONS as SUSPECT_REASONS
from campaign.territories.mandates import LABELS as MANDATE_LABELS
from campaign.web.campaign import current_or_404
from campaign.web.httpcache import NO_STORE

# Shown after a redirect (`?fait=...`): the outcome of the action just done.
DONE: Final = {
    "rejet": "Signature rejetée.",
    "restauration": "Signature restaurée.",
    "avant": "Signature mise en avant.",
    "retrait-avant": "Signature retirée de la mise en avant.",
    "correction": "Nom corrigé.",
    "renvoi": "Un nouveau lien de confirmation part dans la file d’envoi.",
    "relance": "Le courriel est remis dans la file d’envoi.",
    "campagne": "Campagne enregistrée.",
    "compte": "Compte enregistré.",
    "lot": "Action groupée effectuée.",
    "verification": "Vérification enregistrée.",
    "attestation": "Attestation enregistrée : la signature est celle d’un·e élu·e vérifié·e.",
    "desattestation": "Attestation retirée.",
    "suspicion": "Suspicion levée : la signature compte désormais si elle est confirmée.",
}


def current_campaign(runtime: Runtime) -> Campaign:
    return current_or_404(runtime.campaigns)


def page(
    template: str,
    user: SessionUser,
    campaign: Campaign | None,
    *,
    status_code: int | None = None,
    done: str | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
    **context: Any,
) -> Template:
    """A back-office page: never cached (it shows personal data), never framed. A page that
    shows an `error` (an action refused, a form to correct) answers 422 unless told otherwise;
    `values`: what a form sent, shown again to be corrected."""
    return Template(
        template,
        context={
            "user": user,
            "campaign": campaign,
            "can_act": allows(user.role, "organiser"),
            "is_admin": allows(user.role, "admin"),
            "role_labels": ROLE_LABELS,
            "mandate_labels": MANDATE_LABELS,
            "done": DONE.get(done or ""),
            "error": error,
            "values": values or {},
            "paris": PARIS,
            "reason_labels": SUSPECT_REASONS,
            "paris_time": wording.paris_time,
            "status_label": wording.status_label,
            "audit_sentence": wording.sentence,
            "verification_labels": wording.VERIFICATION_LABELS,
            "decision_labels": wording.DECISION_LABELS,
            **context,
        },
        status_code=status_code or (422 if error else 200),
        headers=NO_STORE,
    )


def redirect(path: str, done: str | None = None) -> Redirect:
    """Where an action sends the browser (303: the next page is a GET), with its outcome
    (`?fait=`, shown by that page)."""
    return Redirect(f"{path}?fait={done}" if done else path, status_code=303)


Outcome = FromQuery[str | None]
"""The `?fait=` of a page shown after an action: which outcome to say."""

Before = FromQuery[int | None]
"""The `?avant=` of a list read newest first: the id its page starts before (see newest_first)."""


class _Numbered(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_Numbered)


def newest_first(rows: Sequence[Row], per_page: int) -> tuple[Sequence[Row], int | None]:
    """A page of a list read newest first, fetched with one row more than it shows: the rows to
    show, and the id the next (older) page starts before (None: this page is the last)."""
    return rows[:per_page], rows[per_page - 1].id if len(rows) > per_page else None
