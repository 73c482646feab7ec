"""Organiser passwords: argon2id (argon2-cffi), rehashed at login when the parameters change."""

from __future__ import annotations

import asyncio
import os
import weakref

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a megabyte password is only a way to burn CPU

# argon2-cffi's defaults are RFC 9106's second recommended profile (argon2id, 64 MiB, t=3, p=4).
_hasher = PasswordHasher()
# Verified when the account is unknown, so that an unknown address takes as long as a wrong
# password and the answer time does not tell which accounts exist.
_DUMMY_HASH = _hasher.hash("not a password of anybody: equalises the timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in French; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
    if len(password) > MAX_LENGTH:
        return "Le mot de passe est trop long."
    return None


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no stored hash, spends the same time and says False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# argon2 takes tens of milliseconds of CPU and 64 MiB: at most one hash per core at a time, so a
# login flood queues here instead of starving every other request of CPU and memory.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(os.cpu_count() or 1)
    return slot


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    """`verify_password` in a worker thread, one per core at most. Hold no database connection
    while awaiting it."""
    async with _slot():
        return await asyncio.to_thread(verify_password, stored_hash, password)


async def hash_password_async(password: str) -> str:
    async with _slot():
        return await asyncio.to_thread(hash_password, password)
