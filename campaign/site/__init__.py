"""The public pages (French, complete without JavaScript): the letter and its form, confirmation,
signatories, map and territories, the published letter, relays' pages, withdrawal, and the
development mailbox while the embedded mail sink is in use."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler


def routes(*, dev_mailbox: bool) -> list[ControllerRouterHandler]:
    """The site's routes; `dev_mailbox`: the page of the embedded mail sink (`/boite-mail`)."""
    from campaign.site import (
        attestation_pages,
        devmail,
        opendata_pages,
        pages,
        public_pages,
        publication_pages,
        relay_pages,
        share,
        withdrawal_pages,
    )

    found: list[ControllerRouterHandler] = [
        pages.Pages,
        withdrawal_pages.WithdrawalPages,
        relay_pages.ReachPages,
        public_pages.PublicPages,
        publication_pages.PublicationPages,
        *publication_pages.DOWNLOADS,
        share.share_png,
        opendata_pages.OpenDataPages,
        attestation_pages.AttestationPages,
    ]
    if dev_mailbox:
        found.append(devmail.DevMailController)
    return found
