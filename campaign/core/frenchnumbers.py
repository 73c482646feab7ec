"""Numbers as French readers write them: « 3 985 », « 12,5 % », « 2 élus signataires »,
« 0,3 ‰ (1 commune sur 3 985) ». One definition for the pages, the map and the files."""

from __future__ import annotations

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: French thousands separator, and before « % » in figures


def number(value: int) -> str:
    """3985 → « 3 985 » (narrow no-break space between thousands)."""
    return f"{value:,}".replace(",", NNBSP)


def plural(count: int, one: str, many: str | None = None) -> str:
    """The noun's form for `count`: singular for 0 and 1 (« 0 élu signataire », « 1,5 million »
    aside), plural from 2. `many` defaults to `one` with an « s » on each word (« élu
    signataire » → « élus signataires »)."""
    if abs(count) < 2:
        return one
    return many if many is not None else " ".join(word + "s" for word in one.split(" "))


def count_of(count: int, one: str, many: str | None = None) -> str:
    """« 2 élus signataires », « 1 commune », « 3 985 communes »."""
    return f"{number(count)} {plural(count, one, many)}"


def _decimal(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0").replace(".", ",")


def percent(share: float | None, *, space: str = NBSP) -> str:
    """A share between 0 and 1 as « 12,5 % » (one decimal at most); a dash when there is
    nothing to divide by. A share above zero never reads « 0 % »: below 1 % it is written per
    thousand (« 0,3 ‰ »), and below 0,1 ‰ « moins de 0,1 ‰ »."""
    if share is None:
        return "—"
    if 0 < share < 0.01:
        if share < 0.00005:
            return f"moins de 0,1{space}‰"
        return f"{_decimal(share * 1000)}{space}‰"
    if 0.9995 <= share < 1:  # not yet everyone
        return f"plus de 99,9{space}%"
    return f"{_decimal(share * 100)}{space}%"


def share_of(part: int, whole: int, one: str, many: str | None = None) -> str:
    """A share with its raw numbers: « 0,3 ‰ (1 commune sur 3 985) », « 12,5 % (5 communes
    sur 40) »; a dash without a whole."""
    if whole <= 0:
        return "—"
    return f"{percent(part / whole)} ({number(part)} {plural(part, one, many)} sur {number(whole)})"


TEMPLATE_GLOBALS = {
    "number": number,
    "plural": plural,
    "count_of": count_of,
    "percent": percent,
    "share_of": share_of,
}
"""What every Jinja environment (the pages, the published list) writes figures with."""
