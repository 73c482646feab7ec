"""The campaign a request is about, for every web layer."""

from __future__ import annotations

from litestar.exceptions import NotFoundException

from campaign.letter.campaigns import Campaign, CampaignRegistry


def current_or_404(campaigns: CampaignRegistry, campaign_id: int | None = None) -> Campaign:
    """`campaigns.current(campaign_id)`, or a French 404 while no campaign exists."""
    campaign = campaigns.current(campaign_id)
    if campaign is None:
        raise NotFoundException(detail="Aucune campagne n’est publiée.")
    return campaign
