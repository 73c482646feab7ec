"""Build campaign/data/fonts/*.ttf, the fonts of the published letter (PDF) and of the map's PNG:
DejaVu Sans 2.37 (regular, bold, oblique, bold oblique), cut down to the scripts that names of
French elected officials use (Latin with its extensions and combining accents, Greek, Cyrillic)
and the punctuation of French typography, so that the four weigh about 700 KB instead of 2.7 MB.

    .venv/bin/python scripts/subset_fonts.py [--source /usr/share/fonts/truetype/dejavu]

The source is Debian's `fonts-dejavu-core` (or the upstream release, same files). Vendored rather
than read from the system so that a fresh machine with Python only draws the same PDF and PNG.
Licence: Bitstream Vera, DejaVu changes in the public domain (campaign/data/fonts/LICENSE).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "campaign" / "data" / "fonts"
FACES = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique")
UNICODES = (
    "U+0020-007E,U+00A0-024F,U+0259,U+02B0-02FF,U+0300-036F,U+0370-03FF,U+0400-052F,"
    "U+1E00-1EFF,U+2000-206F,U+20A0-20BF,U+2100-214F,U+2190-21FF,U+2212,U+2713,U+2714,"
    "U+25A1,U+FFFD"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("/usr/share/fonts/truetype/dejavu"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for face in FACES:
        subset.main(
            [
                str(args.source / f"{face}.ttf"),
                f"--unicodes={UNICODES}",
                "--layout-features=*",
                "--drop-tables+=FFTM",
                f"--output-file={OUT / f'{face}.ttf'}",
            ]
        )
        print(f"{face}.ttf: {(OUT / f'{face}.ttf').stat().st_size} bytes")


if __name__ == "__main__":
    main()
