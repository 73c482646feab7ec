"""One mailbox, one address: the canonical form of an email address (provider aliases folded),
used to de-duplicate signers and to cap what one mailbox receives.

The same rules are written in SQL (`email_canonical`, migration 0018), which the signatures'
uniqueness uses; tests/mail/test_addresses.py checks that both agree.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

# Providers where `local+anything@` reaches `local@` (sub-addressing).
PLUS_TAG_DOMAINS: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "outlook.fr",
        "hotmail.com",
        "hotmail.fr",
        "live.com",
        "live.fr",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "protonmail.ch",
        "proton.me",
        "pm.me",
        "fastmail.com",
        "fastmail.fm",
    }
)
# Providers that ignore dots in the local part (Gmail, under both of its names).
DOTLESS_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})
DOMAIN_ALIASES: Final = {"googlemail.com": "gmail.com"}


def canonical(address: str) -> str:
    """The address as its mailbox is known: trimmed, lower case, the provider's aliases folded
    (`Anne.Martin+lettre@GoogleMail.com` → `annemartin@gmail.com`)."""
    text = address.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    if domain in PLUS_TAG_DOMAINS:
        local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{DOMAIN_ALIASES.get(domain, domain)}"


def cap_key(secret_key: str, address: str) -> bytes:
    """What the per-recipient cap counts under: a keyed hash of the canonical address, never
    the address (a stolen table cannot be tested against a list of addresses without the key)."""
    message = b"mailcap:" + canonical(address).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
