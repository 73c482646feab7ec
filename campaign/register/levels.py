"""The levels of proof in French: one definition for every surface (issue 14).

The pages, the widget, the back office, the exports, the published PDF and files all name a
signature's level with these words, from this dict, so that no two surfaces can drift apart:

- `verified`: « élu·e vérifié·e (mairie | domaine officiel | équipe) », someone vouched that the
  signer is the official declared (`signatures.proof`);
- `register_match`: « mandat trouvé au RNE », the name and mandate are in the register, which
  does not prove that the signer is that person;
- `declared`: « déclaré », confirmed by email, nothing more.

The templates read them through the Jinja globals of `TEMPLATE_GLOBALS`; static/live.js and
static/relay.js through `json_for_scripts()`, written into the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal

Level = Literal["verified", "register_match", "declared"]
LEVELS: Final = ("verified", "register_match", "declared")

VERIFIED: Final = "élu·e vérifié·e"
LABELS: Final[dict[str, str]] = {
    "verified": VERIFIED,
    "register_match": "mandat trouvé au RNE",
    "declared": "déclaré",
}
"""The level's name, as every surface writes it (a verified one adds its proof, below)."""

PROOF_NAMES: Final[dict[str, str]] = {
    "mairie": "mairie",
    "official_domain": "domaine officiel",
    "organisers": "équipe",
}
"""Who vouched, in one or two words: « élu·e vérifié·e (mairie) »."""

DETAILS: Final[dict[str, str]] = {
    "mairie": "Confirmé par la mairie",
    "official_domain": "A signé depuis l’adresse officielle de sa collectivité ou de son assemblée",
    "organisers": "Attesté par les organisateurs",
    "verified": "Élu·e vérifié·e",
    "register_match": "Le nom et le mandat déclarés figurent au répertoire national des élus, "
    "ce qui ne prouve pas que le signataire est cet élu",
    "declared": "Signature confirmée par courriel, sans autre preuve",
}
"""The longer explanation (a tooltip, a legend) of each proof and level."""

LEGEND: Final = (
    "«\u00a0élu·e vérifié·e\u00a0»\u00a0: la mairie a confirmé (mairie), ou l’élu·e a signé "
    "depuis l’adresse officielle de sa collectivité ou de son assemblée (domaine officiel), ou "
    "les organisateurs l’attestent (équipe)\u00a0; «\u00a0mandat trouvé au RNE\u00a0»\u00a0: le "
    "nom et le mandat déclarés figurent au répertoire national des élus, sans preuve que le "
    "signataire est cet élu\u00a0; «\u00a0déclaré\u00a0»\u00a0: confirmé par courriel."
)
"""One sentence that explains the three levels under a list."""

# The counts' columns (a territory's figures), the same words in the plural.
COUNT_LABELS: Final[dict[str, str]] = {
    "declared": "Signatures déclarées",
    "verified": "Élus vérifiés",
    "register_match": "Mandats trouvés au RNE",
    "maires_declared": "Maires signataires déclarés",
    "maires_signed": "Maires signataires vérifiés",
}


def _get(s: Any, name: str) -> Any:
    if isinstance(s, Mapping) or (hasattr(s, "get") and hasattr(s, "keys")):  # asyncpg.Record
        return s.get(name)
    return getattr(s, name, None)


def level_of(s: Any) -> Level:
    """The level of a signature (a row, a struct or a mapping with `proof`/`verified` and
    `register_match`)."""
    if _get(s, "proof") or _get(s, "verified"):
        return "verified"
    if _get(s, "register_match"):
        return "register_match"
    return "declared"


def level_label(s: Any) -> str:
    """« élu·e vérifié·e (mairie) », « mandat trouvé au RNE » or « déclaré »."""
    level = level_of(s)
    proof = _get(s, "proof")
    if level == "verified" and proof in PROOF_NAMES:
        return f"{VERIFIED} ({PROOF_NAMES[proof]})"
    return LABELS[level]


def level_detail(s: Any) -> str:
    """The explanation of the signature's level (its proof's when verified)."""
    level = level_of(s)
    proof = _get(s, "proof")
    if level == "verified" and proof in DETAILS:
        return DETAILS[proof]
    return DETAILS[level]


def proof_name(proof: str | None) -> str:
    """« mairie », « domaine officiel », « équipe », or nothing."""
    return PROOF_NAMES.get(proof, proof) if proof else ""


def json_for_scripts() -> str:
    """The words for the scripts that write a signatory's line themselves (live.js)."""
    return json.dumps(
        {"labels": LABELS, "proofs": PROOF_NAMES, "details": DETAILS}, ensure_ascii=False
    )


TEMPLATE_GLOBALS: Final[dict[str, Any]] = {
    "level_of": level_of,
    "level_label": level_label,
    "level_detail": level_detail,
    "proof_name": proof_name,
    "level_labels": LABELS,
    "proof_names": PROOF_NAMES,
    "count_labels": COUNT_LABELS,
    "levels_legend": LEGEND,
    "levels_json": json_for_scripts,
}
"""What every Jinja environment (pages, back office, published list) names the levels with."""
