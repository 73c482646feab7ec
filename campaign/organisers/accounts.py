"""Organiser accounts: create (command line or admin page), change role, deactivate."""

from __future__ import annotations

import enum
from datetime import datetime

import asyncpg
import msgspec

from campaign.core import audit
from campaign.core.audit import Actor
from campaign.core.db import Q, convert, convert_all
from campaign.organisers import passwords
from campaign.organisers.roles import ROLES


class Organiser(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    email: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class AccountError(ValueError):
    """A refused account change; the message is French, for the person who asked."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check(email: str, role: str, password: str | None) -> None:
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError("Adresse électronique invalide.")
    if role not in ROLES:
        raise AccountError("Rôle inconnu : admin, organiser ou viewer.")
    if password is not None and (problem := passwords.password_problem(password)):
        raise AccountError(problem)


class Saved(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"


async def create_organiser(
    conn: asyncpg.Connection,
    actor: Actor,
    email: str,
    role: str,
    password: str,
    *,
    replace: bool = False,
) -> tuple[Saved, int]:
    """Create an account; with `replace`, an existing one gets this password and role (and is
    re-activated): how the command line recovers a lost admin password."""
    email = normalise_email(email)
    _check(email, role, password)
    password_hash = passwords.hash_password(password)
    async with conn.transaction():
        new_id = await conn.fetchval(Q["admin_insert_organiser"], email, password_hash, role)
        if new_id is not None:
            await audit.record(
                conn,
                actor,
                "account.create",
                target_type="organiser",
                target_id=new_id,
                after={"email": email, "role": role},
            )
            return Saved.CREATED, int(new_id)
        existing = await conn.fetchrow(Q["admin_organiser_by_email"], email)
        if not replace:
            raise AccountError("Un compte existe déjà pour cette adresse.")
        await conn.execute(
            Q["admin_set_organiser_password_role"], existing["id"], password_hash, role
        )
        await conn.execute(Q["admin_delete_sessions_of"], existing["id"])
        await audit.record(
            conn,
            actor,
            "account.reset",
            target_type="organiser",
            target_id=existing["id"],
            before={"role": existing["role"], "active": existing["active"]},
            after={"role": role, "active": True, "password": "changé"},
        )
        return Saved.UPDATED, int(existing["id"])


async def list_organisers(conn: asyncpg.Connection) -> list[Organiser]:
    return convert_all(await conn.fetch(Q["admin_list_organisers"]), Organiser)


async def get_organiser(conn: asyncpg.Connection, organiser_id: int) -> Organiser | None:
    row = await conn.fetchrow(Q["admin_organiser_by_id"], organiser_id)
    return None if row is None else convert(row, Organiser)


async def _keep_an_admin(conn: asyncpg.Connection, target: Organiser) -> None:
    if (
        target.role == "admin"
        and target.active
        and await conn.fetchval(Q["admin_count_active_admins"]) <= 1
    ):
        raise AccountError("Il doit rester au moins un compte administrateur actif.")


async def change_role(conn: asyncpg.Connection, actor: Actor, organiser_id: int, role: str) -> None:
    if role not in ROLES:
        raise AccountError("Rôle inconnu.")
    await _change(
        conn, actor, organiser_id, "role", role, "account.role", may_remove_admin=role != "admin"
    )


async def set_active(
    conn: asyncpg.Connection, actor: Actor, organiser_id: int, active: bool
) -> None:
    """Deactivating ends the account's sessions at once."""
    action = "account.activate" if active else "account.deactivate"
    await _change(conn, actor, organiser_id, "active", active, action, may_remove_admin=not active)


_SETTERS = {"role": "admin_set_organiser_role", "active": "admin_set_organiser_active"}


async def _change(
    conn: asyncpg.Connection,
    actor: Actor,
    organiser_id: int,
    field: str,
    value: str | bool,
    action: str,
    *,
    may_remove_admin: bool,
) -> None:
    """Set the role or the active flag of an account, end its sessions (they carried the old
    rights) and audit it; under a lock, so that two admins demoting each other at once still
    leave one (`may_remove_admin`: the change may leave none)."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE organisers IN SHARE ROW EXCLUSIVE MODE")
        target = await get_organiser(conn, organiser_id)
        if target is None:
            raise AccountError("Compte introuvable.")
        before = getattr(target, field)
        if before == value:
            return
        if may_remove_admin:
            await _keep_an_admin(conn, target)
        await conn.execute(Q[_SETTERS[field]], organiser_id, value)
        await conn.execute(Q["admin_delete_sessions_of"], organiser_id)
        await audit.record(
            conn,
            actor,
            action,
            target_type="organiser",
            target_id=organiser_id,
            before={"email": target.email, field: before},
            after={field: value},
        )
