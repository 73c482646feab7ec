"""The in-memory counts: roll-up from commune to département and région, idempotent updates."""

from __future__ import annotations

import json

from campaign.counts import CountsCache
from campaign.territories import Territory, TerritoryIndex


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
    assert data == {
        "level": "departement",
        "total": 1,
        "counts": [
            {"code": "01", "name": "Ain", "count": 0},
            {"code": "69", "name": "Rhône", "count": 1},
        ],
    }
    communes = json.loads(cache.campaign(1).body(cache.index, "commune")[0])
    assert communes["counts"] == [{"code": "69123", "name": "Lyon", "count": 1}]
    # The ETag follows the content.
    assert cache.campaign(1).body(cache.index, "departement")[1] == etag
    cache.apply(1, "commune", "01053", 1)
    assert cache.campaign(1).body(cache.index, "departement")[1] != etag
