"""Every page fits a 360 px phone (issue 16 §3): no sideways scroll on the public pages (the
map's variants, a territory of each level, the links of the emails and their results, the relay's
page, the widget) nor on any page of the back office (every GET route of the admin router, with
data present). Tables may scroll inside their own box (`.table-scroll`): that is not the page's
scroll. A failure names the page and the elements that stick out."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from campaign.app import create_app
from campaign.core.audit import CLI_ACTOR
from campaign.core.settings import load_settings
from campaign.moderation.filters import SignatoryFilter
from campaign.reach import mailings, relays
from campaign.reach.invitation_csv import Invitee
from campaign.reach.invitations import add_invitees
from campaign.territories.index import Territory
from tests.support.admin import PASSWORD, campaign_row, make_organiser, make_signature
from tests.support.app import unique_email
from tests.support.browser import DESKTOP, Chromium, open_live
from tests.support.mail import Mailbox
from tests.support.public import PublicApp, public_app
from tests.support.reach import wait_done
from tests.support.signing import SIGN, valid_body

pytestmark = pytest.mark.browser
NEUTRAL = "#e8e8e8"

WIDTH = 360
NARROW: dict[str, Any] = {"viewport": {"width": WIDTH, "height": 740}}
LONG_GIVEN = "Marie-Christine-Alexandrine"
LONG_FAMILY = "de La Rochefoucauld-Montmorency-Laval"
EMAILED = re.compile(r"http://127\.0\.0\.1:\d+/(confirmer|retirer|desinscription)/([A-Za-z0-9_-]+)")

# Where the wider part of the page is: the elements past the right edge whose parent is not
# (the causes, not every descendant), outside any box that scrolls or clips on its own.
CULPRITS = """(width) => {
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  };
  const found = [];
  const inside = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 0.5) continue;
    if (clipped(el)) { inside.push(el); continue; }
    const parent = el.parentElement && el.parentElement.getBoundingClientRect();
    if (parent && parent.right > width + 0.5 && el.parentElement !== document.body) continue;
    const classes = typeof el.className === "string" ? el.className.trim().split(/\\s+/) : [];
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      classes.filter(Boolean).map((c) => "." + c).join("");
    found.push(name + " (" + Math.round(r.width) + " px wide, right edge at " +
      Math.round(r.right) + " px)");
  }
  // Nothing sticks out but what a box should scroll or clip: name those (it does not).
  for (const el of found.length ? [] : inside) {
    const r = el.getBoundingClientRect();
    found.push("inside its box: " + el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      " (right edge at " + Math.round(r.right) + " px)");
  }
  return found.slice(0, 5);
}"""


async def overflow(page: Page, name: str) -> str | None:
    """Why `page` scrolls sideways, or None."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    if width <= WIDTH:
        return None
    culprits = await page.evaluate(CULPRITS, WIDTH)
    return f"{name}: {width} px wide; " + ("; ".join(culprits) or "no element found")


def admin_get_paths() -> list[str]:
    """The back office's GET pages, as the admin router registers them (downloads and the
    progress figures, which are JSON, left out)."""
    app = create_app(
        load_settings({"DATABASE_URL": "postgresql://unused/x", "SMTP_URL": "smtp://x:1"})
    )
    paths = set()
    for route in app.routes:
        if not route.path.startswith("/admin"):
            continue
        for handler in getattr(route, "route_handlers", []):
            if "GET" in handler.http_methods:
                paths.add(route.path)
    return sorted(
        p for p in paths if not p.endswith((".csv", ".xlsx", "/progression", "/connexion"))
    )


async def emailed_links(client: httpx.AsyncClient, mailbox: Mailbox) -> dict[str, str]:
    """Sign as a maire with a long name, and read the confirmation email's links."""
    address = unique_email("telephone")
    body = valid_body(email=address, given_name=LONG_GIVEN, family_name=LONG_FAMILY)
    response = await client.post(SIGN, json=body)
    assert response.status_code == 202, response.text
    [message] = await mailbox.wait_for(address)
    text = message.get_body(("plain",)).get_content()
    return {m.group(1): m.group(0) for m in EMAILED.finditer(text)}


async def test_every_page_fits_a_360_px_phone(
    chromium: Chromium,
    server: str,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    mailbox: Mailbox,
) -> None:
    # Data on every page: signatures (long names, a long address), a relay, a mailing that was
    # sent (its opt-out link), an invitation.
    c = await campaign_row(db)
    ref = f"tel-{uuid.uuid4().hex[:6]}"
    signature_id = await make_signature(
        db,
        given_name=LONG_GIVEN,
        family_name=LONG_FAMILY,
        ref=ref,
        code="69123",
        email=f"secretariat.general.{uuid.uuid4().hex[:6]}@mairie-de-saint-etienne-de-tinee.fr",
    )
    await make_signature(
        db, given_name="Yann", family_name="Breton", mandate="depute", level="departement",
        code="29", ref=ref,
    )  # fmt: skip
    links = await emailed_links(client, mailbox)
    settings = load_settings(
        {"BASE_URL": server, "SECRET_KEY": "test-secret-key-not-for-production"}
    )
    row = await db.fetchrow(
        "SELECT level, code, name, departement, region, population FROM territories "
        "WHERE level = 'departement' AND code = '69'"
    )
    relay_id = await relays.create(
        db,
        settings,
        c["id"],
        name="Relais des communes du Rhône et de la Métropole de Lyon",
        territory=Territory(**dict(row)),
        code=ref,
        who=CLI_ACTOR,
    )
    relay = await relays.get(db, relay_id)
    assert relay is not None
    draft = mailings.Draft(
        subject="Des nouvelles de la lettre ouverte aux élus locaux",
        body="Bonjour,\n\nMerci pour votre signature.\n",
        filter=SignatoryFilter(status="confirmed", ref=ref),
        rate=50,
    )
    mailing_id = await mailings.create(db, c["id"], draft, CLI_ACTOR)
    await mailings.start(db, mailing_id, CLI_ACTOR)
    await wait_done(db, mailing_id)
    # A webhook endpoint, switched off so that the session's worker never sends it anything.
    endpoint_id = await db.fetchval(
        """INSERT INTO webhook_endpoints (campaign_id, url, events, secret_salt, active)
           VALUES ($1, 'https://crm.organisation-partenaire.example/webhooks/jouer-collectif',
                   '{signature.confirmed,signature.withdrawn}', '\\x00', false) RETURNING id""",
        c["id"],
    )
    sent = [m for m in mailbox.messages if m["Subject"] == draft.subject]
    opt_out = next(
        m.group(0)
        for message in sent
        for m in EMAILED.finditer(message.get_body(("plain",)).get_content())
        if m.group(1) == "desinscription"
    )
    await add_invitees(
        db,
        settings,
        c["id"],
        [
            Invitee(
                email=unique_email("invite"), given_name="Jean-Baptiste",
                family_name="Dupont-Aignan-Delacroix", mandate="maire",
                territory_level="commune", territory_code="42218",
            )
        ],
        CLI_ACTOR,
    )  # fmt: skip

    public = [
        "/",
        "/carte",
        "/carte?niveau=region",
        "/carte?niveau=departement&mesure=maires",
        "/carte?niveau=region&mesure=maires",
        "/signataires",
        f"/signataires?q={LONG_FAMILY}",
        "/territoires/departement/69",
        "/territoires/region/84",
        "/confidentialite",
        "/mentions-legales",
        "/donnees/jouer-collectif",
        "/merci",
        "/integrer",
        "/widget",
        "/widget?carte=aucune",
        relays.secret_link(settings, relay).removeprefix(server),
        opt_out.removeprefix(server),
        links["confirmer"].removeprefix(server),
        links["retirer"].removeprefix(server),
        "/une-page-qui-n-existe-pas",
    ]
    problems: list[str] = []
    async with chromium.context(**NARROW) as context:
        page = await context.new_page()
        for path in public:
            response = await page.goto(server + path)
            assert response is not None and response.status in (200, 404), (path, response)
            if problem := await overflow(page, path):
                problems.append(problem)
        # The results of the emails' buttons.
        await page.goto(links["confirmer"])
        await page.get_by_role("button", name="Je confirme ma signature").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Merci")
        if problem := await overflow(page, "the confirmation's result"):
            problems.append(problem)
        await page.goto(links["retirer"])
        await page.locator("main form button").first.click()
        await page.wait_for_load_state()
        if problem := await overflow(page, "the withdrawal's result"):
            problems.append(problem)
        # The form sent back with its errors (the form alone: templates/sign.html).
        await page.goto(server + "/")
        await page.locator("#signer form button[type=submit]").click()
        await expect(page.locator("#erreurs")).to_be_visible()
        if problem := await overflow(page, "the sign form sent back with its errors"):
            problems.append(problem)

        # The back office, logged in as an admin (its login page first).
        email = await make_organiser(db, "admin")
        await page.goto(f"{server}/admin/connexion")
        if problem := await overflow(page, "/admin/connexion"):
            problems.append(problem)
        await page.get_by_label("Adresse électronique").fill(email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        ids = {
            "signature_id": signature_id,
            "relay_id": relay_id,
            "mailing_id": mailing_id,
            "endpoint_id": endpoint_id,
        }
        paths = [
            re.sub(r"\{([a-z_]+):int\}", lambda m: str(ids[m.group(1)]), p)
            for p in admin_get_paths()
        ]
        assert len(paths) >= 15, paths
        for path in [*paths, f"/admin/signataires?relais={ref}", "/admin/envois/nouveau"]:
            response = await page.goto(server + path)
            assert response is not None and response.status == 200, (path, response)
            await expect(page.get_by_role("heading", level=1)).to_be_visible()
            if problem := await overflow(page, path):
                problems.append(problem)
    assert not problems, "pages wider than a 360 px phone:\n" + "\n".join(problems)


# Rendered size of the map's visible texts: font size in the SVG's units times its scale.
SVG_TEXT_SIZES = """() => [...document.querySelectorAll("svg.carte text")]
  .filter((t) => t.getBoundingClientRect().width > 0)
  .map((t) => [t.textContent, parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a])"""
LEGEND = """() => [...document.querySelectorAll(".carte-legende-html li")]
  .filter((li) => li.getBoundingClientRect().width > 0)
  .map((li) => [li.dataset.color, li.textContent.trim(),
    parseFloat(getComputedStyle(li).fontSize)])"""
FILLS = """() => [...new Set([...document.querySelectorAll("svg.carte path[data-code]")]
  .map((p) => p.getAttribute("fill")))]"""


@pytest.fixture(scope="module")
async def empty_app(pg_server: str, mailbox: Mailbox) -> AsyncIterator[PublicApp]:
    """An app whose map starts without a signature (so without any colour class)."""
    async with public_app(pg_server, "phone_map", mailbox.port) as app:  # type: ignore[attr-defined]
        yield app


async def test_the_map_reads_on_a_phone_and_its_legend_follows_it_live(
    chromium: Chromium, empty_app: PublicApp
) -> None:
    db = await asyncpg.connect(empty_app.dsn)
    try:
        async with chromium.context(**NARROW) as context:
            page = await context.new_page()
            await open_live(page, f"{empty_app.base}/carte")
            # No text of the map under 12 px (its own legend, source and frames' names would be
            # 5 to 7 px: they give way to the legend in HTML and the page's text).
            small = [(t, round(px, 1)) for t, px in await page.evaluate(SVG_TEXT_SIZES) if px < 12]
            assert not small, f"map texts under 12 px at {WIDTH} px: {small}"
            legend = await page.evaluate(LEGEND)
            assert [(color, text) for color, text, _ in legend] == [(NEUTRAL, "0")]
            assert all(size >= 12 for _, _, size in legend), legend

            # The embeddable widget's mini map (by région) follows too.
            widget = await context.new_page()
            await open_live(widget, f"{empty_app.base}/widget")
            await expect(widget.locator(".carte-legende-html li:visible")).to_have_count(1)

            # A first signature, in the Creuse: the map colours it live, and the legend gains the
            # line of that colour (it had none: there was no class when the page was drawn).
            await make_signature(db, given_name="Léa", family_name="Creusoise", code="23096")
            creuse = page.locator('svg.carte path[data-code="23"]')
            await expect(creuse).to_have_attribute("data-value", "1")
            await expect(page.locator(".carte-legende-html li:visible")).to_have_count(2)
            legend = await page.evaluate(LEGEND)
            fill = await creuse.get_attribute("fill")
            assert [(color, text) for color, text, _ in legend] == [
                (NEUTRAL, "0"),
                (fill, "1 et plus"),
            ]
            assert all(size >= 12 for _, _, size in legend), legend
            assert set(await page.evaluate(FILLS)) <= {color for color, _, _ in legend}
            aquitaine = widget.locator('svg path[data-level="region"][data-code="75"]')
            await expect(aquitaine).to_have_attribute("data-value", "1")
            await expect(widget.locator(".carte-legende-html li:visible")).to_have_count(2)
            assert [t for _, t, _ in await widget.evaluate(LEGEND)] == ["0", "1 et plus"]

            # The same legend as the server draws for these counts (a reload). The page is kept
            # for every visitor and rebuilt within a second of a count (site/cached_pages.py).
            for _ in range(30):
                await page.reload()
                if len(await page.evaluate(LEGEND)) == 2:
                    break
                await asyncio.sleep(0.1)
            assert [(c, t) for c, t, _ in await page.evaluate(LEGEND)] == [
                (NEUTRAL, "0"),
                (fill, "1 et plus"),
            ]

        # On a wide screen the frames' names show, at 12 px at least too.
        async with chromium.context(**DESKTOP) as context:
            page = await context.new_page()
            await page.goto(f"{empty_app.base}/carte")
            sizes = await page.evaluate(SVG_TEXT_SIZES)
            assert any(t == "Guadeloupe" for t, _ in sizes), sizes
            assert all(px >= 12 for _, px in sizes), sizes
    finally:
        await db.close()
