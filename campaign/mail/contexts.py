"""Which context each email kind is rendered with: template name -> the builder of its context.

Each feature builds the context of its own emails (campaign/signing/emails.py, campaign/reach/
emails.py); the application registers them when it makes a mail worker (campaign/runtime.py),
so the worker, and this package, know none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import asyncpg

from campaign.core.settings import Settings
from campaign.mail.outbox import ClaimedMail


class Undeliverable(Exception):
    """The message cannot be built (signature or token gone, template broken): not worth retrying.

    `reason` is recorded in the row; `hint` is for the log and holds no personal data.
    """

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


class ContextBuilder(Protocol):
    async def __call__(
        self, pool: asyncpg.Pool, settings: Settings, mail: ClaimedMail
    ) -> dict[str, Any]:
        """The template's variables (and `headers`, added to the message); raises Undeliverable
        when what the message is about is gone."""
        ...


class EmailContexts:
    """The registry: one builder per template name."""

    def __init__(self) -> None:
        self._builders: dict[str, ContextBuilder] = {}

    def register(self, template: str, builder: ContextBuilder) -> None:
        if template in self._builders:
            raise ValueError(f"two context builders for the email {template!r}")
        self._builders[template] = builder

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    async def build(
        self, pool: asyncpg.Pool, settings: Settings, mail: ClaimedMail
    ) -> dict[str, Any]:
        """The context of `mail`'s template; Undeliverable for a template nobody registered."""
        builder = self._builders.get(mail.template)
        if builder is None:
            raise Undeliverable(
                f"Rendu impossible du modèle {mail.template!r} : aucun contexte n’est défini "
                "pour ce modèle",
                "no context builder",
            )
        return await builder(pool, settings, mail)
