"""Régions, départements and communes: the vendored INSEE list, loading it, matching what is typed.

The list is vendored (campaign/data/territories.csv.gz, see campaign/data/README.md) rather than
fetched at start-up: the service must start offline and every process must see the same
territories.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import logging
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from importlib.resources.abc import Traversable

import asyncpg
import msgspec

from campaign.core import resources
from campaign.core.db import Q, convert_all

log = logging.getLogger(__name__)

DATA_FILE = resources.DATA / "territories.csv.gz"
PARTS_FILE = resources.DATA / "commune_parts.csv.gz"
LEVELS = ("region", "departement", "commune")
MAX_CANDIDATES = 10
SUGGESTIONS = 8  # as many as the form's autocomplete shows (static/territory.js)
_COLUMNS = ["level", "code", "name", "departement", "region", "population", "postal_codes"]


class Territory(msgspec.Struct, frozen=True, kw_only=True):
    level: str
    code: str
    name: str
    departement: str | None
    region: str | None
    population: int | None
    postal_codes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return territory_label(self.level, self.code, self.name, self.departement)


def territory_label(level: str, code: str, name: str, departement: str | None) -> str:
    """Unique per level: 4 communes are named Saint-Martin, one per département."""
    if level == "commune":
        return f"{name} ({departement})"
    if level == "departement":
        return f"{name} ({code})"
    return name


class Resolution(msgspec.Struct, frozen=True):
    """What a typed text designates: `territory` when exactly one, else the candidates to offer.

    Found: territory set, candidates == [territory]. Ambiguous: territory None, several candidates,
    most populated first (or, from `suggest`, one or more close matches). Not found: territory
    None, no candidates.
    """

    territory: Territory | None = None
    candidates: list[Territory] = msgspec.field(default_factory=list)

    @property
    def ambiguous(self) -> bool:
        return self.territory is None and bool(self.candidates)


def _read_csv(path: Traversable) -> list[dict[str, str]]:
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_vendored(path: Traversable = DATA_FILE) -> list[Territory]:
    return [
        Territory(
            level=row["level"],
            code=row["code"],
            name=row["name"],
            departement=row["departement"] or None,
            region=row["region"] or None,
            population=int(row["population"]) if row["population"] else None,
            postal_codes=tuple(row["postal_codes"].split()),
        )
        for row in _read_csv(path)
    ]


class CommunePart(msgspec.Struct, frozen=True, kw_only=True):
    """An arrondissement (Paris, Lyon, Marseille) or a commune déléguée / associée: not a commune,
    but what people may give as theirs; it stands for the commune it belongs to."""

    type: str
    code: str
    name: str
    parent_commune: str


def read_parts(path: Traversable = PARTS_FILE) -> list[CommunePart]:
    return msgspec.convert(_read_csv(path), list[CommunePart])


async def load_territories(conn: asyncpg.Connection, path: Traversable = DATA_FILE) -> int:
    """Make the table match the file, in one transaction; returns the number of rows in the file.

    Upserting from a staging copy, rather than truncating, keeps the rows that signatures point at
    (foreign key) and lets every process run it at start-up.
    """
    rows = [
        (t.level, t.code, t.name, t.departement, t.region, t.population, list(t.postal_codes))
        for t in read_vendored(path)
    ]
    async with conn.transaction():
        await conn.execute(Q["territories_lock"])
        await conn.execute(Q["territories_create_staging"])
        await conn.copy_records_to_table("territories_staging", records=rows, columns=_COLUMNS)
        changed = _status_count(await conn.execute(Q["territories_upsert"]))
        deleted = _status_count(await conn.execute(Q["territories_delete_stale"]))
        kept = await conn.fetch(Q["territories_stale_kept"])
    log.info(
        "territories: %d in file, %d inserted or updated, %d deleted", len(rows), changed, deleted
    )
    if kept:
        log.warning(
            "territories: %d no longer in the file kept for their signatures: %s",
            len(kept),
            ", ".join(f"{r['level']} {r['code']}" for r in kept[:20]),
        )
    return len(rows)


def _status_count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def territories_count(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(Q["territories_count"])
    return count


async def all_territories(conn: asyncpg.Connection) -> list[Territory]:
    return convert_all(await conn.fetch(Q["territories_all"]), Territory)


_ACCENTS = re.compile(r"[\u0300-\u036f]")
_SEPARATORS = re.compile(r"[\W_]+")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte"}


def normalize(text: str) -> str:
    """A matching key: the ways people type a name ("st etienne", "SAINT-ÉTIENNE") give the same."""
    return _normalize(text, expand=True)


def _normalize(text: str, *, expand: bool) -> str:
    text = _ACCENTS.sub("", unicodedata.normalize("NFKD", text)).casefold()
    text = text.replace("œ", "oe").replace("æ", "ae")
    words = _SEPARATORS.sub(" ", text).split()
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words) if expand else " ".join(words)


_LABEL = re.compile(r"(.+?)\s*\(\s*(\d{2,3}|2[AB])\s*\)", re.IGNORECASE)
_CODE_LIKE = re.compile(r"\d{1,5}|2[AB]\d{0,3}", re.IGNORECASE)


class _Level:
    """One level's territories, laid out so that a search touches C loops rather than Python ones.

    Territories are ranked by population; `blob` holds their normalized names in rank order,
    one per line, so that `str.find` walks them best first and a search stops after `limit` hits.
    """

    def __init__(
        self, territories: list[Territory], aliases: dict[str, list[str]] | None = None
    ) -> None:
        """`aliases`: the codes that other names (normalized) stand for (commune parts)."""
        self.ranked = sorted(territories, key=lambda t: (-(t.population or 0), t.code))
        self.by_code = {t.code: t for t in self.ranked}
        self.rank_of = {t.code: rank for rank, t in enumerate(self.ranked)}
        names = [normalize(t.name) for t in self.ranked]
        self.by_name: dict[str, list[int]] = {}
        for rank, name in enumerate(names):
            self.by_name.setdefault(name, []).append(rank)
        by_name = sorted((name, rank) for rank, name in enumerate(names))
        self.sorted_names = [name for name, _ in by_name]
        self.sorted_name_ranks = [rank for _, rank in by_name]
        by_postal = sorted((p, rank) for rank, t in enumerate(self.ranked) for p in t.postal_codes)
        self.sorted_postals = [p for p, _ in by_postal]
        self.sorted_postal_ranks = [rank for _, rank in by_postal]
        # Aliases come after every name: a part's name is found only when no commune's name is.
        self.alias_ranks: dict[str, list[int]] = {}
        for alias, codes in (aliases or {}).items():
            ranks = sorted({self.rank_of[code] for code in codes if code in self.rank_of})
            if ranks and alias not in self.by_name:
                self.alias_ranks[alias] = ranks
        # One blob entry per (alias, commune): a name two communes déléguées share finds both.
        alias_entries = [(a, r) for a, ranks in self.alias_ranks.items() for r in ranks]
        entries = names + [alias for alias, _ in alias_entries]
        self.entry_rank = list(range(len(names))) + [rank for _, rank in alias_entries]
        self.starts: list[int] = []
        offset = 1
        for name in entries:
            self.starts.append(offset)
            offset += len(name) + 1
        self.blob = "\n" + "\n".join(entries) + "\n"

    def named(self, key: str) -> list[Territory]:
        return [self.ranked[rank] for rank in self.by_name.get(key, [])]

    def with_postal_code(self, postal: str) -> list[Territory]:
        lo, hi = bisect_left(self.sorted_postals, postal), bisect_right(self.sorted_postals, postal)
        return [self.ranked[rank] for rank in sorted(self.sorted_postal_ranks[lo:hi])]

    def search(self, keys: list[str], code: str | None, limit: int) -> list[tuple[int, Territory]]:
        """(tier, territory), best first: exact, prefix, word prefix, then anywhere.

        Each tier is collected in rank order and only until `limit` hits, hence the early stops.
        """
        hits: dict[int, int] = {}  # rank -> best tier

        def add(tier: int, ranks: list[int]) -> None:
            for rank in ranks:
                hits[rank] = min(tier, hits.get(rank, tier))

        if code is not None:
            if code in self.rank_of:
                add(0, [self.rank_of[code]])
            lo = bisect_left(self.sorted_postals, code)
            hi = bisect_left(self.sorted_postals, code + "\uffff")
            ranks = set(self.sorted_postal_ranks[lo:hi])
            if len(code) == 5:
                add(0, [r for r in ranks if code in self.ranked[r].postal_codes])
            add(1, heapq.nsmallest(limit, ranks))
        for key in keys:
            add(0, self.by_name.get(key, []))
            add(1, self.alias_ranks.get(key, []))
            lo = bisect_left(self.sorted_names, key)
            hi = bisect_left(self.sorted_names, key + "\uffff")
            add(1, heapq.nsmallest(limit, self.sorted_name_ranks[lo:hi]))
            self._scan(" " + key, 2, hits, limit)
            self._scan(key, 3, hits, limit)
        best = sorted(((tier, self.ranked[rank]) for rank, tier in hits.items()), key=_order)
        return best[:limit]

    def _scan(self, needle: str, tier: int, hits: dict[int, int], limit: int) -> None:
        """Puts in `tier` the `limit` most populated names containing `needle` not already better.

        The blob is in population order, so past `limit` of them nothing else in this tier can
        make the cut.
        """
        found = 0
        position = self.blob.find(needle)
        while position >= 0 and found < limit:
            rank = self.entry_rank[bisect_right(self.starts, position) - 1]
            if hits.get(rank, tier + 1) > tier:
                hits[rank] = tier
                found += 1
            # Skip the rest of this name: a second occurrence in it would add nothing.
            position = self.blob.find(needle, self.blob.index("\n", position))


def _order(hit: tuple[int, Territory]) -> tuple[int, int, int, str]:
    tier, t = hit
    return tier, -(t.population or 0), LEVELS.index(t.level), t.code


class TerritoryIndex:
    """Every territory in memory: resolving a form field must not cost a query per keystroke."""

    def __init__(self, territories: list[Territory], parts: Sequence[CommunePart] = ()) -> None:
        communes = {t.code for t in territories if t.level == "commune"}
        # A part whose code is its commune's (584 communes déléguées) adds only a name.
        self._parts = {
            p.code: p.parent_commune
            for p in parts
            if p.parent_commune in communes and p.code not in communes
        }
        # Paris, Lyon, Marseille: their postal codes are their arrondissements' (13001 is Marseille
        # 1er, not Aix-en-Provence, whose INSEE code it also is).
        self._cities = {p.parent_commune for p in parts if p.type == "arrondissement-municipal"}
        aliases: dict[str, list[str]] = {}
        for p in parts:
            if p.parent_commune in communes:
                aliases.setdefault(normalize(p.name), []).append(p.parent_commune)
        self._levels = {
            level: _Level(
                [t for t in territories if t.level == level],
                aliases if level == "commune" else None,
            )
            for level in LEVELS
        }
        self._sorted = {
            level: sorted(index.ranked, key=lambda t: t.code)
            for level, index in self._levels.items()
        }

    @classmethod
    async def load(cls, conn: asyncpg.Connection) -> TerritoryIndex:
        return cls(await all_territories(conn), read_parts())

    def part_parent(self, code: str) -> Territory | None:
        """The commune an arrondissement or commune déléguée code (69383, 75112) belongs to."""
        parent = self._parts.get(code)
        return self.get("commune", parent) if parent else None

    def get(self, level: str, code: str) -> Territory | None:
        index = self._levels.get(level)
        return index.by_code.get(code) if index else None

    def ancestors(self, t: Territory) -> list[tuple[str, str]]:
        """Where a count rolls up to; none for the collectivités d'outre-mer, which have neither."""
        parents = [("departement", t.departement)] if t.level == "commune" else []
        if t.level != "region":
            parents.append(("region", t.region))
        return [(level, code) for level, code in parents if code and self.get(level, code)]

    def all(self, level: str) -> list[Territory]:
        return list(self._sorted.get(level, []))

    def resolve(self, level: str, text: str) -> Resolution:
        """What someone typed, for one level: a code, a name, a label, a commune's postal code.

        A five-digit text is both an INSEE code and a postal code, and 3,000 of them designate
        different communes either way (97411 is Saint-Denis, and a postal code of Saint-Paul):
        both readings become candidates. A code known for sure is looked up with `get`.
        """
        index = self._levels.get(level)
        text = text.strip()
        if index is None or not text:
            return Resolution()
        label = _LABEL.fullmatch(text)
        if label and level != "region":
            name, code = normalize(label[1]), label[2].upper()
            field = "departement" if level == "commune" else "code"
            found = [t for t in index.named(name) if getattr(t, field) == code]
            if found:
                return _resolution(found)
        found = []
        if _CODE_LIKE.fullmatch(text):
            code = _pad_code(level, text.upper())
            exact = index.by_code.get(code)
            if exact is None and level == "commune":
                exact = self.part_parent(code)
            found = [exact] if exact else []
            if level == "commune" and code.isdigit() and len(code) == 5:
                by_postal = index.with_postal_code(code)
                if len(by_postal) == 1 and by_postal[0].code in self._cities:
                    return _resolution(by_postal)  # an arrondissement's postal code
                found += [t for t in by_postal if t is not exact]
        key = normalize(text)
        named = index.named(key) or [index.ranked[r] for r in index.alias_ranks.get(key, [])]
        return _resolution(found or named)

    def suggest(self, level: str, text: str) -> Resolution:
        """`resolve`, and when nothing matches exactly, what the autocomplete would suggest
        ("saint-eti": the Saint-Étienne) as candidates: a form offers them rather than refusing."""
        resolution = self.resolve(level, text)
        if resolution.candidates or level not in LEVELS:
            return resolution
        return Resolution(candidates=self.search(text, level, SUGGESTIONS))

    def search(self, q: str, level: str | None = None, limit: int = 10) -> list[Territory]:
        """Suggestions while typing: names by prefix then substring, postal codes by prefix."""
        label = _LABEL.fullmatch(q.strip())
        if label:  # a label chosen before ("Saint-Martin (65)"): that territory first
            found = self.search(label[1], level, max(limit, 1) * 4)
            wanted = label[2].upper()
            first = [t for t in found if wanted in (t.departement, t.code)]
            return (first + [t for t in found if t not in first])[:limit]
        # "st" is typed on the way to "Strasbourg" as much as it abbreviates "saint".
        keys = [k for k in dict.fromkeys([normalize(q), _normalize(q, expand=False)]) if k]
        raw = q.strip()
        code = raw.upper() if _CODE_LIKE.fullmatch(raw) else None
        if limit <= 0 or not (keys or code):
            return []
        levels = LEVELS if level is None else (level,) if level in LEVELS else ()
        hits = [hit for lv in levels for hit in self._levels[lv].search(keys, code, limit)]
        parent = (
            self.part_parent(_pad_code("commune", code)) if code and "commune" in levels else None
        )
        if parent is not None:  # an arrondissement's code (69383): its commune first
            hits = [(0, parent)] + [(tier, t) for tier, t in hits if t is not parent]
        return [t for _, t in sorted(hits, key=_order)[:limit]]


def _pad_code(level: str, code: str) -> str:
    """Leading zeros get lost in spreadsheets: "1" is the Ain, "1053" a commune of it."""
    if code.isdigit() and level == "commune" and len(code) == 4:
        return "0" + code
    if code.isdigit() and level != "commune" and len(code) == 1:
        return "0" + code
    return code


def _resolution(found: list[Territory]) -> Resolution:
    if len(found) == 1:
        return Resolution(territory=found[0], candidates=found)
    return Resolution(candidates=sorted(found, key=lambda t: -(t.population or 0))[:MAX_CANDIDATES])
