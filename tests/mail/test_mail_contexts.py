"""The registry of the emails' contexts (campaign/mail/contexts.py): every email of `emails/` has
a builder, registered by the application, and a template without one is undeliverable."""

from __future__ import annotations

import pytest

from campaign.core import resources
from campaign.core.settings import load_settings
from campaign.mail.contexts import EmailContexts, Undeliverable
from campaign.mail.outbox import ClaimedMail
from campaign.runtime import email_contexts


def test_every_email_has_a_context_builder() -> None:
    folders = {p.name for p in resources.EMAILS.iterdir() if p.is_dir()}
    assert (
        set(email_contexts())
        == folders
        == {"confirm", "already_signed", "reminder", "mailing", "invitation", "attestation"}
    )


def test_one_builder_per_email() -> None:
    contexts = EmailContexts()

    async def builder(*_: object) -> dict[str, object]:
        return {}

    contexts.register("confirm", builder)
    with pytest.raises(ValueError, match="two context builders"):
        contexts.register("confirm", builder)


async def test_an_email_without_a_builder_is_undeliverable() -> None:
    mail = ClaimedMail(
        id=1, template="nope", recipient="a@b.fr", signature_id=None, token_id=None, attempts=1
    )
    settings = load_settings({"SECRET_KEY": "test-secret-key-not-for-production"})
    with pytest.raises(Undeliverable) as raised:
        await EmailContexts().build(None, settings, mail)  # type: ignore[arg-type]
    assert raised.value.reason.startswith("Rendu impossible du modèle 'nope'")
