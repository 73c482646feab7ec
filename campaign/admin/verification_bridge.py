"""The register-of-officials verification, as the back office sees it.

Verification belongs to `campaign.verification` (another part of the service). The back office
only calls what that module exposes, when it exposes it: `override_verification`.
"""

from __future__ import annotations

import importlib
from typing import Any

import asyncpg

from campaign.core.db import Q


def _module() -> Any:
    try:
        return importlib.import_module("campaign.register.verification")
    except ImportError:
        return None


def override_available() -> bool:
    module = _module()
    return module is not None and callable(getattr(module, "override_verification", None))


async def verified_share(conn: asyncpg.Connection, campaign_id: int) -> int | None:
    """Confirmed signatures found in the register; None when the register is not installed."""
    count: int | None = await conn.fetchval(Q["admin_verified_count"], campaign_id)
    return count


class VerificationUnavailable(RuntimeError):
    """The register of elected officials is not installed in this version."""


async def override(
    conn: asyncpg.Connection, signature_id: int, decision: str | None, actor_email: str
) -> bool:
    """An organiser's verification decision (`verified`, `not_found`, or None to go back to the
    register's result), through `campaign.verification.override_verification`."""
    module = _module()
    function = getattr(module, "override_verification", None) if module else None
    if not callable(function):
        raise VerificationUnavailable
    done: bool = await function(conn, signature_id, decision, actor_email)
    return done
