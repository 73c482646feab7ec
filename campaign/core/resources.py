"""The files shipped inside the package, found with `importlib.resources`.

SQL (campaign/sql), email templates (campaign/emails), vendored public data (campaign/data) and
the demo campaign (campaign/letter/demo) are package data: the same code finds them in a source
checkout, an editable install and an installed wheel. They are `Traversable`s (read them with
`read_bytes`, `read_text`, `iterdir`); where a library needs a file on disk (fonts), use
`importlib.resources.as_file`. The top-level `sql` and `emails` of the repository are symlinks
to these folders.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Final

PACKAGE: Final[Traversable] = files("campaign")
SQL: Final = PACKAGE / "sql"
EMAILS: Final = PACKAGE / "emails"
DATA: Final = PACKAGE / "data"
DEMO_CAMPAIGNS: Final = PACKAGE / "letter" / "demo"
"""The demo campaign's definition (the default CAMPAIGNS_DIR)."""


def by_name(directory: Traversable, suffix: str) -> list[Traversable]:
    """The files of `directory` whose name ends with `suffix`, in name order."""
    found = [p for p in directory.iterdir() if p.name.endswith(suffix) and p.is_file()]
    return sorted(found, key=lambda p: p.name)
