"""proof.v2 and the defects of issue 14 it answers: typed values (dates, amounts with units, countries, open
validity), conclusions keyed by atom, a words version, every obstacle per route in a decision, the converter from
proof.v1; and named regression tests for the tamperings the checker once accepted."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from aidkb.app.cli import main
from aidkb.queries.case import load_case
from aidkb.queries.checker import check_proof
from aidkb.queries.decide import decide
from aidkb.queries.proof import children
from aidkb.queries.proof_v2 import atom_key, convert_v1
from aidkb.queries.render import decision_text

from ..conftest import OWN_CASES, SHARED_CASES

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture(scope="module")
def goldens() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(GOLDEN.glob("*.json"))}


def _values(x, out: list) -> list:
    """Every JSON scalar and typed value in a document (a typed value as one dict), but failed_at (the position
    of a rule's condition) and the what-if operations (in their input form, as a reform file writes them)."""
    if isinstance(x, dict) and set(x) in ({"date"}, {"amount", "unit"}, {"decimal", "unit"}, {"country", "name"}):
        out.append(x)
    elif isinstance(x, dict):
        for k, v in x.items():
            if k not in ("failed_at", "what_if"):
                _values(v, out)
    elif isinstance(x, list):
        for v in x:
            _values(v, out)
    else:
        out.append(x)
    return out


def _nodes(doc: dict) -> list[dict]:
    out, stack = [], list(doc["conclusions"].values()) + list(doc["refutations"].values())
    while stack:
        n = stack.pop()
        out.append(n)
        stack += [c for _, c in children(n)]
    return out


def test_json_numbers_are_exact_integers_with_units_no_floats(goldens):
    for name, doc in goldens.items():
        values = _values(doc, [])
        assert not [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)], name
        amounts = [v for v in values if isinstance(v, dict) and "amount" in v]
        assert amounts and all(type(v["amount"]) is int and v["unit"] for v in amounts), name
    units = {v["unit"] for doc in goldens.values() for v in _values(doc, []) if isinstance(v, dict) and "unit" in v}
    assert {"TPP", "units", "operations", "percent"} <= units and "number" not in units


def test_json_dates_are_dates_not_yyyymmdd_numbers(goldens):
    lpp = goldens["lpp-under-annual-limit"]
    compliance = next(
        n
        for n in _nodes(lpp)
        if n.get("kind") == "fact" and n["atom"][0] == "param" and n["atom"][1] == "compliance_date"
    )
    assert compliance["source"]["value"] == {"date": "2025-05-15"}
    assert lpp["question"]["inputs"][1] == ["as_of", "lpp-under-annual-limit", {"date": "2025-06-01"}]
    for doc in goldens.values():
        dates = [v["date"] for v in _values(doc, []) if isinstance(v, dict) and "date" in v]
        assert all(d == "open" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates)


def test_json_has_no_sentinel_dates_unbounded_validity_is_open(goldens):
    for name, doc in goldens.items():
        text = json.dumps(doc)
        assert "1900-01-01" not in text and "9999-12-31" not in text and "19000101" not in text, name
    lpp = goldens["lpp-under-annual-limit"]
    limit = next(n for n in _nodes(lpp) if n.get("kind") == "fact" and n["atom"][1] == "lpp_annual_tpp_limit")
    assert limit["source"]["valid_from"] == {"date": "2025-01-13"} and limit["source"]["valid_to"] == {"date": "open"}


def test_countries_carry_code_and_name(goldens):
    inputs = dict((a[0], a[2]) for a in goldens["lpp-under-annual-limit"]["question"]["inputs"] if len(a) == 3)
    assert inputs["destination"] == {"country": "MY", "name": "Malaysia"}
    assert inputs["origin"] == {"country": "US", "name": "United States"}


def test_conclusions_are_keyed_by_atom_not_position(goldens):
    for doc in goldens.values():
        for section in ("conclusions", "refutations"):
            assert all(
                key == atom_key([n["atom"][0]] + [_raw(a) for a in n["atom"][1:]]) for key, n in doc[section].items()
            )
    assert "authorized(lpp-over-annual-limit, LPP)" in goldens["lpp-over-annual-limit"]["refutations"]


def _raw(v):
    if isinstance(v, dict):
        return v.get("country") or v.get("amount") or int(v["date"].replace("-", ""))
    return v


def test_proof_names_its_rule_set_and_words_versions(goldens):
    doc = goldens["lpp-under-annual-limit"]
    assert doc["format"] == "proof.v2" and doc["ruleset_version"] and doc["words"] == "words.5"


def test_old_words_are_named_in_the_verdict():
    d = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).to_json()))
    d["proof"]["words"] = "words.2"
    result = check_proof(d)
    assert not result.valid and result.error.startswith("proof.words: written in the wording 'words.2'")


def _uae_5000(tmp_path) -> Path:
    data = yaml.safe_load((OWN_CASES / "lpp-not-available-in-d4-uae.yaml").read_text())
    data["id"], data["transaction"]["quantity"] = "uae-5000-units", 5000
    data.pop("expected")
    path = tmp_path / "uae.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_decision_not_available_gives_every_obstacle_per_route(tmp_path):
    d = decide(load_case(_uae_5000(tmp_path)))
    assert d.obstacles["LPP"][0] == d.not_available["LPP"]  # the reason given first stays first
    assert "exceeds the annual limit of 26,900,000 TPP" in d.not_available["LPP"]
    assert any("740.2(a)(9)(ii)" in r for r in d.obstacles["LPP"][1:])
    assert set(d.obstacles) == set(d.not_available)
    text = " ".join(decision_text(d).split())  # unwrapped
    assert "also: " + d.obstacles["LPP"][1] in text
    doc = json.loads(json.dumps(d.to_json()))
    assert check_proof(doc).valid
    doc["obstacles"]["LPP"] = doc["obstacles"]["LPP"][:1]  # one obstacle hidden
    result = check_proof(doc)
    assert not result.valid and result.error.startswith("obstacles: the proof gives")


def test_changed_fact_source_citation_is_caught():
    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).to_json()))
    fact = next(n for n in _nodes(doc["proof"]) if n.get("kind") == "fact" and "citation" in n["source"])
    fact["source"]["citation"] = "15 CFR 999.1"
    result = check_proof(doc)
    assert not result.valid and ".source: the source of " in result.error


def test_changed_why_not_text_and_category_are_caught():
    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-over-annual-limit.yaml")).to_json()))
    negation = next(n for n in _nodes(doc["proof"]) if n.get("kind") == "not")
    negation["why_not"] = negation["why_not"] + " after all"
    assert ".why_not" in check_proof(doc).error
    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-over-annual-limit.yaml")).to_json()))
    lpp = doc["proof"]["refutations"]["authorized(lpp-over-annual-limit, LPP)"]
    assert lpp["category"] == "threshold exceeded"
    lpp["category"] = "not applicable"
    error = check_proof(doc).error
    assert error.startswith('proof.refutations["authorized(lpp-over-annual-limit, LPP)"].category'), error


def test_a_value_of_no_type_is_one_error_line(monkeypatch):
    import aidkb.queries.checker

    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).to_json()))
    doc["proof"]["question"]["inputs"][1][2] = {"date": "20250601"}
    result = check_proof(doc)
    assert result.error.startswith("proof.question.inputs[1][2]: not valid against the proof.v2 schema")
    monkeypatch.setattr(aidkb.queries.checker, "_SCHEMA", {"proof.v1": None, "proof.v2": None})  # without jsonschema
    result = check_proof(doc)
    assert not result.valid and "\n" not in result.error and "a value of no proof.v2 type" in result.error


def test_proof_under_add_rule_checks_valid_and_carries_the_rule_text(tmp_path):
    rule = (
        '@rule extra_flag_for_malaysia @cite "15 CFR 744.6" @says "a test flag on {C}" '
        'red_flag(C, "unknown_end_user") :- case(C), destination(C, "MY").'
    )
    data = yaml.safe_load((SHARED_CASES / "lpp-under-annual-limit.yaml").read_text())
    data["id"], data["what_if"] = "added-rule", [{"add_rule": {"text": rule}}]
    data.pop("expected", None)
    path = tmp_path / "added.yaml"
    path.write_text(yaml.safe_dump(data))
    doc = json.loads(json.dumps(decide(load_case(path)).to_json()))
    assert doc["proof"]["question"]["what_if"] == [{"op": "add_rule", "args": {"text": rule}}]
    result = check_proof(doc)
    assert result.valid and "add rule extra_flag_for_malaysia" in result.verdict(), result.error


def test_convert_proof_writes_a_v1_proof_as_the_v2_one(tmp_path, capsys):
    d = decide(load_case(SHARED_CASES / "uveu-8-percent-exceeds.yaml"))
    written = json.loads(json.dumps(d.to_json()))
    v1 = json.loads(json.dumps(d.proof))
    assert convert_v1(v1) == written["proof"]
    old = {k: v for k, v in written.items() if k != "obstacles"} | {"proof": v1}  # a decision.v1 answer
    assert convert_v1(old) == written
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    assert main(["convert-proof", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == written["proof"]
    path.write_text(json.dumps({"format": "proof.v3"}))
    assert main(["convert-proof", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: format: not a proof.v1 document")


def test_v1_proof_is_checked_with_a_note():
    v1 = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).proof))
    verdict = check_proof(v1).verdict()
    assert verdict.startswith("valid proof (") and "a proof.v1 document (the previous format)" in verdict


def test_tampered_v1_is_still_rejected():
    v1 = json.loads(json.dumps(decide(load_case(SHARED_CASES / "lpp-under-annual-limit.yaml")).proof))
    changed = copy.deepcopy(v1)
    changed["conclusions"][0]["sentence"] += "!"
    assert not check_proof(changed).valid


def test_an_amount_written_as_a_decimal_is_caught():
    """A whole number is an amount: {"decimal": "26900000"} where the rules give {"amount": 26900000} differs,
    wherever it stands (a decimal's text always has a fractional part: "85.0")."""
    doc = json.loads(json.dumps(decide(load_case(SHARED_CASES / "acm-denied-tier3-ultimate-parent.yaml")).to_json()))
    text = json.dumps(doc)
    sites = list(re.finditer(r'\{"amount": (\d+), "unit": "(\w+)"\}', text))
    assert len(sites) >= 4  # among them the question's consignee_ytd, an amount no comparison reads
    for site in sites:
        as_decimal = f'{{"decimal": "{site.group(1)}", "unit": "{site.group(2)}"}}'
        result = check_proof(json.loads(text[: site.start()] + as_decimal + text[site.end() :]))
        assert not result.valid and "\n" not in result.error, (site.start(), result)
