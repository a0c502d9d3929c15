"""The law's data checked like code: dated parameter values may not overlap (SHACL), a rule's constants that
name a group, flag, route, mode or item must be declared ones, and `aidkb rules` reports every error at once."""

from __future__ import annotations

import shutil

import pyshacl
import rdflib
from rdflib.namespace import RDF, XSD

from aidkb import ontology
from aidkb.app.cli import main, rule_domains
from aidkb.kb.checks import domain_errors, problems_in
from aidkb.kb.program import RULES_DIR, baseline_program, rule_files

AID = rdflib.Namespace("https://w3id.org/aidkb/ontology#")


def _parameters() -> rdflib.Graph:
    """The parameters of ontology/src, alone (the shapes of the other classes have nothing to target)."""
    source, g = ontology.source_graph(), rdflib.Graph()
    for p in source.subjects(RDF.type, AID.Parameter):
        for t in source.triples((p, None, None)):
            g.add(t)
    return g


def _validate(g: rdflib.Graph) -> tuple[bool, str]:
    conforms, _, text = pyshacl.validate(g, shacl_graph=rdflib.Graph().parse(ontology.SHAPES), advanced=True)
    return conforms, text


def test_overlapping_parameter_value_is_rejected_by_shacl():
    g = _parameters()
    conforms, text = _validate(g)
    assert conforms, text  # the shipped values: one per parameter on any date (the NVEU caps follow each other)
    bad = AID.param_lpp_annual_tpp_limit_second
    g.add((bad, RDF.type, AID.Parameter))
    g.add((bad, AID.parameterName, rdflib.Literal("lpp_annual_tpp_limit")))
    g.add((bad, AID.value, rdflib.Literal(40_000_000)))
    g.add((bad, AID.citation, rdflib.Literal("15 CFR 740.29")))
    g.add((bad, AID.grade, rdflib.Literal("S")))
    g.add((bad, AID.validFrom, rdflib.Literal("2026-01-01T00:00:00", datatype=XSD.dateTime)))
    conforms, text = _validate(g)
    assert not conforms and "parameter values overlap" in text and "lpp_annual_tpp_limit" in text


def test_adjacent_parameter_values_are_not_an_overlap():
    g = _parameters()
    name = rdflib.Literal("nveu_destination_cap_tpp")
    end = max(
        (o for s in g.subjects(AID.parameterName, name) for o in g.objects(s, AID.validTo)), key=lambda o: o.toPython()
    )  # the last cap's end
    later = AID.param_nveu_after
    for p, o in (
        (RDF.type, AID.Parameter),
        (AID.parameterName, name),
        (AID.value, rdflib.Literal(1)),
        (AID.citation, rdflib.Literal("15 CFR 748.15")),
        (AID.grade, rdflib.Literal("U")),
        (AID.validFrom, end),
    ):  # from the day the last value ends, open-ended: follows it, no overlap
        g.add((later, p, o))
    conforms, text = _validate(g)
    assert conforms, text
    g.add((later, AID.validFrom, rdflib.Literal("2027-12-31T00:00:00", datatype=XSD.dateTime)))
    g.remove((later, AID.validFrom, end))
    conforms, text = _validate(g)  # one day earlier: both give the cap on 31 Dec 2027
    assert not conforms and "param_nveu_after" in text


def test_shipped_rules_name_only_declared_groups_flags_routes_modes_and_items():
    assert domain_errors(list(baseline_program().rules), rule_domains()) == []


def _copy_rules(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    return folder


def test_rule_constant_typo_fails_aidkb_rules_with_file_line_column(tmp_path, capsys):
    folder = _copy_rules(tmp_path)
    tiers = folder / "tiers.dl"
    text = tiers.read_text()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"D5"' in t)
    tiers.write_text(text.replace('"D5"', '"D6"', 1))
    assert main(["rules", "--rules", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{tiers}:{line}:" in err and '"D6" in listed(...) is not a group the knowledge base declares' in err
    assert "did you mean 'D5'?" in err


def test_aidkb_rules_reports_every_error_in_one_run(tmp_path, capsys):
    folder = _copy_rules(tmp_path)
    (folder / "time.dl").write_text((folder / "time.dl").read_text().replace('"as_enforced"', '"as_enforcd"', 1))
    (folder / "items.dl").write_text(
        (folder / "items.dl").read_text().replace('item(C, "3A090.a")', 'item(C, "3A099.a")', 1)
    )
    (folder / "caveats.dl").write_text((folder / "caveats.dl").read_text() + "\nbroken(C :- x.\n")
    (folder / "zz_extra.dl").write_text('@rule twice @cite "15 CFR 740.99" @says "x" extra(C) :- case(C), Y > 1.\n')
    assert main(["rules", "--rules", str(folder)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "error: 4 errors in the rule files", err
    assert any("caveats.dl" in e and "unexpected" in e for e in err)  # a syntax error
    assert any("time.dl" in e and "not a mode" in e and "did you mean 'as_enforced'" in e for e in err)
    assert any("items.dl" in e and '"3A099.a" in item(...) is not an item' in e for e in err)
    assert any("zz_extra.dl" in e and "Y" in e for e in err)  # unsafe: Y is never bound


def test_installed_rules_have_no_problem():
    assert problems_in(rule_files(), RULES_DIR, rule_domains()) == []
