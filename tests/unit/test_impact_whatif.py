"""The impact layer behind the What-if page: the grid at a chosen date and reading, totals before and after,
kinds of flip, the fine sub-grid and its parameter sweep, causes in the rules' sentences."""

from __future__ import annotations

import datetime as dt

import pytest

from aidkb.kb.program import baseline_program
from aidkb.queries.impact import (
    FINE_PROFILES,
    STATUSES,
    GridCase,
    Profile,
    baseline_classes,
    cause_sentences,
    causes,
    grid_case,
    grid_flips,
    grid_point,
    grid_size,
    impact,
    outcomes,
    sql_engine,
    sweep,
    tier_of_countries,
    why,
)
from aidkb.queries.reform import Reform

JUNE_2025 = dt.date(2025, 6, 1)
LOWER_LPP = Reform().set_parameter("lpp_annual_tpp_limit", 10_000_000)


def fine_point(country: str, quantity: int, ytd: int, hq: str = "dest") -> GridCase:
    profile = Profile(hq=hq, parent=hq, veu=None, quantity=quantity, ytd=ytd)
    return GridCase(country, "3A090.a", FINE_PROFILES.index(profile), "fine")


def test_lowering_the_lpp_limit_to_10m_flips_fine_points_that_lpp_authorised():
    flips, compared, _ = grid_flips(LOWER_LPP, as_of=JUNE_2025, grid_name="fine")
    assert compared == grid_size("fine") and flips
    by_key = {f.key: f for f, _ in flips}
    # 1,000 units x 15,832 TPP = 15,832,000 TPP: within 26,900,000 (LPP, 740.29), over 10,000,000
    over = fine_point("MY", 1000, 0)
    assert "LPP" in by_key[over.key].before.authorized and "LPP" not in by_key[over.key].after.authorized
    assert by_key[over.key].kind == "tighter"
    # the set-at-a-time answer is the one-case-at-a-time engine's
    assert outcomes([grid_case(over, JUNE_2025)], LOWER_LPP)[over.key] == by_key[over.key].after
    # 100 units = 1,583,200 TPP, with 5,000,000 already shipped: within both limits
    assert fine_point("MY", 100, 5_000_000).key not in by_key
    # in a Tier 1 destination LPP is lost as a route, but AIA (740.27) still authorises: route-only flips
    germany = [f for f, _ in flips if f.country == "DE"]
    assert germany and all(f.kind == "route-only" and f.after.authorized == ("AIA",) for f in germany)


@pytest.mark.parametrize("as_of, mode", [(dt.date(2024, 6, 1), "as_published"), (JUNE_2025, "as_enforced")])
def test_an_lpp_change_flips_nothing_where_the_rule_does_not_apply(as_of, mode):
    # before the rule's effective date, and as enforced after BIS's 13 May 2025 non-enforcement announcement
    flips, _, _ = grid_flips(LOWER_LPP, as_of=as_of, mode=mode, grid_name="fine")
    assert flips == []


def test_the_grid_is_decided_at_the_date_asked():
    before_rule = baseline_classes(dt.date(2024, 6, 1))
    under_rule = baseline_classes(JUNE_2025)
    assert {o.authorized for o in under_rule.values()} != {o.authorized for o in before_rule.values()}
    assert not any("LPP" in o.authorized for o in before_rule.values())


def test_sweep_counts_flips_against_the_law_in_force():
    rows = sweep("lpp_annual_tpp_limit", [1_000_000, 10_000_000, 26_900_000, 40_000_000], JUNE_2025)
    by_value = {r["value"]: r for r in rows}
    assert by_value[26_900_000]["flips"] == 0  # the limit in force (740.29): nothing changes
    assert by_value[1_000_000]["tighter"] >= by_value[10_000_000]["tighter"] > 0
    assert by_value[40_000_000]["looser"] > 0 and by_value[40_000_000]["tighter"] == 0
    assert all(r["flips"] == r["tighter"] + r["looser"] + r["route-only"] for r in rows)


def test_status_totals_before_and_after_add_up():
    result = impact(Reform().move_country("MY", 1), use_grid=True, explain_causes=False, as_of=JUNE_2025)
    totals = result.status_totals()
    for when in ("before", "after"):
        assert sum(totals[when]["all"].values()) == result.compared
        assert sum(sum(row.values()) for row in totals[when]["by_country"].values()) == result.compared
    looser = sum(f.kind == "looser" for f in result.flips)
    assert looser > 0 and not any(f.kind == "tighter" for f in result.flips)
    assert (totals["before"]["all"][STATUSES[2]] - totals["after"]["all"][STATUSES[2]]) == looser
    my_before, my_after = totals["before"]["by_country"]["MY"], totals["after"]["by_country"]["MY"]
    assert my_after[STATUSES[1]] > my_before[STATUSES[1]]  # AIA authorises in Tier 1 (740.27)
    assert totals["before"]["by_country"]["DE"] == totals["after"]["by_country"]["DE"]
    assert result.to_json()["as_of"] == "2025-06-01" and result.to_json()["totals"]["by_kind"]["looser"] == looser


def test_causes_in_the_rules_own_sentences():
    program = baseline_program()
    g = fine_point("MY", 1000, 0)
    found = causes(grid_case(g, JUNE_2025), LOWER_LPP)
    sentences = cause_sentences(found, LOWER_LPP)
    assert len(sentences) == len(found)
    assert not any(s.startswith(("now fires:", "no longer fires:", "premise")) for s in sentences)
    lpp = next(r for r in program.rules if r.id == "lpp_conditions")
    # each rule under the values it applied with: 1,000 units of 15,832 TPP to MY, within the old 26.9 M limit
    # (740.29); now over the new 10 M limit, the licence counts against MY's Tier 2 allocation (Supp. 5 para (c))
    assert (
        "No longer applies: LPP's own conditions are met: the export of 3A090.a goes to Malaysia (MY), outside D:5 "
        "and Macau, for an end user headquartered in Malaysia (MY) with its ultimate parent in Malaysia (MY), and "
        "0 + 15,832,000 = 15,832,000 TPP is within the annual limit of 26,900,000 TPP per consignee "
        f"({lpp.cites[0]}) [rule lpp_conditions]"
    ) in sentences
    assert any(
        s.startswith("Now applies: 0 TPP already counted + 15,832,000 TPP = 15,832,000 TPP, within the allocation of ")
        and s.endswith("[rule within_allocation]")
        for s in sentences
    )
    assert not any("{" in s or "?" in s for s in sentences)
    assert "The reform: set lpp_annual_tpp_limit to 10000000" in sentences


def test_why_reads_a_flip_from_its_key():
    found = why(fine_point("MY", 1000, 0).key, LOWER_LPP, None, JUNE_2025)
    assert found == cause_sentences(causes(grid_case(fine_point("MY", 1000, 0), JUNE_2025), LOWER_LPP), LOWER_LPP)
    assert grid_point("MY/3A090.a/profile 12") == GridCase("MY", "3A090.a", 12)
    assert grid_point("lpp-one-tpp-over-annual-limit") is None and grid_point("MY/9Z999/fine 1") is None
    with pytest.raises(ValueError):
        why("some-case", LOWER_LPP, None)


def _pydatalog_tiers(reform: Reform, on: dt.date) -> dict[str, int]:
    from aidkb import ontology
    from aidkb.queries.decide import engine_for

    engine = engine_for(reform, reform.program())
    out: dict[str, int] = {}
    with engine.facts([("case", "tiers"), ("as_of", "tiers", ontology.date_number(on))]):
        for n in (2, 1, 3):  # a later tier wins, as the tier rules exclude the others
            out.update({c: n for _, c in engine.ask(f"tier{n}", ("tiers", None))})
    return out


QUOTIENT_RULE = '@rule kept_share\n@cite "x"\n@says "y"\nhalf(C, H) :- quantity(C, Q), H = Q / 2.'


@pytest.mark.parametrize(
    "reform",
    [
        Reform(),
        Reform().move_country("MY", 1).move_country("DE", 3),
        Reform().disable_rule("tier1_supplement_5_para_a"),
        Reform().add_rule(QUOTIENT_RULE),  # a stored quotient: the SQL engine refuses, pyDatalog places them
    ],
    ids=["baseline", "moves", "rule off", "rule sql refuses"],
)
def test_tiers_of_countries_are_the_tier_rules_own(reform):
    from aidkb.kb.sqlengine import SqlTypeError

    if reform.operations and reform.operations[0].op == "add_rule":
        with pytest.raises(SqlTypeError, match="quotient"):
            sql_engine(reform).evaluate([("case", "tiers"), ("as_of", "tiers", 20_000)], ("tier1",))
    for on in (dt.date(2024, 6, 1), JUNE_2025, dt.date(2026, 3, 1)):
        found = tier_of_countries(reform, on)
        assert found == _pydatalog_tiers(reform, on), (reform.describe(), on)
        found["MY"] = 0  # each caller gets its own copy
        assert tier_of_countries(reform, on)["MY"] in (1, 2, 3)
    moved = tier_of_countries(Reform().move_country("MY", 1).move_country("DE", 3), JUNE_2025)
    assert (moved["MY"], moved["DE"], tier_of_countries(Reform(), JUNE_2025)["MY"]) == (1, 3, 2)


@pytest.mark.parametrize(
    "reform",
    [Reform().move_country("MY", 1), Reform().move_country("BR", 3), Reform().move_country("CN", 2)],
    ids=["MY to Tier 1", "BR (a fixed headquarters) to Tier 3", "CN (a fixed parent) to Tier 2"],
)
def test_a_tier_move_reevaluates_only_what_it_can_change(reform):
    """grid_flips evaluates again only the classes of countries whose listings moved (or whose points name a
    moved country as headquarters or parent) and copies the rest from the baseline: every point of a sample of
    countries decided directly, one case per point, before and after, gives the same flips."""
    from aidkb.queries.impact import GRID_ITEMS, GRID_PROFILES, baseline_classes, grid_case, sql_outcomes

    flips, _, evaluated = grid_flips(reform)
    countries = ["MY", "BR", "CN", "US", "DE", "IN", "SG", "AE", "MO", "RU", "IL", "KH"]
    points = [GridCase(c, item, i) for c in countries for item in GRID_ITEMS for i in range(len(GRID_PROFILES))]
    cases = [grid_case(g) for g in points]
    before, after = sql_outcomes(cases, Reform()), sql_outcomes(cases, reform)
    expected = {g.key: (before[g.key], after[g.key]) for g in points if before[g.key] != after[g.key]}
    assert {f.key: (f.before, f.after) for f, g in flips if g.country in countries} == expected
    assert expected and evaluated < len(baseline_classes())
    if reform.countries() == {"MY"}:
        assert {g.country for _, g in flips} == {"MY"}
    else:  # a moved headquarters or parent changes points of other countries too
        assert len({g.country for _, g in flips}) > 100
