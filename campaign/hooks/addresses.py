"""Where a webhook may be sent: HTTPS only, and never to a private address (SSRF). Plain HTTP
to 127.0.0.1 or localhost only when WEBHOOK_ALLOW_LOCAL is set (tests, development)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from campaign.core.settings import Settings, is_production

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def local_allowed(settings: Settings) -> bool:
    """WEBHOOK_ALLOW_LOCAL, ignored when the site is public (BASE_URL https on a real host)."""
    return settings.webhook_allow_local and not is_production(settings)


class AddressError(ValueError):
    """The URL is refused; the message is French, for the back office."""


def check_form(url: str, *, allow_local: bool) -> str:
    """The URL's form (no resolution): returns it trimmed, or raises AddressError."""
    url = url.strip()
    if len(url) > 2000:
        raise AddressError("Adresse trop longue (2 000 caractères au plus).")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise AddressError("Adresse invalide.") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise AddressError("Adresse invalide : il manque le nom du serveur (https://…).")
    if parts.username or parts.password:
        raise AddressError("Adresse refusée : pas d’identifiants dans l’adresse.")
    local = allow_local and host in LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise AddressError("Adresse refusée : seules les adresses https:// sont acceptées.")
    return url


def _refused(address: str, *, allow_local: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if allow_local and ip.is_loopback:
        return False
    return not ip.is_global or ip.is_multicast


async def check(url: str, *, allow_local: bool) -> str:
    """`check_form`, then resolve the host: refused if it has no address or any address is not
    public (loopback, private, link-local, reserved…). Checked again before every delivery, as
    a name's addresses may change."""
    url = check_form(url, allow_local=allow_local)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressError("Adresse refusée : ce nom de serveur est introuvable.") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or any(_refused(a, allow_local=allow_local) for a in addresses):
        raise AddressError("Adresse refusée : elle mène à un réseau privé ou local.")
    return url
