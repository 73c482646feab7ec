"""Query parameters shared by the pages and the API."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

SearchText = Annotated[str | None, QueryParameter(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]
"""Free text to search for: no control characters (PostgreSQL refuses NUL)."""
