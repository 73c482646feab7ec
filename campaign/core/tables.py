"""Tables exported by spreadsheets and administrations (CSV): their encoding, their headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_BOM = b"\xef\xbb\xbf"


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, what French spreadsheets and older files
    of the administration write (its five undefined bytes become U+FFFD)."""
    data = data.removeprefix(_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def find_columns(header: list[str], spellings: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Each field's column: the first header that is one of its spellings (a field none of the
    headers spells is left out)."""
    columns: dict[str, int] = {}
    for field, names in spellings.items():
        for position, name in enumerate(header):
            if name in names and field not in columns:
                columns[field] = position
    return columns
