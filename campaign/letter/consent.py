"""Consent to be listed publicly: the wording the signer agreed to, by version.

A signature that ticks the box stores the version of this wording and the time. Changing the
sentence on the form means adding a version here (a test checks that the form shows the current
one), so that what each signer agreed to can always be read back.
"""

from __future__ import annotations

from typing import Final

WORDINGS: Final = {
    1: "J’accepte que mon nom, mon mandat et mon territoire figurent dans la liste publique "
    "des signataires.",
}
CURRENT_VERSION: Final = max(WORDINGS)
