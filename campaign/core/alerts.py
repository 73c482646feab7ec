"""Faults the operator must hear about, shared by every process (table `service_alerts`).

A mail worker raises `smtp_auth` when the relay refuses our credentials (535) and clears it when
a message goes out again; the back office shows every raised alert as a banner. An alert holds
the relay's reply, never a secret (no user name, no password, no address).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from campaign.core.db import Q, convert_all
from campaign.core.frenchdates import long_datetime

SMTP_AUTH = "smtp_auth"


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    detail: str
    first_at: datetime
    last_at: datetime
    occurrences: int

    def message(self) -> str:
        """What the back office says about it, in French."""
        if self.kind == SMTP_AUTH:
            return (
                f"Le relais SMTP refuse les identifiants du service depuis le "
                f"{long_datetime(self.first_at)} (réponse : « {self.detail} »). Les courriels "
                "ne partent plus : ils sont conservés et réessayés régulièrement. Corrigez "
                "l’utilisateur ou le mot de passe de SMTP_URL, puis redémarrez l’envoi."
            )
        return self.detail


async def raise_alert(conn: asyncpg.Pool | asyncpg.Connection, kind: str, detail: str) -> None:
    await conn.execute(Q["alert_raise"], kind, detail)


async def clear_alert(conn: asyncpg.Pool | asyncpg.Connection, kind: str) -> bool:
    """Clears the alert; True when there was one."""
    status: str = await conn.execute(Q["alert_clear"], kind)
    return status != "DELETE 0"


async def current_alerts(conn: asyncpg.Pool | asyncpg.Connection) -> list[Alert]:
    return convert_all(await conn.fetch(Q["alerts_current"]), Alert)
