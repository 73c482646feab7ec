"""The organisers' back office under /admin: accounts and sessions, dashboard, signatories,
moderation, correspondence, campaign settings, exports, audit log; and the territorial
catalysts' console under /console (the same sessions, a role of its own).

`router()` gathers its routes behind one guard (campaign/admin/auth.py): every route declares
the least role it needs, and a route that declares none is refused.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, Router
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException


def _no_store(response: Response[Any]) -> Response[Any]:
    from campaign.web.httpcache import NO_STORE

    for name, value in NO_STORE.items():
        response.headers.setdefault(name, value)
    return response


def router() -> Router:
    from campaign.admin import (
        account_pages,
        attestation_pages,
        auth,
        campaign_settings,
        catalyst_pages,
        console_pages,
        correspondence,
        dashboard,
        export_pages,
        forms,
        hook_pages,
        invitation_pages,
        mailing_pages,
        privacy_pages,
        relay_pages,
        signatory_pages,
    )

    return Router(
        path="/",
        route_handlers=[
            auth.LoginController,
            dashboard.DashboardController,
            signatory_pages.SignatoriesController,
            correspondence.MailController,
            export_pages.ExportController,
            campaign_settings.CampaignSettingsController,
            account_pages.AdminsController,
            privacy_pages.BlockListController,
            privacy_pages.PrivacyRequestsController,
            mailing_pages.MailingsController,
            invitation_pages.InvitationsController,
            relay_pages.RelaysController,
            relay_pages.TerritoriesController,
            hook_pages.HooksController,
            catalyst_pages.CatalystsController,
            console_pages.ConsoleController,
            attestation_pages.AttestationsController,
        ],
        guards=[auth.role_guard],
        dependencies={
            "user": Provide(auth.provide_user, sync_to_thread=False),
            "form": Provide(forms.provide_form),
        },
        exception_handlers={
            NotAuthorizedException: auth.to_login,
            PermissionDeniedException: auth.forbidden,
        },
        after_request=_no_store,
        include_in_schema=False,
    )
