"""The ontology: real OWL (rdflib, owlready2, HermiT), SHACL tier disjointness, SPARQL fact extraction, the tier
lists against the rule's list, and the built files kept in step with their sources."""

from __future__ import annotations

import json
import os
import shutil

import owlready2
import pyshacl
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, XSD

from aidkb import ontology
from aidkb.kb.engine import Engine
from aidkb.ontology.build import owl_graph, tier_memberships

AID = ontology.AID
TIER1_LISTED = {
    "AU",
    "BE",
    "CA",
    "DK",
    "FI",
    "FR",
    "DE",
    "IE",
    "IT",
    "JP",
    "NL",
    "NZ",
    "NO",
    "KR",
    "ES",
    "SE",
    "TW",
    "GB",
}  # Supp. No. 5 to part 740, para (a): the 18 destinations (shared/regulation.md section 2)
# Country Group D:5 in the eCFR of 2026-07-23 (Supp. No. 1 to part 740): 22 destinations (Cyprus out since 30 May
# 2024, 89 FR 40369; Cambodia out since 7 Nov 2025 under the D:5 note, 3 Feb 2026 in the table).
D5_ECFR_2026 = {
    "AF",
    "BY",
    "CD",
    "CF",
    "CN",
    "CU",
    "ER",
    "HT",
    "IQ",
    "IR",
    "KP",
    "LB",
    "LY",
    "MM",
    "NI",
    "RU",
    "SD",
    "SO",
    "SS",
    "SY",
    "VE",
    "ZW",
}
D5_2025 = D5_ECFR_2026 | {"KH", "ET"}  # on 1 Jun 2025: Cambodia still listed; Ethiopia by the D:5 note (22 CFR 126.1)


@pytest.fixture(scope="module")
def built():
    return rdflib.Graph().parse(ontology.BUILT, format="xml")


def _tiers_on(onto, program, date: int) -> dict[str, set]:
    engine = Engine(program, onto.facts())
    with engine.facts([("case", "t"), ("as_of", "t", date)]):
        return {n: {c for _, c in engine.ask(f"tier{n}", ("t", None))} for n in (1, 2, 3)}


def test_sparql_extracts_the_facts_the_rules_need(onto):
    assert len(onto.countries) == 249 and onto.countries["MY"] == "Malaysia"
    rows = {m[:6]: m[6] for m in onto.memberships}
    assert rows[("NI", "D5", 20240315, ontology.OPEN_END, "R", "Supp. No. 1 to part 740")].endswith("#m_D5_NI")
    assert rows[("HK", "D5", 19000101, ontology.OPEN_END, "S", "Supp. No. 1 to part 740")].endswith("#m_D5_CN")
    lpp = onto.parameter("lpp_annual_tpp_limit", 20250601)
    assert (lpp.value, lpp.citation) == (26_900_000, "15 CFR 740.29")
    assert onto.parameter("compliance_date", 20250601).value == 20250515
    assert onto.items["4E091"]["class"] == "model_weights" and onto.items["5D002.z"]["kind"] == "software"
    assert set(onto.authorizations) == {"AIA", "ACM", "LPP", "ACA", "NAC", "UVEU", "NVEU"}


def test_tier_lists_match_the_rule(onto, program):
    tiers = _tiers_on(onto, program, 20250601)
    assert tiers[1] == TIER1_LISTED | {
        "US",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
        "UM",
    }  # the US includes its territories (772.1)
    assert tiers[3] == D5_2025 | {"MO", "HK"}
    assert tiers[2] == set(onto.countries) - tiers[1] - tiers[3]
    assert {"MY", "SG", "IN", "AE", "SA", "IL", "BR", "MX", "PL", "PT", "CH", "AT", "GR", "TR"} <= tiers[2]


def test_every_country_is_in_exactly_one_tier_at_each_date(onto, program):
    for date in (20250113, 20250601, 20260203, 20270101):
        tiers = _tiers_on(onto, program, date)
        assert sum(len(t) for t in tiers.values()) == len(onto.countries)
        assert set().union(*tiers.values()) == set(onto.countries)


def test_cambodia_leaves_tier3_when_it_leaves_the_state_list(onto, program):
    """Regression: Cambodia was kept in D:5 until BIS's conforming rule (3 Feb 2026); the State Department's
    126.1 list, which the D:5 note makes control, dropped it on 7 Nov 2025."""
    assert "KH" in _tiers_on(onto, program, 20251106)[3]
    assert "KH" in _tiers_on(onto, program, 20251107)[2]


def test_d5_on_2026_07_23_is_the_ecfr_table_plus_the_state_list(onto, program):
    """Regression: Cyprus was in D:5 with no end date (out since 30 May 2024, 89 FR 40369)."""
    assert _tiers_on(onto, program, 20260723)[3] == D5_ECFR_2026 | {"ET", "MO", "HK"}
    assert "CY" in _tiers_on(onto, program, 20240530)[2] and "CY" in _tiers_on(onto, program, 20240529)[3]


def test_uae_moves_from_d4_to_a5_on_2026_07_10(onto):
    """Regression: the UAE was kept in D:4 with no end date; the eCFR of 2026-07-23 lists it in A:5."""

    def groups(on):
        return {m.group for m in onto.memberships if m.code == "AE" and m.valid_from <= on < m.valid_to}

    assert groups(20260709) >= {"D4"} and not groups(20260709) & {"A5", "NamedB"}
    assert groups(20260710) >= {"A5", "NamedB"} and "D4" not in groups(20260710)


def test_built_owl_and_facts_are_up_to_date(onto):
    rebuilt = owl_graph(ontology.Ontology.from_graph(ontology.source_graph()))
    assert isomorphic(rebuilt, rdflib.Graph().parse(ontology.BUILT, format="xml")), "run: aidkb ontology"
    data = json.loads(ontology.FACTS.read_text())
    assert data["source_hash"] == ontology.source_hash(), "run: aidkb ontology"
    assert ontology.from_json(data) == ontology.Ontology.from_graph(ontology.source_graph())


def test_tier_memberships_in_the_owl_are_the_rules_output(built, onto):
    in_owl = set()
    for m in built.subjects(RDF.type, AID.TierMembership):
        code = str(built.value(m, AID.country)).rsplit("#", 1)[1]
        tier = int(str(built.value(m, AID.tier))[-1])
        in_owl.add((code, tier, ontology.date_number(built.value(m, AID.validFrom))))
    assert in_owl == {(c, t, f) for c, t, f, _ in tier_memberships(onto)}


def test_every_rule_cites_a_known_provision(program, onto):
    unknown = {(r.id, c) for r in program.rules for c in r.cites if c not in onto.provisions}
    assert unknown == set()
    for p in onto.parameters:
        assert p.citation in onto.provisions, p.name


def test_owlready2_reads_the_ontology():
    world = owlready2.World()
    onto = world.get_ontology(ontology.BUILT.as_uri()).load()
    assert onto.search_one(iri="*#MY") is not None
    assert len(list(world.search(type=onto.TierMembership))) >= 249


NO_JAVA = shutil.which("java") is None and not os.environ.get("AIDKB_REQUIRE_JAVA")  # CI requires it


def _hermit(graph: rdflib.Graph, tmp_path) -> None:
    path = tmp_path / "o.nt"
    graph.serialize(path, format="nt", encoding="utf-8")
    world = owlready2.World()
    onto = world.get_ontology(path.as_uri()).load(format="ntriples")
    with onto:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)


@pytest.mark.slow
@pytest.mark.skipif(NO_JAVA, reason="HermiT needs Java (CI installs it and sets AIDKB_REQUIRE_JAVA)")
def test_hermit_finds_the_ontology_consistent(built, tmp_path):
    _hermit(built, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(NO_JAVA, reason="HermiT needs Java (CI installs it and sets AIDKB_REQUIRE_JAVA)")
def test_hermit_catches_a_membership_in_two_tiers(built, tmp_path):
    g = rdflib.Graph() + built
    g.add((AID.tm_T1_MY_20250113, AID.tier, AID.Tier1))  # MY's Tier 2 membership now also says Tier 1
    g.add((AID.tm_T2_MY_20250113, AID.tier, AID.Tier1))
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        _hermit(g, tmp_path)


@pytest.mark.slow
def test_shacl_tier_shapes_hold_and_catch_an_overlap(built):
    shapes = rdflib.Graph().parse(ontology.SHAPES)
    conforms, _, text = pyshacl.validate(built, shacl_graph=shapes, advanced=True)
    assert conforms, text
    g = rdflib.Graph() + built
    bad = AID.tm_bad
    g.add((bad, RDF.type, AID.TierMembership))
    g.add((bad, AID.country, AID.MY))
    g.add((bad, AID.tier, AID.Tier1))
    g.add((bad, AID.validFrom, rdflib.Literal("2026-01-01T00:00:00", datatype=XSD.dateTime)))
    conforms, _, text = pyshacl.validate(g, shacl_graph=shapes, advanced=True)
    assert not conforms and "tiers overlap" in text


def test_provisions_carry_the_rule_s_status_facets():
    rows = {r["citation"]: r for r in ontology.select(ontology.source_graph(), "provision_status")}
    lpp = rows["15 CFR 740.29"]
    assert ontology.date_number(lpp["effective"]) == 20250113
    assert ontology.date_number(lpp["compliance"]) == 20250515
    assert ontology.date_number(lpp["suspended"]) == 20250513 and lpp["rescinded"] is False
    assert "15 CFR 734.3" not in rows  # not amended by the rule


def test_every_red_flag_is_a_term_titled_by_its_label():
    """The summary and memo say a red flag through the terms (Ontology.titled): each needs its label as a title."""
    onto = ontology.load()
    assert onto.red_flags
    for flag, about in onto.red_flags.items():
        assert flag in onto.terms, flag
        assert onto.terms[flag].title == about["label"], flag
