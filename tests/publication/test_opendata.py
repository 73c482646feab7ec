"""The open data: every CSV file validates against its Table Schema (frictionless), the licence
and the sources' attributions are in the metadata, the URLs are stable and cacheable, and no
commune figure tells whether its maire signed."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import asyncpg
import httpx
from frictionless import Resource, Schema

from tests.support.admin import make_signature
from tests.support.public import eventually

SLUG = "jouer-collectif"
ROOT = f"/donnees/{SLUG}"
NAMES = ("regions", "departements", "communes", "mandats")


def validate(body: bytes, descriptor: dict[str, Any]) -> list[list[Any]]:
    """The errors frictionless finds in `body` against the schema: [] when it validates."""
    schema = Schema.from_descriptor(descriptor)
    report = Resource(data=body, format="csv", schema=schema).validate()
    errors: list[list[Any]] = report.flatten(["type", "rowNumber", "fieldName"])
    return errors


def rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


async def counted(client: httpx.AsyncClient) -> int:
    return int((await client.get(f"/api/v1/campaigns/{SLUG}")).json()["total"])


async def test_every_file_validates_against_its_schema(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    before = await counted(client)
    await make_signature(db, mandate="maire", code="38185", public=False)

    async def moved() -> bool:
        return await counted(client) > before

    await eventually(moved, what="the counts to move")
    package = (await client.get(f"{ROOT}/datapackage.json")).json()
    assert [r["name"] for r in package["resources"]] == list(NAMES)
    for resource in package["resources"]:
        path = resource["path"].split("127.0.0.1", 1)[1].split("/", 1)[1]
        data = await client.get("/" + path)
        assert data.status_code == 200 and data.headers["content-type"].startswith("text/csv")
        schema = (await client.get(f"{ROOT}/{resource['name']}.schema.json")).json()
        assert resource["schema"].endswith(f"{ROOT}/{resource['name']}.schema.json")
        assert validate(data.content, schema) == [], resource["name"]
        assert [f["name"] for f in schema["fields"]] == list(rows(data.content)[0])
        assert all(f["description"] and f["title"] for f in schema["fields"])
    communes = {
        r["code_commune"]: r for r in rows((await client.get(f"{ROOT}/communes.csv")).content)
    }
    assert int(communes["38185"]["signatures_declarees"]) >= 1
    assert communes["38185"]["code_departement"] == "38"
    mandates = {r["mandat"]: r for r in rows((await client.get(f"{ROOT}/mandats.csv")).content)}
    assert int(mandates["maire"]["signatures_declarees"]) >= 1
    assert mandates["maire"]["niveau_territoire"] == "commune"
    regions = rows((await client.get(f"{ROOT}/regions.csv")).content)
    assert len(regions) >= 18 and {"code_region", "signatures_verifiees"} <= set(regions[0])


async def test_the_schema_check_can_fail(client: httpx.AsyncClient) -> None:
    schema = (await client.get(f"{ROOT}/regions.schema.json")).json()
    assert validate(
        b"code_region,nom_region,signatures_declarees,signatures_verifiees\r\n"
        b"84,Auvergne-Rh\xc3\xb4ne-Alpes,-1,0\r\n",
        schema,
    )
    assert validate(
        b"code_region,nom_region,signatures_declarees,signatures_verifiees\r\n84,,3,x\r\n", schema
    )


async def test_communes_say_nothing_about_a_single_official(client: httpx.AsyncClient) -> None:
    """Per commune, the declared count only: nothing per mandate or per verification."""
    body = (await client.get(f"{ROOT}/communes.csv")).content
    header = b"code_commune,nom_commune,code_departement,code_region,signatures_declarees"
    assert body.split(b"\r\n", 1)[0] == header
    schema = (await client.get(f"{ROOT}/communes.schema.json")).json()
    assert ",".join(f["name"] for f in schema["fields"]).encode() == header


async def test_licence_and_attributions_are_in_the_metadata(client: httpx.AsyncClient) -> None:
    package = (await client.get(f"{ROOT}/datapackage.json")).json()
    assert package["licenses"][0]["name"] == "etalab-2.0"
    titles = " ".join(s["title"] for s in package["sources"])
    assert "Code officiel géographique" in titles and "Répertoire national des élus" in titles
    for name in NAMES:
        schema = (await client.get(f"{ROOT}/{name}.schema.json")).json()
        assert schema["licenses"] == package["licenses"]
        assert any("Insee" in s["title"] or "élus" in s["title"] for s in schema["sources"])
    resource = package["resources"][0]
    assert resource["licenses"][0]["path"].startswith("https://www.etalab.gouv.fr/")


async def test_urls_are_stable_and_cacheable(client: httpx.AsyncClient) -> None:
    for name in ("datapackage.json", "communes.csv", "mandats.schema.json"):
        first = await client.get(f"{ROOT}/{name}")
        assert first.status_code == 200
        assert first.headers["cache-control"].startswith("public")
        assert first.headers["access-control-allow-origin"] == "*"
        etag = first.headers["etag"]
        again = await client.get(f"{ROOT}/{name}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        api = await client.get(f"/api/v1/campaigns/{SLUG}/donnees/{name}")
        assert api.status_code == 200 and api.content == first.content
    assert (await client.get(f"{ROOT}/inconnu.csv")).status_code == 404
    assert (await client.get("/donnees/inconnue/regions.csv")).status_code == 404
    missing = await client.get(f"/api/v1/campaigns/{SLUG}/donnees/inconnu.csv")
    assert missing.status_code == 404 and "inconnu" in missing.json()["detail"]


async def test_the_page_for_people_links_every_file(client: httpx.AsyncClient) -> None:
    page = await client.get(ROOT)
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "Licence Ouverte / Open Licence version 2.0" in text
    assert "Code officiel géographique" in text and "Répertoire national des élus" in text
    links = set(re.findall(r'href="(/donnees/[^"]+)"', page.text))
    assert {f"{ROOT}/{n}.csv" for n in NAMES} <= links
    for link in links:
        assert (await client.get(link)).status_code == 200, link
