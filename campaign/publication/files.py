"""The downloads of the published letter, built from values (no database, no request): the letter
with its signatories as PDF (fpdf2), the counts per territory as CSV and JSON, the map as SVG and
PNG (resvg). Pure functions, so that campaign/publication.py decides when to build and caches.

Why these libraries: fpdf2 and resvg-py install from PyPI as wheels that need no system package
(no Cairo, no Pango, no browser), and both are maintained. The fonts (DejaVu Sans,
campaign/data/fonts) are vendored so that a fresh machine draws the same PDF and PNG.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from importlib.resources import as_file

import msgspec
import resvg_py
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace, TextStyle

from campaign.core import resources
from campaign.counts.cache import CountsBody, TerritoryCount
from campaign.moderation.exports import neutralise
from campaign.publication.listing import Listed, Listing
from campaign.register import levels
from campaign.territories.mandates import LABELS as MANDATE_LABELS

FONTS_DIR = resources.DATA / "fonts"
FONT = "DejaVu"
FONT_FILES = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
PNG_WIDTH = 1600
# Issue 14: « vérifiés » are proven (town hall, official domain, organisers); the register
# matches and the declared maires follow, appended so that the first columns keep their place.
CSV_HEADER = (
    "niveau", "code", "nom", "signatures", "élus vérifiés", "élus au répertoire",
    "communes dont le maire est au répertoire", "maires signataires vérifiés",
    "part des maires signataires vérifiés", "communes signataires", "mandats trouvés au RNE",
    "maires signataires déclarés", "part des maires signataires déclarés",
)  # fmt: skip
LEVEL_NAMES = {"region": "région", "departement": "département", "commune": "commune"}

# fpdf2 logs the characters a font lacks: they would be pieces of names. We replace them first
# (see `_printable`), and keep its logger quiet in case one slips through.
logging.getLogger("fpdf").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


class CountsFile(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON download: the national totals and every level's counts, as the counts API."""

    campaign: str
    title: str
    published_at: datetime
    generated_at: datetime
    total: int
    verified: int
    register_match: int = 0
    maires: int
    maires_signed: int
    maires_declared: int = 0
    coverage: float | None
    coverage_declared: float | None = None
    regions: list[TerritoryCount]
    departements: list[TerritoryCount]
    communes: list[TerritoryCount]


_json = msgspec.json.Encoder()


def counts_json(
    slug: str, title: str, published_at: datetime, now: datetime, levels: dict[str, CountsBody]
) -> bytes:
    region = levels["region"]
    return _json.encode(
        CountsFile(
            campaign=slug,
            title=title,
            published_at=published_at,
            generated_at=now,
            total=region.total,
            verified=region.verified,
            register_match=region.register_match,
            maires=region.maires,
            maires_signed=region.maires_signed,
            maires_declared=region.maires_declared,
            coverage=region.coverage,
            coverage_declared=region.coverage_declared,
            regions=region.counts,
            departements=levels["departement"].counts,
            communes=levels["commune"].counts,
        )
    )


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}".replace(".", ",")


def counts_csv(levels: dict[str, CountsBody]) -> bytes:
    """`;`-separated, UTF-8 with a BOM (French spreadsheets); régions, départements, then the
    communes that have signatures; formulas neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for level in ("region", "departement", "commune"):
        for t in levels[level].counts:
            writer.writerow(
                [
                    LEVEL_NAMES[level],
                    neutralise(t.code),
                    neutralise(t.name),
                    t.count,
                    t.verified,
                    t.officials,
                    t.maires,
                    t.maires_signed,
                    _share(t.coverage),
                    t.communes_signed,
                    t.register_match,
                    t.maires_declared,
                    _share(t.coverage_declared),
                ]
            )
    return ("\ufeff" + out.getvalue()).encode()


def map_svg(svg: str) -> bytes:
    """The map as a file of its own (it is drawn by campaign/map.py, every text escaped)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n").encode()


@contextlib.contextmanager
def _font_files() -> Iterator[dict[str, str]]:
    """The four faces (style -> path) as files on disk, which fpdf2, resvg and fontTools need:
    the package's own files, or temporary copies while in use if the package is not a folder."""
    with contextlib.ExitStack() as stack:
        yield {
            style: str(stack.enter_context(as_file(FONTS_DIR / name)))
            for style, name in FONT_FILES.items()
        }


def map_png(svg: str) -> bytes:
    """The same map rasterised by resvg, on white, with the vendored fonts only."""
    return svg_png(svg, PNG_WIDTH)


def svg_png(svg: str, width: int) -> bytes:
    """An SVG rasterised by resvg at `width` pixels, on white, with the vendored fonts only."""
    with _font_files() as fonts:
        return bytes(
            resvg_py.svg_to_bytes(
                svg_string=svg,
                width=width,
                background="#ffffff",
                skip_system_fonts=True,
                font_files=list(fonts.values()),
                font_family=FONT + " Sans",
                sans_serif_family=FONT + " Sans",
            )
        )


@cache
def _covered() -> frozenset[int]:
    """The code points the vendored fonts draw (the same for the four faces)."""
    with _font_files() as fonts, TTFont(fonts[""]) as font:
        return frozenset(font.getBestCmap())


def _printable(text: str) -> str:
    """`text` with what the font cannot draw replaced: a letter the font lacks loses its accents
    when the font has the bare letter, otherwise it becomes « ? ». Control characters (but line
    breaks and tabs) become spaces."""
    covered = _covered()
    out = []
    for char in text:
        if ord(char) in covered or char in "\n\t":
            out.append(char)
        elif unicodedata.category(char).startswith("C"):
            out.append(" ")
        else:
            base = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in base if ord(c) in covered and c.isalnum()) or "?")
    return "".join(out)


class _LetterPdf(FPDF):
    title_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, f"{self.title_text} — page {self.page_no()}/{{nb}}", align="C")


def letter_pdf(
    *,
    title: str,
    addressees: str,
    letter_html: str,
    published_on: str,
    total: int,
    listing: Listing,
    mandate_labels: dict[str, str] = MANDATE_LABELS,
) -> bytes:
    """The letter, then its signatories by région and département, as a PDF (A4)."""
    with _font_files() as fonts:
        pdf = _LetterPdf(format="A4")
        pdf.title_text = _printable(title)
        pdf.set_title(_printable(title))
        pdf.set_author("Collectif « Jouer collectif »")
        pdf.set_creator("campaign")
        pdf.set_margins(18, 16, 18)
        pdf.set_auto_page_break(True, margin=18)
        for style, path in fonts.items():
            pdf.add_font(FONT, style, path)
        pdf.add_page()
        pdf.set_font(FONT, size=10)
        pdf.set_text_color(90, 90, 90)
        pdf.multi_cell(0, 5, _printable(addressees), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, "B", 20)
        pdf.multi_cell(0, 9, _printable(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "I", 11)
        noun = "signataire" if total < 2 else "signataires"
        pdf.multi_cell(
            0,
            6,
            f"Lettre publiée le {published_on} avec {_thousands(total)} {noun}.",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.ln(3)
        pdf.set_font(FONT, size=10.5)
        # The letter's HTML comes from campaign.campaigns (Markdown without raw HTML: escaped).
        pdf.write_html(
            _printable(letter_html),
            font_family=FONT,
            tag_styles=_TAG_STYLES,
            warn_on_tags_not_matching=False,
        )
        _signatories(pdf, total, listing, mandate_labels)
        return bytes(pdf.output())


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


def _signatories(pdf: FPDF, total: int, listing: Listing, mandate_labels: dict[str, str]) -> None:
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 8, "Les signataires", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    listed = listing.count
    hidden = max(0, total - listed)
    intro = (
        f"{_thousands(listed)} élu·es ont accepté que leur nom soit publié"
        if listed != 1
        else "1 élu·e a accepté que son nom soit publié"
    )
    if hidden:
        intro += f" ; {_thousands(hidden)} autres ont signé sans apparaître sur la liste"
    pdf.multi_cell(
        0,
        4.5,
        intro + ". " + levels.LEGEND,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    for region in listing.groups:
        pdf.ln(3)
        pdf.set_font(FONT, "B", 12)
        pdf.multi_cell(0, 6.5, _printable(region.label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for dep in region.departements:
            pdf.ln(1)
            pdf.set_font(FONT, "B", 9.5)
            pdf.multi_cell(0, 5, _printable(dep.label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font(FONT, size=8.5)
            for line in _lines(dep.people, mandate_labels):
                pdf.multi_cell(0, 4, _printable(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _lines(people: Iterable[Listed], mandate_labels: dict[str, str]) -> Iterable[str]:
    for s, t in people:
        place = t.name if t is not None else s.territory_code
        level = levels.level_of(s)
        mark = "" if level == "declared" else f" · {levels.level_label(s)}"
        mandate = mandate_labels.get(s.mandate, s.mandate)
        yield f"{s.given_name} {s.family_name}, {mandate} — {place}{mark}"


_HEADING = "#1f3a5f"
_TAG_STYLES = {
    "h1": TextStyle(color=_HEADING, font_size_pt=16, t_margin=5, b_margin=1),
    "h2": TextStyle(color=_HEADING, font_size_pt=13, t_margin=4, b_margin=1),
    "h3": TextStyle(color=_HEADING, font_size_pt=11.5, t_margin=3, b_margin=1),
    "code": FontFace(family=FONT),
    "pre": TextStyle(font_family=FONT, t_margin=2, b_margin=2),
}
