"""The map of France as the public pages show it: from the counts in memory, with the hooks that
`static/live.js` uses to recolour it when the counts change (see `campaign/map.py`).

Two measures: `signatures` (confirmed signatures, rolled up) and `maires` (the share of the
territory's maires in the register whose signature was verified; offered once the register is
loaded). The map is wrapped in `<div class="carte-wrap" data-measure data-unit>`: `data-measure`
is the field of the live events to colour by (`count` or `coverage`).
"""

from __future__ import annotations

from typing import Literal

from markupsafe import Markup

from campaign.runtime import Runtime
from campaign.territories.map import Level, french_percent, render_legend, render_map

Measure = Literal["signatures", "maires"]
MEASURES: dict[str, str] = {
    "signatures": "Signatures confirmées",
    "maires": "Part des maires signataires",
}
LEVELS: dict[str, str] = {"departement": "Par département", "region": "Par région"}


def territory_url(level: str, code: str) -> str:
    return f"/territoires/{level}/{code}"


def france_map(
    runtime: Runtime,
    campaign_id: int,
    level: Level = "departement",
    measure: Measure = "signatures",
    *,
    element_id: str | None = None,
    links: bool = True,
) -> Markup:
    labels = {t.code: t.name for t in runtime.index.all(level)}
    place = "département" if level == "departement" else "région"
    values = runtime.counts.map_values(campaign_id, level, measure)
    if measure == "maires":
        svg = render_map(
            level,
            values,
            labels,
            title=f"Part des maires signataires par {place}",
            legend_title="Maires signataires",
            value_format=french_percent,
            link=(lambda code: territory_url(level, code)) if links else None,
            element_id=element_id,
        )
        legend = render_legend(
            values, legend_title="Maires signataires", value_format=french_percent
        )
        return Markup('<div class="carte-wrap" data-measure="coverage">{}{}</div>').format(
            svg, legend
        )
    svg = render_map(
        level,
        values,
        labels,
        title=f"Signatures par {place}",
        legend_title="Signatures confirmées",
        unit=("signature", "signatures"),
        link=(lambda code: territory_url(level, code)) if links else None,
        element_id=element_id,
    )
    legend = render_legend(values, legend_title="Signatures confirmées")
    return Markup(
        '<div class="carte-wrap" data-measure="count" data-unit="signature|signatures">{}{}</div>'
    ).format(svg, legend)
