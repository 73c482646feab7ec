"""Names as matching keys: how a signer types a name and how the register writes it compare equal.

"Jean-Pierre", "JEAN PIERRE" and "jean-pierre" are one given name; "de Villepin", "DE VILLEPIN"
and "Villepin" one family name (particles de, du, des, d' are dropped); accents and case never
count. A given name keeps its hyphens in the key ("jean-pierre"): a hyphen joins one compound
name, a space separates forenames, and a signer may give only the first of several forenames.
"""

from __future__ import annotations

import re
import unicodedata

_ACCENTS = re.compile(r"[\u0300-\u036f]")
_APOSTROPHES = re.compile(r"[’'`´ʼ]")
_DASHES = re.compile(r"[‐‑‒–—]")
_HYPHENS = re.compile(r"\s*-+\s*")
_NOT_LETTERS = re.compile(r"[^a-z0-9\- ]+")
_PARTICLES = frozenset({"de", "du", "des", "d"})
# Articles dropped after a particle only ("de la Fontaine"): "Le Gall" keeps its "le".
_ARTICLES = frozenset({"la", "l", "le", "les"})


def _fold(text: str) -> str:
    text = _ACCENTS.sub("", unicodedata.normalize("NFKD", text)).casefold()
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    text = _APOSTROPHES.sub(" ", text)
    # Other characters become spaces before the hyphens take the spaces around them, so that a
    # key is its own key ("a:-b" → "a-b", not "a -b"; "0:-" → "0"): see tests/test_properties.py.
    text = _NOT_LETTERS.sub(" ", _DASHES.sub("-", text))
    text = _HYPHENS.sub("-", text)
    return " ".join(text.split()).strip("-")


def family_key(name: str) -> str:
    """ "Le Pen", "de la Fontaine" → "le pen", "fontaine"; hyphens count as spaces."""
    words = _fold(name).replace("-", " ").split()
    kept: list[str] = []
    after_particle = False
    for word in words:
        if word in _PARTICLES:
            after_particle = True
            continue
        if after_particle and word in _ARTICLES:
            continue
        after_particle = False
        kept.append(word)
    # A name that is only particles ("Du") is kept whole rather than emptied.
    return " ".join(kept) or " ".join(words)


def given_key(name: str) -> str:
    """ "Jean-Pierre" → "jean-pierre"; "Betty Véronique" → "betty veronique"."""
    return _fold(name)


def given_names_match(typed: str, registered: str) -> bool:
    """Same forenames (hyphen or space alike), or one list starts the other at a space.

    "jean pierre" matches "jean-pierre"; "betty" matches "betty veronique"; "jean" does not match
    "jean-pierre" (a compound name is one name).
    """
    if not typed or not registered:
        return False
    if typed.replace("-", " ") == registered.replace("-", " "):
        return True
    short, long = sorted((typed, registered), key=len)
    # The boundary must be a space in both spellings' longer one: "jean" is not "jean-pierre".
    return long.replace("-", " ").startswith(short.replace("-", " ")) and long[len(short)] == " "
