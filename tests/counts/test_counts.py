"""The in-memory counts: roll-up from commune to département and région, idempotent updates."""

from __future__ import annotations

import json

from campaign.counts.cache import CountsCache
from campaign.territories.index import Territory, TerritoryIndex


def index() -> TerritoryIndex:
    def t(level: str, code: str, name: str, dep: str | None, reg: str | None) -> Territory:
        return Territory(
            level=level,
            code=code,
            name=name,
            departement=dep,
            region=reg,
            population=1,
            postal_codes=(),
        )

    return TerritoryIndex([
        t("region", "84", "Auvergne-Rhône-Alpes", None, None),
        t("departement", "69", "Rhône", None, "84"),
        t("departement", "01", "Ain", None, "84"),
        t("commune", "69123", "Lyon", "69", "84"),
        t("commune", "01053", "Bourg-en-Bresse", "01", "84"),
    ])  # fmt: skip


def test_a_commune_rolls_up_into_its_departement_and_region() -> None:
    cache = CountsCache(index())
    changed = cache.apply(1, "commune", "69123", 3)
    assert sorted(changed) == [("commune", "69123"), ("departement", "69"), ("region", "84")]
    cache.apply(1, "departement", "01", 2)  # a député of the Ain
    counts = cache.campaign(1)
    assert counts.total == 5
    assert counts.count("region", "84") == 5
    assert counts.count("departement", "69") == 3
    assert counts.count("departement", "01") == 2
    assert counts.count("commune", "69123") == 3


def test_values_are_absolute_so_replays_change_nothing() -> None:
    cache = CountsCache(index())
    cache.apply(1, "commune", "69123", 3)
    assert cache.apply(1, "commune", "69123", 3) == []
    cache.apply(1, "commune", "69123", 2)  # a withdrawal
    assert cache.campaign(1).total == 2
    assert cache.campaign(1).count("region", "84") == 2


def test_campaigns_are_counted_apart() -> None:
    cache = CountsCache(index())
    cache.apply(1, "commune", "69123", 1)
    cache.apply(2, "commune", "69123", 7)
    assert cache.campaign(1).total == 1
    assert cache.campaign(2).total == 7


def test_bodies_list_every_departement_but_only_communes_with_signatures() -> None:
    cache = CountsCache(index())
    cache.apply(1, "commune", "69123", 1)
    body, etag = cache.campaign(1).body(cache.index, "departement")
    data = json.loads(body)
    assert (data["level"], data["total"]) == ("departement", 1)
    assert [(c["code"], c["name"], c["count"]) for c in data["counts"]] == [
        ("01", "Ain", 0),
        ("69", "Rhône", 1),
    ]
    communes = json.loads(cache.campaign(1).body(cache.index, "commune")[0])
    assert [(c["code"], c["name"], c["count"]) for c in communes["counts"]] == [
        ("69123", "Lyon", 1)
    ]
    # The ETag follows the content.
    assert cache.campaign(1).body(cache.index, "departement")[1] == etag
    cache.apply(1, "commune", "01053", 1)
    assert cache.campaign(1).body(cache.index, "departement")[1] != etag


def test_verified_maires_and_coverage_roll_up() -> None:
    from campaign.counts.cache import Register
    from campaign.register.officials import TerritoryOfficials

    cache = CountsCache(index())
    cache.register = Register.build(
        cache.index,
        [
            TerritoryOfficials("commune", "69123", 73, 1),
            TerritoryOfficials("commune", "01053", 39, 1),
            TerritoryOfficials("departement", "69", 14, 0),
        ],
    )
    # Lyon: 3 confirmed, 2 verified of which 1 maire; Bourg-en-Bresse: 1 confirmed, not verified.
    cache.apply(1, "commune", "69123", 3, 2, 1)
    cache.apply(1, "commune", "01053", 1, 0, 0)
    data = json.loads(cache.body(1, "region")[0])
    assert (data["total"], data["verified"], data["communes_signed"]) == (4, 2, 2)
    assert (data["maires"], data["maires_signed"], data["coverage"]) == (2, 1, 0.5)
    [region] = data["counts"]
    assert region["officials"] == 73 + 39 + 14
    assert (region["maires"], region["maires_signed"], region["coverage"]) == (2, 1, 0.5)
    assert (region["verified"], region["communes_signed"]) == (2, 2)
    departements = {c["code"]: c for c in json.loads(cache.body(1, "departement")[0])["counts"]}
    assert departements["69"]["coverage"] == 1.0
    assert departements["01"]["coverage"] == 0.0
    assert departements["69"]["officials"] == 73 + 14

    # A second verified maire signature in Lyon (a duplicate) does not count Lyon twice.
    cache.apply(1, "commune", "69123", 4, 3, 2)
    assert cache.coverage(1, "region", "84") == 0.5
    # Lyon's maire withdrawn: the commune no longer counts.
    cache.apply(1, "commune", "69123", 3, 2, 0)
    assert cache.coverage(1, "region", "84") == 0.0
    assert cache.campaign(1).metric("verified", "region", "84") == 2
    # Without a register there is no coverage to speak of.
    assert CountsCache(index()).coverage(1, "region", "84") is None
