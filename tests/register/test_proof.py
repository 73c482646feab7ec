"""Official domains (issue 14): which address proves which mandate, from the vendored data; a
webmail's or a shared domain never proves anything, nor does a look-alike."""

from __future__ import annotations

import pytest

from campaign.register.proof import OfficialDomains, domain_of
from campaign.signing.abuse import SHARED_MAIL_DOMAINS


@pytest.fixture(scope="module")
def domains() -> OfficialDomains:
    return OfficialDomains()


def test_assemblies_prove_their_members_only(domains: OfficialDomains) -> None:
    proving = domains.proving_domain
    assert proving("v.baude@senat.fr", "senateur", "departement", "01") == "senat.fr"
    assert proving("X@Assemblee-Nationale.FR", "depute", "departement", "42") == (
        "assemblee-nationale.fr"
    )
    assert proving("v.baude@senat.fr", "depute", "departement", "01") is None
    assert proving("v.baude@senat.fr", "maire", "commune", "42218") is None


def test_a_town_halls_own_domain_proves_its_communes_mandates(domains: OfficialDomains) -> None:
    # Saint-Étienne's town hall publishes courriermairie@saint-etienne.fr.
    for mandate in ("maire", "adjoint", "conseiller_municipal"):
        assert domains.proving_domain("r.j@saint-etienne.fr", mandate, "commune", "42218") == (
            "saint-etienne.fr"
        )
    assert domains.proving_domain("r.j@saint-etienne.fr", "maire", "commune", "42005") is None


@pytest.mark.parametrize(
    "address",
    [
        "r.j@gmail.com",
        "r.j@mail.saint-etienne.fr",  # a subdomain is not the domain
        "r.j@saint-etienne.fr.example.com",
        "r.j@saint-etienne.com",
        "saint-etienne.fr",
        "",
    ],
)
def test_only_the_exact_domain_proves(domains: OfficialDomains, address: str) -> None:
    assert domains.proving_domain(address, "maire", "commune", "42218") is None


def test_a_provider_or_shared_town_hall_domain_proves_nothing(domains: OfficialDomains) -> None:
    # L'Abergement-Clémenciat's town hall writes from a gmail address: no domain of its own.
    assert domains.domains_for("maire", "commune", "01001") == set()
    assert (
        domains.proving_domain("mairieabergementclemenciat@gmail.com", "maire", "commune", "01001")
        is None
    )
    # A domain a hundred town halls share (a hosting service) tells no commune from another.
    shared = {c for c, d in domains.communes.items() if d == "collectivite47.fr"}
    assert not shared
    providers = {"wanadoo.fr", "orange.fr", "gmail.com", "free.fr", "laposte.net"}
    assert not providers & set(domains.communes.values())


def test_every_shared_mailbox_provider_is_listed_as_webmail(domains: OfficialDomains) -> None:
    """The signing limits' list of providers (campaign/signing/abuse.py) is in the data list."""
    assert set(SHARED_MAIL_DOMAINS) <= domains.webmail


def test_departements_and_regions_have_their_domains(domains: OfficialDomains) -> None:
    assert domains.proving_domain("x@loire.fr", "conseiller_departemental", "departement", "42")
    assert domains.proving_domain("x@loire.fr", "conseiller_regional", "region", "84") is None
    assert (
        domains.proving_domain("x@auvergnerhonealpes.fr", "president_region", "region", "84")
        == "auvergnerhonealpes.fr"
    )
    assert not (domains.assemblies.get(("departement", "42"), set()) & domains.webmail)


def test_domain_of_is_lower_case_without_a_trailing_dot() -> None:
    assert domain_of("A@Senat.FR.") == "senat.fr"
