"""Reforms and what-ifs: operations validated and applied to a copy; the baseline never changes (100 random
reforms, two threads); impact over cases and the grid; properties the rule implies."""

from __future__ import annotations

import dataclasses
import json
import pickle
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidkb import ontology
from aidkb.queries.case import load_case
from aidkb.queries.decide import decide
from aidkb.queries.impact import GRID_ITEMS, GRID_PROFILES, grid_case, grid_flips, impact, outcomes
from aidkb.queries.reform import Reform, ReformError, load_reform

from ..conftest import OWN_CASES, ROOT, SHARED_CASES

CASES = sorted(SHARED_CASES.glob("*.yaml")) + sorted(OWN_CASES.glob("*.yaml"))
MY = SHARED_CASES / "whatif-move-malaysia-to-tier1.yaml"


def _answers() -> dict[str, str]:
    return {p.name: json.dumps(decide(load_case(p)).to_json(), sort_keys=True) for p in CASES}


def test_operations_apply_to_a_copy(onto):
    base = onto.facts()
    before = list(base)
    r = (
        Reform()
        .move_country("MY", 1, "2025-06-01")
        .add_to_group("VN", "D5")
        .remove_from_group("CN", "D1")
        .set_parameter("lpp_annual_tpp_limit", 40_000_000, "2026-01-01")
    )
    facts = r.apply(base)
    assert base == before  # nothing changed in place
    assert ("group_member", "MY", "Supp5A", 20250601, ontology.OPEN_END) in facts
    assert ("group_member", "VN", "D5", 19000101, ontology.OPEN_END) in facts
    assert not [f for f in facts if f[:3] == ("group_member", "CN", "D1")]
    lpp = sorted(f for f in facts if f[:2] == ("param", "lpp_annual_tpp_limit"))
    assert lpp == [
        ("param", "lpp_annual_tpp_limit", 26_900_000, 20250113, 20260101),
        ("param", "lpp_annual_tpp_limit", 40_000_000, 20260101, ontology.OPEN_END),
    ]


@pytest.mark.parametrize(
    "ops, field, words",
    [
        ([{"move_country": {"country": "XX", "to_tier": 1}}], "operations[0].move_country.country", "unknown country"),
        (
            [{"move_country": {"country": "US", "to_tier": 2}}],
            "operations[0].move_country.country",
            "Tier 1 by definition",
        ),
        ([{"move_country": {"country": "MY", "to_tier": 4}}], "operations[0].move_country.to_tier", "1, 2 or 3"),
        ([{"add_to_group": {"country": "MY", "group": "D9"}}], "operations[0].add_to_group.group", "unknown group"),
        (
            [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": -1}}],
            "operations[0].set_parameter.value",
            "non-negative",
        ),
        (
            [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 1.5}}],
            "operations[0].set_parameter.value",
            "whole number",
        ),
        (
            [{"set_parameter": {"name": "compliance_date", "value": "2025-13-01"}}],
            "operations[0].set_parameter.value",
            "date",
        ),
        ([{"disable_rule": {"id": "no_such_rule"}}], "operations[0].disable_rule.id", "no rule"),
        (
            [
                {
                    "replace_rule": {
                        "id": "lpp_authorizes",
                        "text": '@rule lpp_authorizes\n@cite "x"\n@says "y"\n'
                        'eligible(C, "LPP") :- lpp_conditions_met(C',
                    }
                }
            ],
            "operations[0].replace_rule.text",
            "4:",
        ),
        (
            [
                {
                    "replace_rule": {
                        "id": "lpp_authorizes",
                        "text": '@rule other\n@cite "x"\n@says "y"\neligible(C, "LPP") :- case(C).',
                    }
                }
            ],
            "operations[0].replace_rule.text",
            "not 'lpp_authorizes'",
        ),
        (
            [{"add_rule": {"text": '@rule extra\n@cite "x"\n@says "y"\neligible(C, "LPP") :- case(C), not hq(C, H).'}}],
            "operations",
            "unsafe negation",
        ),
        ([{"fly_to_the_moon": {}}], "operations[0].fly_to_the_moon", "unsupported"),
    ],
)
def test_bad_reform_file(tmp_path, ops, field, words):
    path = tmp_path / "reform.yaml"
    path.write_text(json.dumps({"title": "t", "operations": ops}))
    with pytest.raises(ReformError) as e:
        load_reform(path)
    assert field in str(e.value) and words in str(e.value), str(e.value)


def test_rule_operations_amend_a_copy_of_the_rules(program):
    r = Reform().disable_rule("acm_supply_chain")
    amended = r.program()
    assert "acm_supply_chain" not in {x.id for x in amended.rules} and amended.version != program.version
    assert "acm_supply_chain" in {x.id for x in program.rules}
    case = load_case(SHARED_CASES / "acm-eligible-server-assembly-malaysia.yaml")
    assert decide(case).authorized_by == ["ACM"]
    assert decide(dataclasses.replace(case, what_if=r.operations)).authorized_by == []
    assert decide(case).authorized_by == ["ACM"]


def test_case_what_if_with_every_kind_of_operation():
    case = load_case(SHARED_CASES / "lpp-over-annual-limit.yaml")
    r = Reform().set_parameter("lpp_annual_tpp_limit", 36_000_000)
    assert decide(dataclasses.replace(case, what_if=r.operations)).authorized_by == ["LPP"]
    r = Reform().move_country("MY", 3)
    d = decide(dataclasses.replace(case, what_if=r.operations))
    assert d.review_policy == "presumption of denial" and "D:5" in d.not_available["LPP"]


@pytest.mark.slow
def test_random_reforms_never_leak_into_the_baseline():
    baseline = _answers()
    onto = ontology.load()
    countries = sorted(onto.countries - {"US"} if isinstance(onto.countries, set) else set(onto.countries) - {"US"})
    ops = st.one_of(
        st.builds(
            lambda c, t: {"move_country": {"country": c, "to_tier": t}},
            st.sampled_from(countries),
            st.sampled_from([1, 2, 3]),
        ),
        st.builds(
            lambda c, g: {"add_to_group": {"country": c, "group": g}},
            st.sampled_from(countries),
            st.sampled_from(["D1", "D4", "D5", "A5", "A6"]),
        ),
        st.builds(lambda v: {"set_parameter": {"name": "lpp_annual_tpp_limit", "value": v}}, st.integers(0, 10**9)),
        st.builds(
            lambda i: {"disable_rule": {"id": i}},
            st.sampled_from(
                ["aia_advanced_computing", "lpp_authorizes", "acm_supply_chain", "uveu_authorizes", "red_flag_28"]
            ),
        ),
    )
    case_files = st.sampled_from(CASES)

    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(ops, min_size=1, max_size=3), case_files)
    def run(operations, path):
        case = load_case(path)
        reform = Reform()
        try:
            for op in operations:
                ((name, args),) = op.items()
                reform = reform._with(name, args)
        except ReformError:
            return  # refused (e.g. a rule disabled twice): a clear error that changes nothing
        decide(dataclasses.replace(case, what_if=case.what_if + reform.operations))

    run()
    assert _answers() == baseline


def test_two_threads_with_different_reforms_get_their_own_answers():
    case = load_case(MY)
    plain = dataclasses.replace(case, what_if=())
    expected = {"tier1": decide(case).authorized_by, "none": decide(plain).authorized_by}
    assert expected["tier1"] != expected["none"]
    got: dict[str, list] = {"tier1": [], "none": []}
    errors = []

    def work(name, c):
        try:
            for _ in range(15):
                got[name].append(decide(c).authorized_by)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=("tier1", case)), threading.Thread(target=work, args=("none", plain))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(a == expected["tier1"] for a in got["tier1"]) and all(a == expected["none"] for a in got["none"])


def test_impact_over_cases_lists_flips_with_causes():
    cases = [load_case(p) for p in sorted(SHARED_CASES.glob("*.yaml")) if p.name != MY.name]
    result = impact(load_reform(ROOT / "examples" / "reforms" / "move-malaysia-to-tier1.yaml"), cases)
    flipped = {f.key: f for f in result.flips}
    assert "lpp-over-annual-limit" in flipped and "tier3-china-datacenter" not in flipped
    f = flipped["lpp-over-annual-limit"]
    assert f.after.authorized == ("AIA",) and not f.before.authorized
    assert "reform: move MY to Tier 1" in f.causes
    assert any(
        c.startswith("now fires: aia_advanced_computing: ") and "in Malaysia (MY) (Tier 1)" in c for c in f.causes
    )
    assert (
        "premise added: Malaysia (MY) is listed in para (a) of Supp. No. 5 to part 740 from the start of the record until "
        "further notice" in f.causes
    )
    assert all(f.country == "MY" for f in result.flips)


@pytest.mark.slow
def test_grid_impact_of_a_tier_move_matches_one_at_a_time_deciding():
    flips, compared, evaluated = grid_flips(Reform().move_country("MY", 1))
    assert compared == 249 * len(GRID_ITEMS) * len(GRID_PROFILES) and evaluated <= 200
    assert {g.country for _, g in flips} == {"MY"}
    # the set-at-a-time class evaluation agrees with deciding grid points one at a time
    sample = [g for _, g in flips][::7]
    for g in sample:
        one = outcomes([grid_case(g)], Reform().move_country("MY", 1))[g.key]
        flip = next(f for f, h in flips if h == g)
        assert one == flip.after


# the tier-move properties: name the provision when a route is lost
ALLOWED_LOSSES = {"NAC": "15 CFR 740.8: NAC applies only where notice is required; ACA takes over"}


@pytest.mark.slow
@pytest.mark.parametrize("country, to_tier", [("MY", 1), ("IN", 1), ("SA", 1), ("RU", 2), ("CU", 2), ("MO", 2)])
def test_moving_up_a_tier_never_adds_a_licence_or_removes_a_route(country, to_tier):
    for flip, g in grid_flips(Reform().move_country(country, to_tier))[0]:
        assert not (flip.after.license_required and not flip.before.license_required), g.key
        lost = set(flip.before.authorized) - set(flip.after.authorized)
        assert lost <= set(ALLOWED_LOSSES), (g.key, lost)
        if "NAC" in lost:
            assert "ACA" in flip.after.authorized, g.key


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["lpp_annual_tpp_limit", "tier2_country_allocation_tpp", "nveu_destination_cap_tpp"]),
    st.integers(1, 10**9),
    st.integers(0, len(GRID_ITEMS) * len(GRID_PROFILES) - 1),
    st.sampled_from(["MY", "BR", "VN", "IN", "DE", "IL"]),
)
def test_raising_a_limit_never_makes_an_eligible_case_ineligible(name, increase, index, country):
    from aidkb.queries.impact import GridCase

    g = GridCase(country, GRID_ITEMS[index % len(GRID_ITEMS)], index // len(GRID_ITEMS))
    current = ontology.load().parameter(name, 20250601).value
    before = outcomes([grid_case(g)], Reform())[g.key]
    after = outcomes([grid_case(g)], Reform().set_parameter(name, current + increase))[g.key]
    assert set(before.authorized) <= set(after.authorized)
    assert before.license_required == after.license_required


def test_decision_rules_after_the_deadline_worker_are_the_rules_given_with_rules_dir(tmp_path):
    """Issue 14: `Decision.rules()` of a decision sent back from the deadline worker rebuilt the installed rules
    even when `--rules DIR` was given, so `decide --rules DIR --json` typed and checked its proof by other rules."""
    from aidkb.app.cli import _decide
    from aidkb.kb.deadline import Worker
    from aidkb.kb.program import RULES_DIR

    case = load_case(SHARED_CASES / "lpp-over-annual-limit.yaml")
    top = decide(case).proof["conclusions"][0]["rule"]
    rules = tmp_path / "rules"
    rules.mkdir()
    changed = 0
    for f in sorted(RULES_DIR.glob("*.dl")):
        text = f.read_text()
        at = text.find(f"@rule {top}\n")
        if at >= 0:
            says = text.index('@says "', at) + len('@says "')
            text = text[:says] + "under the rules of this folder, " + text[says:]
            changed += 1
        (rules / f.name).write_text(text)
    assert changed == 1
    with Worker() as worker:
        sent = worker.call(_decide, case, str(rules))
    assert sent.rules().rule(top).says.startswith("under the rules of this folder, ")
    assert sent.rules().version == sent.ruleset_version
    assert sent.to_json()["proof"]["ruleset_version"] == sent.ruleset_version
    installed = decide(case)
    assert not installed.rules().rule(top).says.startswith("under the rules")
    assert pickle.loads(pickle.dumps(installed)).program is None  # the installed rules stay behind


D6_RULE = (
    '@rule d5_member\n@cite "Supp. No. 1 to part 740"\n@says "{Country} is in Country Group D:5"\n'
    'd5_or_macau(C, Country) :- listed(C, Country, "D6").'
)


@pytest.mark.parametrize(
    "op,field",
    [
        ({"replace_rule": {"id": "d5_member", "text": D6_RULE}}, "operations[0].replace_rule.text"),
        ({"add_rule": {"text": D6_RULE.replace("@rule d5_member", "@rule d6_member")}}, "operations[0].add_rule.text"),
    ],
)
def test_a_reform_rule_naming_an_undeclared_group_is_refused(tmp_path, op, field):
    """Issue 14: `aidkb rules` refused a rule constant that names no declared group ("D6" for "D5"), but a
    reform's add_rule and replace_rule took it, and every D:5 destination silently left Tier 3."""
    path = tmp_path / "reform.yaml"
    path.write_text(json.dumps({"title": "t", "operations": [op]}))
    with pytest.raises(ReformError) as e:
        load_reform(path)
    assert e.value.field == field
    assert (
        '"D6" in listed(...)' in e.value.message
        and "is not a group the knowledge base declares (did you mean 'D5'?)" in str(e.value)
    )


def test_the_command_line_refuses_a_reform_rule_naming_an_undeclared_group(tmp_path, capsys):
    from aidkb.app.cli import main

    path = tmp_path / "reform.yaml"
    path.write_text(json.dumps({"title": "t", "operations": [{"replace_rule": {"id": "d5_member", "text": D6_RULE}}]}))
    assert main(["impact", str(path), "--grid"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: operations[0].replace_rule.text: "), err
    assert "did you mean 'D5'?" in err[0]


def test_http_refuses_a_reform_rule_naming_an_undeclared_group_naming_the_field():
    from fastapi.testclient import TestClient

    from aidkb.app.api import create_app
    from aidkb.queries.service import Pool

    pool, slow = Pool(1, seconds=120), Pool(1, seconds=120)
    reform = {"operations": [{"add_rule": {"text": D6_RULE.replace("@rule d5_member", "@rule d6_member")}}]}
    try:
        with TestClient(create_app(pool=pool, slow=slow), base_url="http://127.0.0.1") as client:
            r = client.post("/v1/impact", json={"reform": reform, "grid": True})
    finally:
        pool.close()
        slow.close()
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "reform.operations[0].add_rule.text" and '"D6"' in r.json()["error"], r.json()
