"""`aidkb ontology`: build ontology/aidkb.owl (RDF/XML, for Protégé, owlready2 and HermiT) and
ontology/facts.json (the SPARQL-extracted facts the engine loads) from ontology/src.

Tier memberships are not typed by hand: they are computed here by the knowledge base's own tier rules
(kb/rules/tiers.dl) at every date where a listing changes, and written into the OWL as dated
TierMembership individuals.
"""

from __future__ import annotations

import json

import rdflib
from rdflib.namespace import OWL, RDF, XSD

from aidkb.kb.engine import Engine
from aidkb.kb.program import baseline_program

from . import AID, BUILT, FACTS, OPEN_END, Ontology, source_graph, to_json

TIER_GROUPS = ("Supp5A", "D5", "Macau")
TIER_RULES = {1: "tier1_supplement_5_para_a", 2: "tier2_every_other_country", 3: "tier3_d5_and_macau"}


def _dt(n: int) -> rdflib.Literal:
    return rdflib.Literal(f"{n // 10000:04d}-{n // 100 % 100:02d}-{n % 100:02d}T00:00:00", datatype=XSD.dateTime)


def tier_memberships(onto: Ontology) -> list[tuple[str, int, int, int]]:
    """(country, tier, from, to) intervals, from the rule's effective date on, as the tier rules compute them."""
    effective = int(next(p.value for p in onto.parameters if p.name == "effective_date"))
    days = {effective}
    for _, group, frm, to, *_ in onto.memberships:
        days.update(d for d in (frm, to) if group in TIER_GROUPS and effective < d < OPEN_END)
    starts = sorted(days)
    engine = Engine(baseline_program(), onto.facts())
    timeline: dict[str, list[tuple[int, int]]] = {}
    for start in starts:
        with engine.facts([("case", "t"), ("as_of", "t", start)]):
            for tier, pred in ((1, "tier1"), (2, "tier2"), (3, "tier3")):
                for _, country in engine.ask(pred, ("t", None)):
                    timeline.setdefault(country, []).append((start, tier))
    out: list[tuple[str, int, int, int]] = []
    for country, points in sorted(timeline.items()):
        ends = starts[1:] + [OPEN_END]
        for (start, tier), end in zip(points, ends):
            if out and out[-1][0] == country and out[-1][1] == tier and out[-1][3] == start:
                out[-1] = (country, tier, out[-1][2], end)
            else:
                out.append((country, tier, start, end))
    return out


def owl_graph(onto: Ontology) -> rdflib.Graph:
    graph = source_graph()
    program = baseline_program()
    for country, tier, start, end in tier_memberships(onto):
        node = AID[f"tm_T{tier}_{country}_{start}"]
        rule = program.rule(TIER_RULES[tier])
        graph.add((node, RDF.type, OWL.NamedIndividual))
        graph.add((node, RDF.type, AID.TierMembership))
        graph.add((node, AID.country, AID[country]))
        graph.add((node, AID.tier, AID[f"Tier{tier}"]))
        graph.add((node, AID.validFrom, _dt(start)))
        if end != OPEN_END:
            graph.add((node, AID.validTo, _dt(end)))
        graph.add((node, AID.citation, rdflib.Literal(rule.cites[0])))
        graph.add((node, AID.note, rdflib.Literal(f"computed by rule {rule.id} of kb/rules/tiers.dl")))
    return graph


def build() -> list[str]:
    onto = Ontology.from_graph(source_graph())
    graph = owl_graph(onto)
    graph.serialize(BUILT, format="xml")
    FACTS.write_text(json.dumps(to_json(onto), indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return [f"wrote {BUILT.name}: {len(graph)} triples", f"wrote {FACTS.name}: {len(onto.facts())} base facts"]
