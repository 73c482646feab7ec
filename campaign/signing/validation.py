"""The signing body, checked field by field so that every problem is reported at once, in French.

The API and the HTML form share these rules. Booleans are checked strictly: consent to be listed
must be a real `true`/`false`, never a string or a number a lax decoder would turn into `True`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated

import msgspec
from msgspec import Meta

from campaign.territories.index import LEVELS as TERRITORY_LEVELS
from campaign.territories.index import Territory, TerritoryIndex
from campaign.territories.mandates import (
    LABELS,
    LEVEL_NONE,
    LEVEL_WITH_ARTICLE,
    MANDATES,
    level_for,
)

NAME_MAX = 100
EMAIL_MAX = 254
COMMENT_MAX = 280

# ASCII only, local part a dot-atom (no leading, trailing or doubled dot), domain of DNS labels.
# Matched with `fullmatch` on what was typed, before lower-casing: `str.lower` maps some non-ASCII
# letters to ASCII ones (the Kelvin sign "K" becomes "k"), which would mail someone else.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL = re.compile(
    rf"(?=[^@]{{1,64}}@){_ATEXT}+(?:\.{_ATEXT}+)*@"
    r"(?=.{1,253}\Z)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_REF = re.compile(r"^[A-Za-z0-9_-]{1,40}$")

# What makes a name a link once an email client or a reader sees it: a scheme, `www.`, or a
# word followed by a dot and a common top-level domain (`x.com`, `bit.ly`, `exemple.fr/...`;
# not `de` nor `me`: `A.De Villiers` is a name). Names are
# read after NFKC folding, so that full-width or styled letters (`ｘ．ｃｏｍ`) count too.
_LINK_IN_NAME = re.compile(
    r"https?|://|www\.|[a-z0-9-]\.(?:com|net|org|fr|io|ly|co|info|biz|ru|xyz|app|dev|link|"
    r"site|online|eu|uk|ch|tk|gl|gd|cc|tv|gg|top|click|shop|store|cn)(?![a-z])"
)

FIELDS = (
    "given_name",
    "family_name",
    "email",
    "mandate",
    "territory_code",
    "public",
    "comment",
    "ref",
)


class SigningBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The signing body of `POST /api/v1/campaigns/{slug}/signatures` (documentation schema)."""

    given_name: Annotated[str, Meta(min_length=1, max_length=NAME_MAX)]
    family_name: Annotated[str, Meta(min_length=1, max_length=NAME_MAX)]
    email: Annotated[str, Meta(max_length=EMAIL_MAX, examples=["anne.martin@mairie-exemple.fr"])]
    mandate: Annotated[str, Meta(extra_json_schema={"enum": list(MANDATES)})]
    territory_code: Annotated[
        str, Meta(description="Code INSEE: commune, département ou région selon le mandat")
    ]
    public: bool = False
    comment: Annotated[str, Meta(max_length=COMMENT_MAX)] | None = None
    ref: Annotated[str, Meta(pattern=_REF.pattern)] | None = None


class SigningRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A valid signing request, normalised."""

    given_name: str
    family_name: str
    email: str
    mandate: str
    territory: Territory
    public: bool
    comment: str | None
    ref: str | None


Errors = dict[str, str]


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def _text(raw: object, field: str, errors: Errors, *, required: bool, max_len: int) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[field] = "Ce champ est obligatoire."
        return None
    if not isinstance(raw, str):
        errors[field] = "Une chaîne de caractères est attendue."
        return None
    if _has_control(raw):
        errors[field] = "Ce champ contient des caractères non autorisés (retour à la ligne, etc.)."
        return None
    value = " ".join(raw.split())
    if len(value) > max_len:
        errors[field] = f"{max_len} caractères au plus ({len(value)} saisis)."
        return None
    return value


def carries_link(name: str) -> bool:
    """A name that would carry a link into the emails and pages that show it."""
    return _LINK_IN_NAME.search(unicodedata.normalize("NFKC", name).lower()) is not None


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def check_signing(
    data: Mapping[str, object],
    index: TerritoryIndex,
    *,
    strict_bool: bool = True,
    resolve_names: bool = False,
) -> tuple[SigningRequest | None, Errors]:
    """Validate every field; returns the request, or None and one French message per bad field.

    `strict_bool` is for JSON (consent must be a JSON boolean); the HTML form sends `public=true`
    when ticked and nothing otherwise. `resolve_names` lets the form's territory field take a name
    or postal code as well as a code.
    """
    errors: Errors = {}
    for key in data:
        if key not in FIELDS:
            errors[key] = "Champ inconnu."
    given = _text(data.get("given_name"), "given_name", errors, required=True, max_len=NAME_MAX)
    family = _text(data.get("family_name"), "family_name", errors, required=True, max_len=NAME_MAX)
    for field, name in (("given_name", given), ("family_name", family)):
        if name is not None and carries_link(name):
            errors[field] = (
                "Un nom ne peut contenir ni lien ni adresse de site (http, www., .com…)."
            )
    email = _text(data.get("email"), "email", errors, required=True, max_len=EMAIL_MAX)
    if email is not None:
        if _EMAIL.fullmatch(email.strip()):
            email = normalise_email(email)
        else:
            errors["email"] = "Adresse électronique invalide (exemple : prenom.nom@mairie.fr)."
    mandate = data.get("mandate")
    if mandate is None or mandate == "":
        errors["mandate"] = "Choisissez votre mandat."
        mandate = None
    elif not isinstance(mandate, str) or mandate not in LABELS:
        errors["mandate"] = "Mandat inconnu."
        mandate = None
    territory = _territory(data.get("territory_code"), mandate, index, errors, resolve_names)
    public = data.get("public", False)
    if public is None:
        public = False
    if not strict_bool and public in ("true", "on"):
        public = True
    if not isinstance(public, bool):
        errors["public"] = "Une valeur booléenne (true ou false) est attendue."
    comment = _text(data.get("comment"), "comment", errors, required=False, max_len=COMMENT_MAX)
    ref = _text(data.get("ref"), "ref", errors, required=False, max_len=40)
    if ref is not None and not _REF.match(ref):
        errors["ref"] = "Code relais invalide (lettres, chiffres, tirets)."
    if errors:
        return None, errors
    assert given and family and email and mandate and territory and isinstance(public, bool)
    return SigningRequest(
        given_name=given,
        family_name=family,
        email=email,
        mandate=mandate,
        territory=territory,
        public=public,
        comment=comment,
        ref=ref,
    ), {}


def _territory(
    raw: object, mandate: str | None, index: TerritoryIndex, errors: Errors, resolve_names: bool
) -> Territory | None:
    field = "territory_code"
    text = _text(raw, field, errors, required=True, max_len=200)
    if text is None:
        return None
    if mandate is None:
        # The level is unknown: the text keeps its value (the error is on the mandate) and is
        # resolved once the mandate is known. But a text that names no territory at any level is
        # wrong whatever the mandate: say so now rather than after (every error at once).
        if not any(_names_some(index, level, text, resolve_names) for level in TERRITORY_LEVELS):
            errors[field] = "Territoire inconnu : indiquez un nom, un code postal ou un code INSEE."
        return None
    level = level_for(mandate)
    a_level = LEVEL_WITH_ARTICLE[level]
    if resolve_names:
        # What a person types: a name, a label, a postal code (several communes may share it), a
        # code, or the start of a name; what matches is offered as a choice (`territory_choices`).
        exact = index.resolve(level, text)
        if exact.territory is not None:
            return exact.territory
        if exact.candidates:
            errors[field] = (
                f"{_SEVERAL[level]} à « {text} » : choisissez {_YOURS[level]} ci-dessous."
            )
            return None
        if index.suggest(level, text).candidates:
            errors[field] = (
                f"{LEVEL_NONE[level]} ne s’appelle exactement « {text} » : choisissez "
                f"{_YOURS[level]} parmi les suggestions ci-dessous, ou complétez le nom."
            )
            return None
        errors[field] = (
            f"{LEVEL_NONE[level]} ne correspond à « {text} » (ce mandat demande {a_level})."
        )
        return None
    found = _by_code(index, level, text)
    if found is not None:
        return found
    errors[field] = (
        f"Code inconnu : le mandat « {LABELS[mandate]} » demande {a_level} (code INSEE)."
    )
    return None


_SEVERAL = {
    "commune": "Plusieurs communes correspondent",
    "departement": "Plusieurs départements correspondent",
    "region": "Plusieurs régions correspondent",
}
_YOURS = {"commune": "la vôtre", "departement": "le vôtre", "region": "la vôtre"}


def _by_code(index: TerritoryIndex, level: str, text: str) -> Territory | None:
    """A code; an arrondissement's or commune déléguée's code (69383) stands for its commune."""
    found = index.get(level, text.upper())
    if found is None and level == "commune":
        found = index.part_parent(text.upper())
    return found


def territory_choices(index: TerritoryIndex, mandate: object, text: object) -> list[Territory]:
    """The territories a form entry may designate when it names none exactly (homonyms, a shared
    postal code, the start of a name), to offer them as a choice."""
    if not isinstance(mandate, str) or mandate not in LABELS or not isinstance(text, str):
        return []
    resolution = index.suggest(level_for(mandate), " ".join(text.split()))
    return resolution.candidates if resolution.ambiguous else []


def _names_some(index: TerritoryIndex, level: str, text: str, resolve_names: bool) -> bool:
    if _by_code(index, level, text) is not None:
        return True
    if not resolve_names:
        return False
    return bool(index.suggest(level, text).candidates)
