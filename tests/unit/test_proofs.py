"""Proofs: every proof of every case validates (schema and independent checker); each kind of tampering is
caught; why-not categories, counterfactuals and the renderers (PROV-O queried with SPARQL)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import rdflib

from aidkb import ontology
from aidkb.app.cli import main
from aidkb.kb.program import baseline_program
from aidkb.queries import render
from aidkb.queries.case import load_case
from aidkb.queries.checker import check_proof
from aidkb.queries.counterfactual import Search, counterfactuals
from aidkb.queries.decide import decide
from aidkb.queries.explain import fill
from aidkb.queries.explanation import GoalError, explain
from aidkb.queries.proof import children
from aidkb.queries.prov import proof_graph

from ..conftest import OWN_CASES, SHARED_CASES

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "queries" / "schemas" / "proof.v1.json").read_text())
SCHEMA_V2 = json.loads((Path(__file__).resolve().parents[2] / "queries" / "schemas" / "proof.v2.json").read_text())
CASES = sorted(SHARED_CASES.glob("*.yaml")) + sorted(OWN_CASES.glob("*.yaml"))


def proof_of(name: str, folder=SHARED_CASES) -> dict:
    return json.loads(json.dumps(decide(load_case(folder / f"{name}.yaml")).proof))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_proof_is_valid(path):
    d = decide(load_case(path))
    doc = json.loads(json.dumps(d.to_json()["proof"]))
    jsonschema.Draft202012Validator(SCHEMA_V2).validate(doc)
    result = check_proof(doc)
    assert result.valid and "proof.v1" not in result.verdict(), result.error
    tree = json.loads(json.dumps(d.proof))  # the tree it is written from: the proof.v1 document
    jsonschema.Draft202012Validator(SCHEMA).validate(tree)
    assert check_proof(tree).valid


def test_proofs_are_deterministic():
    case = load_case(SHARED_CASES / "uveu-within-7-percent.yaml")
    assert json.dumps(decide(case).proof) == json.dumps(decide(case).proof)


def _find(node, pred):
    """The first node (pre-order) for which pred(node) holds."""
    if pred(node):
        return node
    for _, child in children(node):
        found = _find(child, pred)
        if found is not None:
            return found
    return None


def _tampered(doc, where, change):
    doc = copy.deepcopy(doc)
    for root in doc["conclusions"] + doc["refutations"]:
        node = _find(root, where)
        if node is not None:
            change(node)
            return doc
    raise AssertionError("nothing to tamper with")


@pytest.fixture(scope="module")
def lpp_doc():
    return proof_of("lpp-under-annual-limit")


def _invalid(doc, words):
    result = check_proof(doc)
    assert not result.valid and words in result.error, result.error


def test_changed_binding_is_caught(lpp_doc):
    def change(n):
        n["bindings"]["Ytd"] = 0

    _invalid(_tampered(lpp_doc, lambda n: n.get("rule") == "lpp_conditions", change), "")


def test_dropped_premise_is_caught(lpp_doc):
    _invalid(
        _tampered(lpp_doc, lambda n: n.get("rule") == "lpp_conditions", lambda n: n["premises"].pop(3)), "premises"
    )


def test_swapped_citation_is_caught(lpp_doc):
    def change(n):
        n["citations"] = ["15 CFR 740.27"]

    _invalid(_tampered(lpp_doc, lambda n: n.get("rule") == "lpp_conditions", change), "citations")


def test_forged_fact_is_caught(lpp_doc):
    def change(n):
        n["atom"][2] = 0  # claims nothing was shipped under LPP this year

    doc = _tampered(lpp_doc, lambda n: n.get("kind") == "fact" and n["atom"][0] == "consignee_ytd", change)
    _invalid(doc, "")
    doc = _tampered(lpp_doc, lambda n: n.get("kind") == "fact" and n["atom"][0] == "consignee_ytd", change)
    doc["question"]["inputs"].append(["consignee_ytd", "lpp-under-annual-limit", 0])  # forged into the inputs too
    _invalid(doc, "")


def test_wrong_arithmetic_is_caught(lpp_doc):
    def change(n):
        n["value"] += 1

    _invalid(_tampered(lpp_doc, lambda n: n.get("kind") == "assign" and n["var"] == "Total", change), "gives")


def test_false_comparison_is_caught(lpp_doc):
    def change(n):
        n["left"], n["right"] = 30_000_000, 26_900_000

    _invalid(
        _tampered(lpp_doc, lambda n: n.get("kind") == "compare" and n["condition"] == "Total <= Limit", change), ""
    )


def test_cycle_is_caught():
    # the ultimate parent is found through a chain of control; make the chain's proof depend on itself
    doc = proof_of("acm-denied-tier3-ultimate-parent")
    chain = None
    for root in doc["conclusions"] + doc["refutations"]:
        chain = chain or _find(root, lambda n: n.get("rule") == "controlled_through_a_chain")
    assert chain is not None
    inner = chain["premises"][0]  # ancestor(C, Entity, Middle)
    outer_atom = list(chain["atom"])
    # rewrite the inner premise's proof so that it uses the outer atom: a cycle through refs
    direct = None
    for root in doc["conclusions"] + doc["refutations"]:
        direct = direct or _find(root, lambda n: n.get("kind") == "rule" and n.get("atom") == inner["atom"])
    direct.update(
        {"rule": "controlled_through_a_chain", "premises": [{"kind": "ref", "atom": outer_atom}, direct["premises"][0]]}
    )
    direct["bindings"] = {**direct["bindings"], "Middle": outer_atom[3]}
    rule = baseline_program().rule("controlled_through_a_chain")
    direct["sentence"] = fill(rule.says, direct["bindings"], ontology.load())  # words that fit: only the cycle
    _invalid(doc, "cycle")


def test_negation_that_has_a_derivation_is_caught(lpp_doc):
    def change(n):
        n["atom"] = ["d5_or_macau", n["atom"][1], "CN"]

    doc = _tampered(lpp_doc, lambda n: n.get("kind") == "not" and n["atom"][0] == "d5_or_macau", change)
    _invalid(doc, "")


def test_false_refutation_is_caught():
    doc = proof_of("lpp-over-annual-limit")
    doc["refutations"][0]["atom"] = ["authorized", "lpp-over-annual-limit", "LPP"]
    doc["question"]["inputs"] = [f if f[0] != "consignee_ytd" else [f[0], f[1], 0] for f in doc["question"]["inputs"]]
    assert not check_proof(doc).valid


def test_other_ruleset_is_rejected(lpp_doc):
    doc = copy.deepcopy(lpp_doc)
    doc["ruleset_version"] = "0000000000000000"
    _invalid(doc, "rule set")


def test_check_proof_command(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(proof_of("lpp-under-annual-limit")))
    assert main(["check-proof", str(good)]) == 0
    assert "valid proof" in capsys.readouterr().out
    bad_doc = proof_of("lpp-under-annual-limit")
    bad_doc["conclusions"][1]["citations"] = ["15 CFR 999.9"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_doc))
    assert main(["check-proof", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "INVALID at conclusions[1]" in out and "citations" in out
    (tmp_path / "broken.json").write_text("{")
    assert main(["check-proof", str(tmp_path / "broken.json")]) == 2


def test_why_not_categories():
    d = decide(load_case(SHARED_CASES / "tier2-allocation-exceeded-no-g2g.yaml"))
    cats = {n["atom"][2]: n["category"] for n in d.proof["refutations"]}
    assert cats["LPP"] == "threshold exceeded" and cats["UVEU"] == "not applicable"
    d = decide(load_case(SHARED_CASES / "tier3-china-datacenter.yaml"))
    assert {n["atom"][2]: n["category"] for n in d.proof["refutations"]}["LPP"] == "defeated by an exclusion"
    d = decide(load_case(SHARED_CASES / "model-weights-request-unknown-party.yaml"))
    assert {n["atom"][2]: n["category"] for n in d.proof["refutations"]}["AIA"] == "missing fact"
    d = decide(load_case(SHARED_CASES / "as-of-grace-period.yaml"))
    assert d.proof["refutations"][0]["category"] == "not applicable"  # no pre-rule requirement for Malaysia


def test_largest_quantity_that_fits_lpp_is_exact():
    case = load_case(SHARED_CASES / "lpp-over-annual-limit.yaml")
    goal = ("authorized", (case.id, "LPP"))
    cfs = counterfactuals(case, goal)
    quantity = [cf for cf in cfs if cf.changes[0].field == "quantity"][0].changes[0].new
    assert quantity == (26_900_000 - 20_000_000) // 15_832  # 435
    search = Search(case, goal)
    assert search.works([type(cfs[0].changes[0])("quantity", None, quantity)])
    assert not search.works([type(cfs[0].changes[0])("quantity", None, quantity + 1)])


def test_counterfactual_for_a_d5_parent():
    case = load_case(SHARED_CASES / "acm-denied-tier3-ultimate-parent.yaml")
    cfs = counterfactuals(case, ("authorized", (case.id, "ACM")))
    assert cfs and cfs[0].changes[0].field == "parent_hq" and cfs[0].changes[0].new not in ("CN", "MO")


def test_explain_renderers():
    e = explain(load_case(SHARED_CASES / "lpp-over-annual-limit.yaml"), "LPP")
    text = render.explanation_text(e)
    assert "WHY NOT: authorized by LPP" in text and "35,832,000" in text and "would hold if: quantity" in text
    md = render.memo_markdown(e)
    assert "## Why not" in md and "https://www.ecfr.gov/on/2025-06-01/title-15/section-740.29" in md
    assert "- **Matter reference:** lpp-over-annual-limit" in md and "- **Generated:** " in md
    assert "## Legal status on 2025-06-01" in md and e.decision.ruleset_version in md
    page = render.memo_html(e)
    assert page.startswith("<!DOCTYPE html>") and "<h2>Why not</h2>" in page
    dot = render.proof_dot(e)
    assert dot.startswith("digraph proof {") and "->" in dot
    with pytest.raises(GoalError):
        explain(load_case(SHARED_CASES / "lpp-over-annual-limit.yaml"), "XYZ")


def test_prov_o_loads_beside_the_ontology_and_answers_sparql():
    e = explain(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml"), "LPP")
    g = rdflib.Graph().parse(ontology.BUILT, format="xml")
    g.parse(data=proof_graph(e).serialize(format="turtle"), format="turtle")
    rows = g.query("""
        PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX aid: <https://w3id.org/aidkb/ontology#>
        SELECT DISTINCT ?citation WHERE {
            ?fact prov:wasGeneratedBy ?application ; aid:atom ?atom .
            FILTER(CONTAINS(?atom, "\\"eligible\\""))
            ?application prov:qualifiedAssociation/prov:hadPlan ?rule .
            ?rule aid:citedProvision ?provision .
            ?provision aid:citation ?citation .
        }""")
    assert {str(r.citation) for r in rows} == {"15 CFR 740.29"}


def test_explain_json_is_a_checkable_proof(tmp_path, capsys):
    assert main(["explain", str(SHARED_CASES / "uveu-8-percent-exceeds.yaml"), "--format", "json"]) == 0
    path = tmp_path / "p.json"
    path.write_text(capsys.readouterr().out)
    assert main(["check-proof", str(path)]) == 0


# ---- regressions (issue 14), each named after its defect


def _case_with(tmp_path, base: str, what_if: list, name: str):
    import yaml

    data = yaml.safe_load((SHARED_CASES / f"{base}.yaml").read_text())
    data["id"], data["what_if"] = name, what_if
    data.pop("expected", None)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_case(path)


def test_added_rule_whose_head_is_concluded_later_does_not_crash_decide(tmp_path):
    rule = (
        '@rule status_noting_lpp @cite "15 CFR 740.29" @says "LPP authorises it, noted in the status" '
        'status(C, "lpp_noted") :- authorized(C, "LPP").'
    )
    case = _case_with(tmp_path, "lpp-under-annual-limit", [{"add_rule": {"text": rule}}], "status-noting-lpp")
    d = decide(case)
    assert all(n["kind"] == "rule" for n in d.proof["conclusions"])  # a top-level conclusion is never a ref
    assert "LPP authorises it, noted in the status" in d.status
    result = check_proof(json.loads(json.dumps(d.to_json())))
    assert result.valid and result.verdict().startswith("valid under reform: add rule status_noting_lpp")


def test_explainer_never_overwrites_a_bound_variable(tmp_path):
    from aidkb.kb.program import baseline_program
    from aidkb.queries.decide import engine_for
    from aidkb.queries.explain import Explainer
    from aidkb.queries.reform import Reform

    rule = '@rule doubled @cite "15 CFR 740.29" @says "{N} is twice {Q}" doubled(C, N) :- quantity(C, Q), N = Q * 2.'
    case = _case_with(tmp_path, "lpp-under-annual-limit", [{"add_rule": {"text": rule}}], "doubled")
    reform = Reform(case.what_if)
    program = reform.program(baseline_program())
    engine = engine_for(reform, program)
    with engine.facts(case.facts()):
        x = Explainer(engine, program, ontology.load())
        assert x.fired("doubled", (case.id, 5)) == []  # N = Q * 2 with N bound to 5 is a test that fails
        assert [a.bindings["N"] for a in x.fired("doubled", (case.id, 2 * case.quantity))] == [2 * case.quantity]


def test_explain_ttl_renders_when_an_added_rule_fires(tmp_path):
    from aidkb.queries.prov import proof_turtle

    rule = (
        '@rule extra_flag @cite "15 CFR 744.6" @says "a test flag on {C}" '
        'red_flag(C, "unknown_end_user") :- case(C), destination(C, "MY").'
    )
    case = _case_with(tmp_path, "lpp-under-annual-limit", [{"add_rule": {"text": rule}}], "extra-flag")
    assert "extra_flag" in proof_turtle(explain(case, with_counterfactuals=False))


def test_dated_reform_proofs_check_valid_and_say_so(tmp_path):
    case = _case_with(
        tmp_path,
        "whatif-move-malaysia-to-tier1",
        [
            {"move_country": {"country": "MY", "to_tier": 1, "from": "2025-05-20"}},
            {"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 40_000_000, "from": "2025-05-20"}},
        ],
        "dated-ops",
    )
    proof = json.loads(json.dumps(decide(case).to_json()["proof"]))
    assert proof["question"]["what_if"][0]["args"]["from"] == "2025-05-20"  # input form
    result = check_proof(proof)
    assert result.valid, result.error
    assert result.verdict() == (
        "valid under reform: move MY to Tier 1 from 2025-05-20; set lpp_annual_tpp_limit "
        f"to 40000000 from 2025-05-20 ({result.steps} steps checked)"
    )


def test_truncated_explanation_says_so(monkeypatch):
    import aidkb.queries.explain

    monkeypatch.setattr(aidkb.queries.explain, "MAX_DEPTH", 1)
    case = load_case(SHARED_CASES / "lpp-over-annual-limit.yaml")
    proof = json.loads(json.dumps(decide(case).to_json()["proof"]))
    assert proof["truncated"] == ["why-not is followed 1 levels deep, no deeper"]
    jsonschema.Draft202012Validator(SCHEMA_V2).validate(proof)
    assert check_proof(proof).valid
    hidden = copy.deepcopy(proof)
    del hidden["truncated"]  # a partial explanation may not pass for a complete one
    assert not check_proof(hidden).valid
    text = render.explanation_text(explain(case, with_counterfactuals=False))
    assert "NOTE: this explanation is partial: why-not is followed 1 levels deep" in text


def test_complete_explanations_carry_no_truncation_note(lpp_doc):
    assert "truncated" not in lpp_doc


def test_rendered_text_has_no_internals():
    bad = re.compile(
        r"\bNone\b|(?:=|is|on|from|until|since) 20,2\d\d,\d{3}\b|1900-01-01|9999-12-31|"
        r"\b[Aa] (?:export|iaas|end user|owner|ultimate)\b|the end user is the end user"
    )
    golden = Path(__file__).resolve().parents[1] / "golden"
    found = [
        (p.name, m.group(0)) for p in sorted(golden.glob("*.txt")) for m in bad.finditer(p.read_text(encoding="utf-8"))
    ]
    assert not found, found[:10]


SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def _prose(node):
    """Every sentence, why-not text and refutation reason (its own, each rule tried's, each obstacle's) of a
    proof document: the words a reader reads."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("sentence", "why_not", "reason") and isinstance(value, str):
                yield value
            else:
                yield from _prose(value)
    elif isinstance(node, list):
        for value in node:
            yield from _prose(value)


def test_no_snake_case_id_in_the_words_of_a_proof():
    # A rule sentence, a fact's words and a why-not say a parameter, a country group, a case fact or a case value
    # by its title ("“LPP annual limit” is 26,900,000"; "listed in Country Group D:5 (US arms embargoed)"), never
    # by its id (lpp_annual_tpp_limit, D5, foreign_produced).
    golden = Path(__file__).resolve().parents[1] / "golden"
    found = [
        (p.name, m.group(0), text[:120])
        for p in sorted(golden.glob("*.json"))
        for text in _prose(json.loads(p.read_text(encoding="utf-8")))
        for m in SNAKE_CASE.finditer(text)
    ]
    assert not found, found[:10]


def test_no_reason_of_a_proof_is_a_raw_atom():
    # A rule tried that fails on a fact the rules derive says why that fact fails ("3A090.a is not 4E091 model
    # weights"), never "model_weights_item(c1) does not hold" (regression: every "tried" entry of stop 23's goldens).
    golden = Path(__file__).resolve().parents[1] / "golden"
    atom = re.compile(r"\w\([^()]*\) (?:does not hold|holds)\b")
    found = [
        (p.name, text[:120])
        for p in sorted(golden.glob("*.json")) + sorted(golden.glob("*.txt"))
        for text in (
            _prose(json.loads(p.read_text(encoding="utf-8")))
            if p.suffix == ".json"
            else p.read_text(encoding="utf-8").splitlines()
        )
        if atom.search(text)
    ]
    assert not found, found[:10]


def test_no_snake_case_id_in_the_words_of_a_rule():
    # A rule's sentence and its conditions' failure texts are prose; a case field may be named by its path
    # ("(transaction.memory_bandwidth_gb_s)"), a value only through a placeholder, which is said by its title.
    program = baseline_program()
    texts = [(r.id, r.says) for r in program.rules] + [
        (r.id, lit.unless) for r in program.rules for lit in r.body if getattr(lit, "unless", None)
    ]
    texts += [(d.atom.pred, t) for d in program.declarations for t in (d.template, d.absent or "")]
    field_path = re.compile(r"\btransaction(?:\.[a-z0-9_]+)+")
    found = [(rid, m.group(0)) for rid, text in texts for m in SNAKE_CASE.finditer(field_path.sub("", text))]
    assert not found, found


def test_no_snake_case_id_in_the_summary_of_a_decision():
    # The answer's summary (the part before the proof trees) names ids only as references: a rule id in
    # parentheses, "rule <id>" in a caveat, and the what-if's operations as they were written.
    golden = Path(__file__).resolve().parents[1] / "golden"
    reference = re.compile(r"\(\s*[a-z0-9_]+\s*\)|\brule [a-z0-9_]+|^\s*what if: .*$", re.MULTILINE)
    found = [
        (p.name, m.group(0))
        for p in sorted(golden.glob("*.txt"))
        for m in SNAKE_CASE.finditer(reference.sub("", p.read_text(encoding="utf-8").split("\n\n")[0]))
    ]
    assert not found, found[:10]


def test_check_file_lines_and_exit_codes(tmp_path):
    from aidkb.queries.checker import check_file

    good = tmp_path / "good.json"
    good.write_text(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).to_json()))
    rc, line = check_file(good)
    assert rc == 0 and line.endswith("steps checked)") and ": valid proof (" in line
    reformed = tmp_path / "reformed.json"
    reformed.write_text(json.dumps(decide(load_case(SHARED_CASES / "whatif-raise-lpp-limit.yaml")).to_json()))
    rc, line = check_file(reformed)
    assert rc == 0 and ": valid under reform: set lpp_annual_tpp_limit to 40000000 (" in line
    for name, text in (
        ("digits", '{"format": "proof.v1", "n": ' + "7" * 5000 + "}"),
        ("deep", "[" * 50_000),
        ("list", '{"format": "proof.v1", "question": [], "conclusions": [], "refutations": []}'),
    ):
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        rc, line = check_file(path)
        assert rc in (1, 2) and "\n" not in line and "Traceback" not in line, line
    (tmp_path / "broken.json").write_text("{")
    assert check_file(tmp_path / "broken.json")[0] == 2
    assert check_file(tmp_path / "absent.json")[0] == 2


def test_counterfactual_pair_with_the_largest_quantity_is_found():
    # LPP for a buyer whose ultimate parent is in China: another parent alone is not enough (5,000 units exceed
    # the limit), the quantity alone is not enough (the parent): both together, with 1,699 units, are
    from aidkb.queries.counterfactual import search_counterfactuals

    case = load_case(SHARED_CASES / "acm-denied-tier3-ultimate-parent.yaml")
    found = search_counterfactuals(case, ("authorized", (case.id, "LPP")))
    described = [cf.describe(ontology.load()) for cf in found.found]
    assert any(
        "ultimate parent's headquarters: China (CN) -> a Tier 2 country in no country group, e.g. Brazil (BR)" in d
        and "quantity: 5,000 -> 1,699" in d
        for d in described
    ), described
    assert 26_900_000 // case.tpp_per_unit == 1_699


def test_destinations_are_tried_as_named_classes():
    from aidkb.queries.counterfactual import country_classes

    classes = country_classes(load_case(SHARED_CASES / "tier3-china-datacenter.yaml"), ontology.load())
    assert classes["BR"] == "a Tier 2 country in no country group, e.g. Brazil (BR)"
    assert "AD" not in classes  # a representative, not the first country of the alphabet
    assert len(set(classes.values())) == len(classes)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,route", [("tier3-china-datacenter", "LPP"), ("lpp-denied-d5-headquartered-end-user", "LPP")]
)
def test_counterfactual_search_finds_a_change_whenever_brute_force_does(name, route):
    """Brute force with the engine over the same fields (every single change, every pair of other inputs, and
    every other input with the smallest number): the search finds a change exactly when one exists."""
    import itertools as it

    from aidkb.queries.counterfactual import NUMERIC, Change, Search, _options, search_counterfactuals

    case = load_case(SHARED_CASES / f"{name}.yaml")
    goal = ("authorized", (case.id, route))
    onto = ontology.load()
    options = _options(case, onto)
    variants = [[c] for c in options] + [[a, b] for a, b in it.combinations(options, 2) if a.field != b.field]
    for field, low, _ in NUMERIC:
        if getattr(case, field) is not None and getattr(case, field) > low:
            variants += [[Change(field, None, low)]] + [[c, Change(field, None, low)] for c in options]
    exists = any(Search(case, goal).which(variants))
    found = search_counterfactuals(case, goal, onto)
    assert bool(found.found) == exists
    assert found.tried > 0 and ("among the" in found.summary()) != exists


def test_every_obstacle_is_listed_the_first_stays_first(tmp_path):
    # 5,000 units to the UAE: over the LPP limit, and LPP is also not available in D:4 under 740.2(a)(9)(ii)
    import yaml

    data = yaml.safe_load((OWN_CASES / "lpp-not-available-in-d4-uae.yaml").read_text())
    data["id"], data["transaction"]["quantity"] = "uae-5000-units", 5000
    data.pop("expected")
    path = tmp_path / "uae.yaml"
    path.write_text(yaml.safe_dump(data))
    d = decide(load_case(path))
    (lpp,) = [n for n in d.proof["refutations"] if n["atom"][2] == "LPP"]
    reasons = [o["reason"] for o in lpp["obstacles"]]
    assert reasons[0] == lpp["reason"] and "exceeds the annual limit of 26,900,000 TPP" in reasons[0]
    assert any("740.2(a)(9)(ii)" in r for r in reasons[1:])
    assert check_proof(json.loads(json.dumps(d.to_json()))).valid
    text = render.explanation_text(explain(load_case(path), "LPP", with_counterfactuals=False))
    assert "every obstacle (" in text and "740.2(a)(9)(ii)" in text


def test_why_not_of_a_missing_input_names_what_is_missing():
    # regression: an input with open arguments was said as its template with "any" ("not given: before this
    # shipment the UVEU holds any global TPP worldwide, any tier1 in the US and Tier 1, any us in the US ..."):
    # the declaration's text after `?` names what is missing instead.
    from aidkb.queries.explain import Explainer

    explainer = Explainer(None, baseline_program(), ontology.load())  # type: ignore[arg-type]  # no engine asked
    failure = explainer.why_not("uveu_holdings", ("a-case", None, None, None, None))
    assert failure.text == (
        "not given: the UVEU's TPP before this shipment (worldwide, in the US and Tier 1, in the US, in the destination)"
    )
    assert explainer.why_not("quantity", ("a-case", None)).text == "not given: the number of units"
    assert explainer.why_not("quantity", ("a-case", 5)).text == "not given: the shipment has 5 units"


def test_a_share_just_over_a_limit_never_reads_as_the_limit():
    # regression: shares were rounded to two places, so 700,000,001 of 10,000,000,000 TPP read "= 7%, above the 7%
    # single-Tier-2-country limit"; now exact where the decimal ends within ten places, else "about" it
    from fractions import Fraction

    from aidkb.queries import proof_model as model
    from aidkb.queries.explain import format_value

    d = decide(load_case(OWN_CASES / "uveu-just-over-7-percent-in-tier2.yaml"))
    assert "700,000,001 of 10,000,000,000 TPP = 7.00000001%, above the 7%" in d.not_available["UVEU"]
    assert format_value("Share", 7_400_000_000 * 100 / 10_158_320_000) == "about 72.85"
    assert format_value("Share", 825 / 100) == "8.25" and format_value("Share", 75.0) == "75"
    assert format_value("Share", model.Share(Fraction(7 * 10**13 + 1, 10**13), "percent")) == "about 7.0000000000"
