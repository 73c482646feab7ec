"""What the published letter costs to build, at the scale of the launch (issue 7).

    .venv/bin/python bench/publication.py [--names 10000] [--repeat 3]

No database: N synthetic listed signatories (fixed seed) spread over the real communes
(campaign/data/territories.csv.gz), a quarter verified, a few featured. Measures, each the best
of `--repeat` runs: grouping by région and département and rendering the list's HTML (what the
letter page embeds; raw and gzipped size), the PDF of the letter with every name (fpdf2), the
map's SVG and its PNG (resvg). These are what campaign/publication/letter.py builds once per
change and serves from memory; a request for a file that has not changed costs a dictionary
lookup.
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaign.core.resources import DEMO_CAMPAIGNS
from campaign.letter.campaigns import parse_campaign_file, render_letter
from campaign.publication import files
from campaign.publication.letter import render_listing
from campaign.publication.listing import ListedSignatory, Listing, group
from campaign.territories.index import TerritoryIndex, read_vendored
from campaign.territories.map import render_map

try:  # a test dependency: counts the PDF's pages when installed
    from pypdf import PdfReader
except ImportError:  # pragma: no cover
    PdfReader = None

T = TypeVar("T")
GIVEN = ["Anne", "Jean-Pierre", "Zoé", "Éric", "Maëlle", "François", "Chloé", "Loïc", "Inès"]
FAMILY = ["Martin", "Lefèvre", "N’Diaye", "Dupont-Aignan", "Le Gall", "Œuvrard", "Müller"]


def best(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - start)
    assert result is not None
    return min(timings), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    index = TerritoryIndex(read_vendored())
    communes = index.all("commune")
    rows = []
    for i in range(args.names):
        c = rng.choice(communes)
        rows.append(
            ListedSignatory(
                given_name=rng.choice(GIVEN),
                family_name=f"{rng.choice(FAMILY)} {i}",
                mandate=rng.choice(["maire", "adjoint", "conseiller_municipal"]),
                territory_level="commune",
                territory_code=c.code,
                confirmed_at=datetime.now(UTC),
                featured=rng.random() < 0.002,
                verified=rng.random() < 0.25,
                region=c.region,
                departement=c.departement,
            )
        )
    campaign = parse_campaign_file(DEMO_CAMPAIGNS / "jouer-collectif.md")

    t_list, listing = best(
        args.repeat,
        lambda: (lambda g: Listing(g, len(rows), "x", render_listing(g, len(rows))))(
            group(rows, index)
        ),
    )
    html = str(listing.html).encode()
    t_pdf, pdf = best(
        args.repeat,
        lambda: files.letter_pdf(
            title=campaign.title,
            addressees=campaign.addressees,
            letter_html=render_letter(campaign.body),
            published_on="8 juillet 2027",
            total=int(args.names * 1.25),
            listing=listing,
        ),
    )
    values = {t.code: float(rng.randint(0, 300)) for t in index.all("departement")}
    labels = {t.code: t.name for t in index.all("departement")}
    svg = str(render_map("departement", values, labels, title="Carte", legend_title="Signatures"))
    t_png, png = best(args.repeat, lambda: files.map_png(svg))
    pages = len(PdfReader(io.BytesIO(pdf)).pages) if PdfReader else "?"
    print(f"names: {args.names:,}; best of {args.repeat}")
    print(
        f"list grouped + HTML: {t_list * 1000:.0f} ms, {len(html) / 1e6:.2f} MB "
        f"({len(gzip.compress(html)) / 1e3:.0f} KB gzipped)"
    )
    print(f"PDF: {t_pdf:.2f} s, {len(pdf) / 1e6:.2f} MB, {pages} pages")
    size = len(svg.encode()) / 1e3
    print(f"map: SVG {size:.0f} KB; PNG {t_png * 1000:.0f} ms, {len(png) / 1e3:.0f} KB")


if __name__ == "__main__":
    main()
