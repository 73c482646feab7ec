"""Proof that a signer is the official they declare: the levels, and the official domains.

A match with the register only says that such an official exists. A signature is *verified* when
someone vouched for the signer (`signatures.proof`): the town hall (`mairie`), the signer's own
address at their collectivité's or assembly's official domain (`official_domain`), or the
organisers (`organisers`). The official domains are data: each commune's town hall's published
address (campaign/data/mairies.csv.xz), and the assemblies', départements' and régions' domains
(campaign/data/official_domains.csv). A webmail or internet provider's domain
(campaign/data/webmail_domains.csv) proves nothing, nor does a domain several town halls share
(an intercommunalité's or a hosting service's): it does not tell one commune from another.
"""

from __future__ import annotations

import csv
import io
import lzma
from collections import Counter
from importlib.resources.abc import Traversable
from typing import Final, Literal

from campaign.core import resources

Proof = Literal["mairie", "official_domain", "organisers"]
PROOFS: Final = ("mairie", "official_domain", "organisers")

MAIRIES_FILE: Final = resources.DATA / "mairies.csv.xz"
DOMAINS_FILE: Final = resources.DATA / "official_domains.csv"
WEBMAIL_FILE: Final = resources.DATA / "webmail_domains.csv"

COMMUNAL = ("maire", "adjoint", "conseiller_municipal", "president_intercommunalite")
DEPARTEMENTAL = ("conseiller_departemental", "president_departement")
REGIONAL = ("conseiller_regional", "president_region")
ASSEMBLIES = ("depute", "senateur")


def domain_of(email: str) -> str:
    """The domain of an address, lower case, without a trailing dot."""
    return email.rpartition("@")[2].strip().rstrip(".").lower()


class OfficialDomains:
    """Which domain is official for which mandate and territory (read once, kept)."""

    def __init__(
        self,
        mairies: Traversable = MAIRIES_FILE,
        domains: Traversable = DOMAINS_FILE,
        webmail: Traversable = WEBMAIL_FILE,
    ) -> None:
        self.webmail = {
            row["domain"].strip().lower()
            for row in csv.DictReader(io.StringIO(webmail.read_text(encoding="utf-8")))
        }
        self.assemblies: dict[tuple[str, str], set[str]] = {}
        for row in csv.DictReader(io.StringIO(domains.read_text(encoding="utf-8"))):
            key = (row["level"], row["code"])
            self.assemblies.setdefault(key, set()).add(row["domain"].strip().lower())
        text = lzma.decompress(mairies.read_bytes()).decode()
        town_halls = {
            row["code"]: domain_of(row["email"]) for row in csv.DictReader(io.StringIO(text))
        }
        shared = Counter(town_halls.values())
        # A commune's domain: its own, not a provider's, not shared with another town hall.
        self.communes = {
            code: domain
            for code, domain in town_halls.items()
            if domain and shared[domain] == 1 and domain not in self.webmail
        }

    def domains_for(self, mandate: str, territory_level: str, territory_code: str) -> set[str]:
        """The domains whose addresses prove this mandate on this territory (maybe none)."""
        if mandate in ASSEMBLIES:
            found = self.assemblies.get(("assemblee", mandate), set())
        elif mandate in COMMUNAL and territory_level == "commune":
            own = self.communes.get(territory_code)
            found = {own} if own else set()
        elif mandate in DEPARTEMENTAL and territory_level == "departement":
            found = self.assemblies.get(("departement", territory_code), set())
        elif mandate in REGIONAL and territory_level == "region":
            found = self.assemblies.get(("region", territory_code), set())
        else:
            found = set()
        return found - self.webmail

    def proving_domain(
        self, email: str | None, mandate: str, territory_level: str, territory_code: str
    ) -> str | None:
        """The address's domain when it is exactly an official domain of this mandate and
        territory (a subdomain or a look-alike is not); otherwise None."""
        if not email or "@" not in email:
            return None
        domain = domain_of(email)
        if domain in self.domains_for(mandate, territory_level, territory_code):
            return domain
        return None


_shared: OfficialDomains | None = None


def official_domains() -> OfficialDomains:
    """The process's copy, read on first use (about 35,000 town halls: a fraction of a second)."""
    global _shared
    if _shared is None:
        _shared = OfficialDomains()
    return _shared
