"""Exports of the filtered signatories (CSV, XLSX), streamed from a server-side cursor.

Every cell a spreadsheet could take for a formula is neutralised (a leading apostrophe): a
signer named `=HYPERLINK(...)` must stay a name when an organiser opens the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, Final

import asyncpg

from campaign.core.db import Q
from campaign.core.frenchdates import PARIS
from campaign.moderation import xlsx
from campaign.moderation.filters import STATUS_LABELS, SignatoryFilter
from campaign.register import levels
from campaign.territories.index import TerritoryIndex
from campaign.territories.mandates import LABELS as MANDATE_LABELS

# What a spreadsheet may read as the start of a formula or a command (DDE): =, +, -, @, and the
# blanks some of them skip first (tab, CR, LF) or cut at (NUL).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00", "＝", "＋", "－", "＠")
HEADER: Final = (
    "id", "prénom", "nom", "adresse électronique", "mandat", "niveau", "code territoire",
    "territoire", "département", "région", "liste publique", "statut", "mis en avant",
    "élu·e vérifié·e", "code relais", "commentaire", "version de la lettre", "signée le",
    "confirmée le", "suspecte", "preuve", "mandat trouvé au RNE", "niveau de preuve",
)  # fmt: skip
# Issue 14: who proved the signer is the official declared (« élu·e vérifié·e »), and the level
# in the words of every surface (campaign/register/levels.py). Columns are only ever appended.
PROOF_LABELS: Final = levels.PROOF_NAMES
CURSOR_PREFETCH = 1000


def neutralise(value: str) -> str:
    """Text a spreadsheet will show as text: a cell that could start a formula gets a `'`.

    Leading spaces are looked through too: some spreadsheets trim them when they import.
    """
    if value.startswith(_FORMULA_START) or value.lstrip(" \u00a0").startswith(_FORMULA_START):
        return "'" + value
    return value


def _when(moment: datetime | None) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") if moment else ""


def export_row(r: Any) -> list[str | int]:
    values: list[str | int] = [r["id"]]
    texts = [
        r["given_name"],
        r["family_name"],
        r["email"] or "",  # erased (withdrawn, anonymised): none
        MANDATE_LABELS.get(r["mandate"], r["mandate"]),
        r["territory_level"],
        r["territory_code"],
        r["territory_name"],
        r["departement"] or "",
        r["region"] or "",
        "oui" if r["public"] else "non",
        STATUS_LABELS.get(r["status"], r["status"]),
        "oui" if r["featured"] else "non",
        "oui" if r["verified"] else "non",
        r["ref"] or "",
        r["comment"] or "",
    ]
    values += [neutralise(t) for t in texts]
    values += [r["letter_version"], _when(r["created_at"]), _when(r["confirmed_at"])]
    values.append("oui" if r["suspect"] else "non")  # not counted nor listed until cleared
    proof = r.get("proof")
    values.append(PROOF_LABELS.get(proof, proof) if proof else "")
    values.append("oui" if r.get("register_match") else "non")
    values.append(levels.level_label(r))
    return values


async def rows(
    conn: asyncpg.Connection,
    campaign_id: int,
    f: SignatoryFilter,
    index: TerritoryIndex | None,
) -> AsyncIterator[list[str | int]]:
    """The filtered signatories, read through a server-side cursor (a transaction is opened)."""
    args = f.sql_args(campaign_id, index, with_email=True)
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        cursor = conn.cursor(Q["admin_signatories_export"], *args, prefetch=CURSOR_PREFETCH)
        async for record in cursor:
            yield export_row(record)


class _Line:
    """A file for csv.writer that hands back what was written."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def take(self) -> str:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text


async def csv_chunks(
    source: AsyncIterator[list[str | int]], *, batch: int = 500
) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM (spreadsheets then read the accents right), `;` separated (French
    spreadsheets), every field quoted, CRLF line ends."""
    out = _Line()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield ("\ufeff" + out.take()).encode()
    pending = 0
    async for row in source:
        writer.writerow(row)
        pending += 1
        if pending >= batch:
            yield out.take().encode()
            pending = 0
    yield out.take().encode()


async def xlsx_chunks(source: AsyncIterator[list[str | int]]) -> AsyncIterator[bytes]:
    stream = xlsx.XlsxStream("Signataires")
    first = stream.add(HEADER)
    if first:
        yield first
    async for row in source:
        if chunk := stream.add(row):
            yield chunk
    yield stream.close()


def csv_text(all_rows: Iterable[list[str | int]]) -> str:
    """The same CSV, at once (tests and small exports)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(all_rows)
    return "\ufeff" + out.getvalue()
