"""The map of France as the public pages show it: from the counts in memory, with the hooks that
`static/live.js` uses to recolour it when the counts change (see `campaign/map.py`).

Three measures: `signatures` (confirmed signatures, rolled up), `maires` (the share of the
territory's maires in the register whose signature was verified) and `maires_declared` (the share
whose signature is confirmed, proven or not); the shares are offered once the register is
loaded. The map is wrapped in `<div class="carte-wrap" data-measure data-unit>`: `data-measure`
is the field of the live events to colour by (`count`, `coverage` or
`coverage_declared`).
"""

from __future__ import annotations

from typing import Literal

from markupsafe import Markup

from campaign.register.levels import COUNT_LABELS
from campaign.runtime import Runtime
from campaign.territories.map import Level, french_percent, render_legend, render_map

Measure = Literal["signatures", "maires", "maires_declared"]
MEASURES: dict[str, str] = {
    "signatures": "Signatures confirmées",
    "maires": "Part des maires signataires vérifiés",
    "maires_declared": "Part des maires signataires déclarés",
}
# The field of the live events each share is coloured by (static/live.js).
_SHARE_FIELDS = {"maires": "coverage", "maires_declared": "coverage_declared"}
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
    if measure in _SHARE_FIELDS:
        legend_title = COUNT_LABELS[measure if measure != "maires" else "maires_signed"]
        svg = render_map(
            level,
            values,
            labels,
            title=f"{MEASURES[measure]} par {place}",
            legend_title=legend_title,
            value_format=french_percent,
            link=(lambda code: territory_url(level, code)) if links else None,
            element_id=element_id,
        )
        legend = render_legend(values, legend_title=legend_title, value_format=french_percent)
        return Markup('<div class="carte-wrap" data-measure="{}">{}{}</div>').format(
            _SHARE_FIELDS[measure], svg, legend
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
