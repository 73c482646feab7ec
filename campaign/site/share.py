"""Sharing the letter: the address a signer typed, shown once on the thank-you page; the share
block's links (email and social networks, no third-party script); the Open Graph image.

The address travels from `POST /signer` to `GET /merci` in a cookie, never in a URL or a log:
signed with the app's secret (HMAC), HttpOnly, SameSite=Strict, limited to `/merci`, valid a few
minutes, and cleared by the page that reads it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import textwrap
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from litestar import Request, Response, get
from litestar.datastructures import Cookie

from campaign.core.bodies import etag_of
from campaign.core.frenchnumbers import NNBSP
from campaign.core.settings import Settings
from campaign.letter.campaigns import Campaign
from campaign.publication.files import svg_png
from campaign.runtime import RuntimeDep
from campaign.web.campaign import current_or_404
from campaign.web.httpcache import cached_response

ADDRESS_COOKIE = "adresse-saisie"
ADDRESS_PATH = "/merci"
ADDRESS_SECONDS = 600
IMAGE_PATH = "/partage.png"
IMAGE_WIDTH, IMAGE_HEIGHT = 1200, 630
_IMAGES_KEPT = 8


# -- the address typed, from the form to the thank-you page ------------------------------------


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(
        b"campaign/site/share address cookie\0" + settings.secret_key.encode()
    ).digest()


def _mac(settings: Settings, payload: str) -> str:
    return hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()


def _cookie(settings: Settings, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=ADDRESS_COOKIE,
        value=value,
        path=ADDRESS_PATH,
        max_age=max_age,
        secure=settings.base_url.startswith("https://"),
        httponly=True,
        samesite="strict",
    )


def address_cookie(settings: Settings, address: str, now: datetime) -> Cookie:
    """The cookie that carries `address` to the thank-you page."""
    encoded = base64.urlsafe_b64encode(address.encode()).decode().rstrip("=")
    payload = f"{encoded}.{int(now.timestamp())}"
    return _cookie(settings, f"{payload}.{_mac(settings, payload)}", ADDRESS_SECONDS)


def clear_address_cookie(settings: Settings) -> Cookie:
    return _cookie(settings, "", 0)


def read_address(settings: Settings, value: str | None, now: datetime) -> str | None:
    """The address in the cookie, if it is ours, intact and recent; None otherwise."""
    if not value or not value.isascii() or value.count(".") != 2:
        return None
    payload, _, mac = value.rpartition(".")
    if not hmac.compare_digest(mac, _mac(settings, payload)):
        return None
    encoded, _, stamp = payload.partition(".")
    if not stamp.isdigit() or not 0 <= now.timestamp() - int(stamp) <= ADDRESS_SECONDS:
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError:
        return None


# -- the share block and the Open Graph tags ---------------------------------------------------


def share_context(settings: Settings, campaign: Campaign, *, signed: bool) -> dict[str, Any]:
    """What templates/_share.html and _share_meta.html show; `signed`: the signer's own words."""
    url = settings.base_url + "/"
    title = campaign.title
    if signed:
        text = f"J’ai signé la lettre ouverte « {title} ». Lisez-la et signez-la vous aussi :"
        subject = f"J’ai signé la lettre ouverte « {title} »"
        body = (
            f"Bonjour,\n\nJ’ai signé la lettre ouverte « {title} ». "
            f"Vous pouvez la lire et la signer vous aussi ici :\n{url}\n"
        )
    else:
        text = f"Lettre ouverte « {title} » : lisez-la et signez-la :"
        subject = f"Lettre ouverte « {title} »"
        body = (
            f"Bonjour,\n\nVous pouvez lire et signer la lettre ouverte « {title} » ici :\n{url}\n"
        )
    both = f"{text} {url}"
    return {
        "heading": "Faites savoir que vous avez signé" if signed else "Faites connaître la lettre",
        "url": url,
        "image": settings.base_url + IMAGE_PATH,
        "image_width": IMAGE_WIDTH,
        "image_height": IMAGE_HEIGHT,
        "description": campaign.summary or text,
        "mailto": f"mailto:?subject={quote(subject)}&body={quote(body)}",
        "links": [
            ("Mastodon", "https://mastodon.social/share?" + urlencode({"text": both})),
            (
                "LinkedIn",
                "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": url}),
            ),
            ("Facebook", "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url})),
            ("X", "https://x.com/intent/post?" + urlencode({"text": text, "url": url})),
            ("WhatsApp", "https://wa.me/?" + urlencode({"text": both})),
        ],
    }


# -- the image: the letter's title and the live count ------------------------------------------


def _count_text(total: int) -> str:
    figure = f"{total:,}".replace(",", NNBSP)
    return f"{figure} signature{'s' if total > 1 else ''}"


def share_svg(title: str, total: int, host: str) -> str:
    """1200×630: the title (four lines at most), the count, the site's host."""
    lines = textwrap.wrap(title, width=30) or [""]
    if len(lines) > 4:
        lines = [*lines[:3], textwrap.shorten(" ".join(lines[3:]), width=29, placeholder=" …")]
    size = 64 if len(lines) <= 2 else 54
    top = 170 if len(lines) <= 2 else 140
    title_svg = "".join(
        f'<text x="80" y="{top + i * int(size * 1.2)}" font-size="{size}" font-weight="bold" '
        f'fill="#1a1a1a">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{IMAGE_WIDTH}" height="{IMAGE_HEIGHT}" '
        f'viewBox="0 0 {IMAGE_WIDTH} {IMAGE_HEIGHT}" font-family="DejaVu Sans">'
        f'<rect width="{IMAGE_WIDTH}" height="{IMAGE_HEIGHT}" fill="#ffffff"/>'
        f'<rect width="24" height="{IMAGE_HEIGHT}" fill="#b0412e"/>'
        f'<text x="80" y="80" font-size="30" fill="#404040">Lettre ouverte</text>'
        f"{title_svg}"
        f'<text x="80" y="520" font-size="58" font-weight="bold" fill="#b0412e">'
        f"{escape(_count_text(total))}</text>"
        f'<text x="80" y="585" font-size="28" fill="#404040">{escape(host)}</text>'
        "</svg>"
    )


_images: dict[tuple[int, str, int, str], tuple[bytes, str]] = {}


async def share_image(campaign: Campaign, total: int, host: str) -> tuple[bytes, str]:
    """The PNG and its ETag, built once per count (and title)."""
    key = (campaign.id, campaign.title, total, host)
    found = _images.get(key)
    if found is None:
        png = await asyncio.to_thread(svg_png, share_svg(campaign.title, total, host), IMAGE_WIDTH)
        found = (png, etag_of(png))
        while len(_images) >= _IMAGES_KEPT:
            del _images[next(iter(_images))]
        _images[key] = found
    return found


@get(IMAGE_PATH, include_in_schema=False)
async def share_png(runtime: RuntimeDep, request: Request[Any, Any, Any]) -> Response[bytes]:
    """The Open Graph image of `/` and `/merci`."""
    campaign = current_or_404(runtime.campaigns)
    total = runtime.counts.campaign(campaign.id).total
    host = runtime.settings.base_url.split("://", 1)[-1]
    png, etag = await share_image(campaign, total, host)
    return cached_response(request, png, max_age=60, stale=600, media_type="image/png", etag=etag)
