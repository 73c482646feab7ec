"""The map of France: vendored outlines, the server-side SVG, its colour classes and legend."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from campaign.territories.index import read_vendored
from campaign.territories.map import (
    DATA_FILE,
    NEUTRAL,
    PALETTE,
    ColorClass,
    class_label,
    color_classes,
    color_for,
    french_number,
    french_percent,
    load,
    render_map,
)

SVG = "{http://www.w3.org/2000/svg}"
OVERSEAS = {"971", "972", "973", "974", "976"}
OVERSEAS_REGIONS = {"01", "02", "03", "04", "06"}


@pytest.fixture(scope="module")
def territories() -> dict[str, dict[str, str]]:
    """Names by code, per level."""
    names: dict[str, dict[str, str]] = {"departement": {}, "region": {}}
    for t in read_vendored():
        if t.level in names:
            names[t.level][t.code] = t.name
    return names


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def paths(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("data-code")]


def by_code(root: ET.Element, in_zoom: bool = False) -> dict[str, ET.Element]:
    zoom = {id(p) for g in root.iter(f"{SVG}g") if g.get("class") == "carte-zoom" for p in g.iter()}
    return {p.get("data-code", ""): p for p in paths(root) if (id(p) in zoom) == in_zoom}


def luminance(color: str) -> float:
    r, g, b = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def points(d: str) -> list[tuple[int, int]]:
    """Absolute vertices of our path data (`M x y l dx dy … z` subpaths)."""
    assert re.fullmatch(r"(M-?\d+ -?\d+l-?\d+(?: ?-?\d+)*z)+", d), d[:80]
    out = []
    for sub in re.findall(r"M([^l]+)l([^z]+)z", d):
        x, y = map(int, sub[0].split())
        out.append((x, y))
        deltas = [int(n) for n in re.findall(r"-?\d+", sub[1])]
        assert len(deltas) % 2 == 0
        for dx, dy in zip(deltas[::2], deltas[1::2], strict=True):
            x, y = x + dx, y + dy
            out.append((x, y))
    return out


def render_departements(
    values: dict[str, float], labels: dict[str, str], **kwargs: object
) -> ET.Element:
    svg = render_map(
        "departement",
        values,
        labels,
        title="Signatures par département",
        legend_title="Signatures",
        unit=("signature", "signatures"),
        **kwargs,  # type: ignore[arg-type]
    )
    return parse(str(svg))


# The vendored outlines


def test_every_territory_has_an_outline(territories: dict[str, dict[str, str]]) -> None:
    data = load()
    assert set(data.departement) == set(territories["departement"])
    assert len(data.departement) == 101
    assert {"2A", "2B", *OVERSEAS} <= set(data.departement)
    assert set(data.region) == set(territories["region"])
    assert len(data.region) == 18
    assert set(data.zoom.departement) == {"75", "92", "93", "94"}
    assert [f.code for f in data.frames] == sorted(OVERSEAS)


def test_vendored_file_is_small() -> None:
    assert DATA_FILE.stat().st_size < 100_000


def test_outlines_lie_where_they_should() -> None:
    """Mainland inside the viewBox and out of the frames; each overseas one in its frame."""
    data = load()
    _, _, width, height = data.view_box
    boxes = [(f.x, f.y, f.x + f.width, f.y + f.height) for f in data.frames]
    z = data.zoom
    boxes.append((z.x, z.y, z.x + z.width, z.y + z.height))
    lg = data.legend
    boxes.append((lg.x, lg.y, lg.x + lg.width, lg.y + lg.height))

    def inside(p: tuple[int, int], box: tuple[int, int, int, int]) -> bool:
        return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]

    frames = {f.code: (f.x, f.y, f.x + f.width, f.y + f.height) for f in data.frames}
    for code, d in data.departement.items():
        pts = points(d)
        assert all(0 <= x <= width and 0 <= y <= height for x, y in pts), code
        if code in frames:
            assert all(inside(p, frames[code]) for p in pts), code
        else:
            assert not any(inside(p, box) for p in pts for box in boxes), code
    zoom_box = (z.x, z.y, z.x + z.width, z.y + z.height)
    for code, d in z.departement.items():
        assert all(inside(p, zoom_box) for p in points(d)), code


def test_regions_follow_departement_borders() -> None:
    """A région's vertices are vertices of its départements: simplified once, borders shared."""
    data = load()
    dep_region = {t.code: t.region for t in read_vendored() if t.level == "departement"}
    for region, d in data.region.items():
        theirs = {
            p for dep, r in dep_region.items() if r == region for p in points(data.departement[dep])
        }
        assert set(points(d)) <= theirs, region


def test_neighbours_share_their_border() -> None:
    """Rhône and Ain meet along the same vertices (no gap, no overlap between them)."""
    data = load()
    shared = set(points(data.departement["69"])) & set(points(data.departement["01"]))
    assert len(shared) >= 10


# Rendering


def test_svg_is_well_formed_accessible_and_complete(territories: dict[str, dict[str, str]]) -> None:
    labels = territories["departement"]
    root = render_departements({"69": 12}, labels)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 1000 1009"
    title, desc = root[0], root[1]
    assert title.tag == f"{SVG}title" and title.text == "Signatures par département"
    assert desc.tag == f"{SVG}desc"
    assert "par département" in (desc.text or "") and "outre-mer" in (desc.text or "")
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    main = by_code(root)
    assert set(main) == set(labels)
    for code, path in main.items():
        assert path.get("data-level") == "departement"
        assert path.get("data-label") == labels[code]
        assert path.get("fill-rule") is None  # set once on the group
        assert path.find(f"{SVG}title") is not None
    assert set(by_code(root, in_zoom=True)) == {"75", "92", "93", "94"}
    rhone = main["69"].find(f"{SVG}title")
    assert rhone is not None and rhone.text == "Rhône : 12 signatures"
    ain = main["01"].find(f"{SVG}title")
    assert ain is not None and ain.text == "Ain : 0 signature"
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"Guadeloupe", "Martinique", "Guyane", "La Réunion", "Mayotte"} <= texts
    assert "Paris et petite couronne" in texts
    assert any("IGN" in (t or "") for t in texts)


def test_region_map(territories: dict[str, dict[str, str]]) -> None:
    svg = str(
        render_map(
            "region",
            {"84": 0.25, "11": 0.5, "94": 0.125},
            territories["region"],
            title="Part des maires signataires",
            legend_title="Part des maires ayant signé",
            value_format=french_percent,
        )
    )
    root = parse(svg)
    main = by_code(root)
    assert set(main) == set(territories["region"])
    assert not by_code(root, in_zoom=True)
    assert all(p.get("data-level") == "region" for p in main.values())
    title = main["94"].find(f"{SVG}title")
    assert title is not None and title.text == "Corse : 12,5\u202f%"
    assert len(svg.encode()) < 40_000


def test_labels_and_links_are_escaped() -> None:
    nasty = "<script>alert('x')</script> & \"Cie\""
    root = render_departements(
        {"69": 3},
        {"69": nasty},
        link=lambda code: f"/territoires/{code}?a=1&b=<x>",
        element_id='x"><script>',
    )
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    rhone = by_code(root)["69"]
    assert rhone.get("data-label") == nasty
    title = rhone.find(f"{SVG}title")
    assert title is not None and title.text == f"{nasty} : 3 signatures"
    links = [a for a in root.iter(f"{SVG}a") if a.find(f"{SVG}path") is not None]
    assert len(links) == 101 + 4  # the Paris zoom links too
    assert {a.get("href") for a in links if a[0].get("data-code") == "69"} == {
        "/territoires/69?a=1&b=<x>"
    }
    assert all(a.get("tabindex") == "-1" for a in links)
    assert root[0].get("id") == 'x"><script>-titre'


def test_colours_follow_values(territories: dict[str, dict[str, str]]) -> None:
    codes = sorted(territories["departement"])
    values = {code: float(i * i) for i, code in enumerate(codes)}  # 0 … 10,000, skewed
    root = render_departements(values, territories["departement"])
    main = by_code(root)
    assert main[codes[0]].get("fill") == NEUTRAL
    fills = [main[code].get("fill") or "" for code in codes[1:]]
    assert set(fills) == set(PALETTE)
    darkness = [luminance(f) for f in fills]
    assert darkness == sorted(darkness, reverse=True)  # higher value, darker (or same) class
    assert fills[-1] == PALETTE[-1]
    assert luminance(NEUTRAL) > luminance(PALETTE[0])
    # The zoomed copies have the same colour as the mainland ones.
    for code, path in by_code(root, in_zoom=True).items():
        assert path.get("fill") == main[code].get("fill")
    # What the browser needs to recolour live: the same classes, as JSON.
    classes = [ColorClass(*c) for c in json.loads(root.get("data-classes") or "")]
    assert classes == color_classes(values.values())
    assert root.get("data-neutral") == NEUTRAL
    for code in codes:
        assert main[code].get("fill") == color_for(values[code], classes)
        assert float(main[code].get("data-value") or "") == values[code]


def test_legend_lists_the_classes(territories: dict[str, dict[str, str]]) -> None:
    values = {code: float(i) for i, code in enumerate(sorted(territories["departement"]))}
    root = render_departements(values, territories["departement"])
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "carte-legende")
    texts = [t.text for t in legend.iter(f"{SVG}text")]
    classes = color_classes(values.values())
    assert len(classes) == 6
    assert texts == ["Signatures", "0", *(class_label(i, classes) for i in range(6))]
    assert (texts[-1] or "").endswith(" et plus")
    colours = [r.get("fill") for r in legend.iter(f"{SVG}rect")]
    assert colours == [NEUTRAL, *PALETTE]
    desc = root[1].text or ""
    assert all(class_label(i, classes) in desc for i in range(6))


def test_no_signature_yet(territories: dict[str, dict[str, str]]) -> None:
    root = render_departements({}, territories["departement"])
    assert {p.get("fill") for p in paths(root)} == {NEUTRAL}
    assert root.get("data-classes") == "[]"
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "carte-legende")
    assert [t.text for t in legend.iter(f"{SVG}text")] == ["Signatures", "0"]


def test_size_budget(territories: dict[str, dict[str, str]]) -> None:
    labels = {c: f"{n} ({c})" for c, n in territories["departement"].items()}
    svg = render_map(
        "departement",
        {c: 1234.0 for c in labels},
        labels,
        title="Signatures par département",
        legend_title="Nombre de signatures",
        unit=("signature", "signatures"),
        link=lambda c: f"/territoires/departement/{c}",
    )
    assert len(str(svg).encode()) < 120_000


def test_rendering_is_deterministic(territories: dict[str, dict[str, str]]) -> None:
    def once() -> str:
        return str(
            render_map(
                "departement",
                {"13": 5, "75": 40},
                territories["departement"],
                title="t",
                legend_title="l",
            )
        )

    assert once() == once()


# Classes and formats


def test_color_classes_round_breaks() -> None:
    values = [0, 0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597]
    classes = color_classes(values)
    # Quantiles 3, 13, 55, 144, 610, rounded to 3, 15, 60, 150, 600.
    assert [c.low for c in classes] == [1, 3, 15, 60, 150, 600]
    assert [c.high for c in classes] == [3, 15, 60, 150, 600, 1597]
    assert [c.color for c in classes] == list(PALETTE)
    assert [class_label(i, classes) for i in range(6)] == [
        "1 à 2",
        "3 à 14",
        "15 à 59",
        "60 à 149",
        "150 à 599",
        "600 et plus",
    ]
    assert color_for(0, classes) == NEUTRAL
    assert color_for(-1, classes) == NEUTRAL
    assert color_for(float("nan"), classes) == NEUTRAL
    assert color_for(1, classes) == PALETTE[0]
    assert color_for(59, classes) == PALETTE[2]
    assert color_for(60, classes) == PALETTE[3]
    assert color_for(2.5, classes) == PALETTE[0]
    assert color_for(100_000, classes) == PALETTE[-1]  # counts grow live past the max


def test_color_classes_few_values() -> None:
    assert color_classes([]) == []
    assert color_classes([0, 0]) == []
    one = color_classes([0, 1, 1, 1])
    assert one == [ColorClass(1, 1, PALETTE[3])]
    assert class_label(0, one) == "1 et plus"
    assert color_for(5, one) == PALETTE[3]
    # Counts start at 1: the first class says so, even when nobody is that low yet.
    same = color_classes([0, 7, 7, 7])
    assert [(c.low, c.high) for c in same] == [(1, 7), (7, 7)]
    assert [class_label(i, same) for i in range(2)] == ["1 à 6", "7 et plus"]
    assert color_for(7, same) == PALETTE[-1]
    two = color_classes([1, 1, 1, 50])
    assert len(two) >= 2
    assert two[0].color == PALETTE[0] and two[-1].color == PALETTE[-1]


def test_color_classes_for_shares() -> None:
    shares = [0.0, 0.004, 0.01, 0.02, 0.05, 0.08, 0.1, 0.12, 0.2, 0.3, 0.45, 0.6, 0.9]
    classes = color_classes(shares)
    lows = [c.low for c in classes]
    assert lows == sorted(set(lows)) and lows[0] == 0.004
    labels = [class_label(i, classes, french_percent) for i in range(len(classes))]
    assert labels[0].startswith("moins de ")
    assert labels[-1].endswith("\u202f% et plus")
    assert color_for(0.9, classes) == PALETTE[-1]
    assert color_for(0.001, classes) == PALETTE[0]


def test_french_formats() -> None:
    assert french_number(0) == "0"
    assert french_number(12) == "12"
    assert french_number(1234567.0) == "1\u202f234\u202f567"
    assert french_number(0.25) == "0,25"
    assert french_number(2.5) == "2,5"
    assert french_percent(0.125) == "12,5\u202f%"
    assert french_percent(0.5) == "50\u202f%"


def test_only_departements_and_regions() -> None:
    with pytest.raises(ValueError):
        render_map("commune", {}, {}, title="t", legend_title="l")  # type: ignore[arg-type]
