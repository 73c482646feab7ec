"""Numbers as French readers write them: « 12,5 % »."""

from __future__ import annotations

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space: French thousands separator, and before « % » in figures


def percent(share: float | None, *, space: str = NBSP) -> str:
    """A share between 0 and 1 as « 12,5 % » (one decimal at most); a dash when there is
    nothing to divide by."""
    if share is None:
        return "—"
    text = f"{share * 100:.1f}".removesuffix(".0").replace(".", ",")
    return f"{text}{space}%"
