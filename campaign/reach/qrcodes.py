"""QR codes drawn locally (segno: pure Python), as PNG for printing and SVG for any size."""

from __future__ import annotations

import io

import segno

# Medium error correction: a printed flyer folded or stained still scans. A white background
# (not a transparent one): the code scans on whatever page or screen it is put.
_ERROR = "m"
_LIGHT = "#fff"


def png(url: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    segno.make(url, error=_ERROR, micro=False).save(
        out, kind="png", scale=scale, border=4, light=_LIGHT
    )
    return out.getvalue()


def svg(url: str, *, scale: int = 10, sized: bool = True) -> bytes:
    """`sized=False`: a viewBox and no width or height, to fit the box a page gives it."""
    out = io.BytesIO()
    segno.make(url, error=_ERROR, micro=False).save(
        out,
        kind="svg",
        scale=scale,
        border=4,
        light=_LIGHT,
        xmldecl=False,
        title="Signer la lettre",
        omitsize=not sized,
    )
    return out.getvalue()
