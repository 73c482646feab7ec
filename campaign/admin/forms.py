"""The forms posted to the back office: handlers receive them parsed (`form: FormDep`) and read
their fields as text."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency

from campaign.web import inputs

FormDep = NamedDependency[FormMultiDict]
"""How handlers ask for the posted form (provided by the admin router, parsed once)."""


async def provide_form(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The form, checked (campaign/web/inputs.py): UTF-8 text without NUL, else a 400 naming the
    field. Uploaded files' contents are checked by what reads them."""
    return await inputs.read_form(request)


def text(form: FormMultiDict, name: str) -> str:
    """A field of a posted form, empty when missing."""
    return str(form.get(name) or "")


def text_fields(form: FormMultiDict) -> dict[str, str]:
    """Every text field of a posted form (files left out), to check and show again."""
    return {k: v for k, v in form.items() if isinstance(v, str)}
