"""What every back-office page shares: the campaign it works on, the page frame, messages."""

from __future__ import annotations

from typing import Any, Final

from litestar.response import Template

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
    "suspicion": "Suspicion levée : la signature compte désormais si elle est confirmée.",
}


def current_campaign(runtime: Runtime) -> Campaign:
    return current_or_404(runtime.campaigns)


def page(
    template: str,
    user: SessionUser,
    campaign: Campaign | None,
    *,
    status_code: int = 200,
    done: str | None = None,
    **context: Any,
) -> Template:
    """A back-office page: never cached (it shows personal data), never framed."""
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
            "paris": PARIS,
            "reason_labels": SUSPECT_REASONS,
            **context,
        },
        status_code=status_code,
        headers=NO_STORE,
    )
