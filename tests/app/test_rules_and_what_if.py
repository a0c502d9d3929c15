"""The Rules and What-if pages as an analyst uses them, and sessions kept apart."""

from __future__ import annotations

import re

from aidkb.app import ui
from aidkb.queries.case import load_case
from aidkb.queries.decide import decide
from tests.app.conftest import shown, texts

LPP_OVER = next(p for p in ui.case_files() if p.name == "lpp-one-tpp-over-annual-limit.yaml")


def test_rules_page_lists_rules_with_links_text_and_cases(session):
    at = session("3_Rules")
    assert len(at.expander) > 100
    at.text_input(key="rules_filter").set_value("lpp_conditions").run()
    shown = "\n".join(texts(at.markdown))
    assert "[15 CFR 740.29](https://www.ecfr.gov/" in shown and "**Grade:**" in shown
    code = next(c.value for c in at.code if "lpp_conditions_met(C) :-" in c.value)
    assert code.startswith("@rule lpp_conditions") and code.count("\n") > 3  # as written, multi-line
    assert texts(at.subheader) == [
        "License Exception LPP, Low Processing Performance (15 CFR 740.29, added by 90 FR 4544 at 90 FR 4559)"
    ]  # the rule file's own title


def test_rules_page_lists_using_and_refuting_cases_apart_each_opening_in_ask(session):
    at = session("3_Rules")
    at.text_input(key="rules_filter").set_value("lpp_conditions").run()
    counts = [m for m in texts(at.markdown) if "case(s)" in m]
    assert counts[0].startswith("**Used by ") and counts[1].startswith("**Refuted in ")
    paths = {p.stem: p for p in ui.case_files()}
    links = at.get("page_link")
    assert links and all(link.proto.page == "Ask" for link in links)
    for link in links:  # each case by its title, opening that case file in Ask
        assert shown(link.proto.label) == ui.case_title(paths[link.proto.query_string.removeprefix("case=")])
    ask = session("1_Ask")
    ask.query_params["case"] = "lpp-one-tpp-over-annual-limit"
    ask.run()
    assert ask.selectbox(key="case_file").value == LPP_OVER
    assert any("individual licence is needed" in e for e in texts(ask.error))


def test_rules_page_shows_the_law_beside_the_rule(session):
    from aidkb import ontology
    from aidkb.kb.program import baseline_program

    onto = ontology.load()
    rule = next(r for r in baseline_program().rules if r.id == "lpp_conditions")
    words = [onto.provisions[c].text for c in rule.cites if c in onto.provisions and onto.provisions[c].text]
    assert words, "lpp_conditions cites a provision whose text the knowledge base has read"
    at = session("3_Rules")
    at.text_input(key="rules_filter").set_value("lpp_conditions").run()
    shown = [t.value for t in at.text]
    assert all(w in shown for w in words)


def flip_table(at):
    return next(d.value for d in at.dataframe if "case or grid point" in d.value.columns)


def run_cases_only(at) -> None:
    at.checkbox(key="use_grid").uncheck()
    at.button(key="run_reform").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_tier_move_flips_cases_with_causes(session):
    at = session("2_What_if")
    at.selectbox(key="move_country").set_value("MY")
    at.radio(key="move_tier").set_value(1)
    at.button(key="add_move").click().run()
    assert "1. move MY to Tier 1" in texts(at.markdown)
    run_cases_only(at)
    heading = next(s for s in texts(at.subheader) if "flips out of" in s)
    flips = flip_table(at)
    assert int(heading.split()[0]) == len(flips) > 0
    assert "- The reform: move MY to Tier 1" in texts(at.markdown)  # the first flip's causes
    assert len(charts(at)) == 1  # totals before and after; the maps are drawn only in their open tab
    at.session_state["result_tab"] = "Maps"
    at.run()
    assert len(charts(at)) == 4  # and the maps: tiers before, after, and where outcomes flip


def charts(at) -> list:
    return [e for e in at.main if type(e).__name__ == "UnknownElement" and e.proto.DESCRIPTOR.name == "VegaLiteChart"]


def test_rule_edit_with_a_syntax_error_is_shown_inline_with_its_position(session):
    at = session("2_What_if")
    area = next(t for t in at.text_area if t.key.startswith("edit_text_lpp_conditions"))
    area.set_value(area.value.replace(":-", ":- (", 1))
    at.button(key="add_edit").click().run()
    assert not at.exception
    assert any(re.search(r"replace_rule\.text:\d+:\d+: unexpected", e) for e in texts(at.error))  # file:line:column
    assert not any(m.startswith("1. ") for m in texts(at.markdown))  # the broken edit was not added


def test_bad_parameter_value_and_switching_a_rule_off(session):
    at = session("2_What_if")
    at.text_input(key="param_value").set_value("a lot")
    at.button(key="add_param").click().run()
    assert any("set_parameter.value" in e for e in texts(at.error))
    at.selectbox(key="off_rule").set_value("lpp_conditions")
    at.button(key="add_off").click().run()
    assert "1. disable rule lpp_conditions" in texts(at.markdown)


def test_sessions_are_isolated_and_the_baseline_never_changes(session):
    baseline = decide(load_case(LPP_OVER)).to_json()
    first, second = session("2_What_if"), session("2_What_if")
    first.selectbox(key="move_country").set_value("MY")
    first.radio(key="move_tier").set_value(1)
    first.button(key="add_move").click().run()
    second.text_input(key="param_value").set_value("30000000")
    second.button(key="add_param").click().run()
    run_cases_only(first)
    run_cases_only(second)
    first.run()
    assert "1. move MY to Tier 1" in texts(first.markdown) and "2. " not in "".join(texts(first.markdown))
    assert "1. set lpp_annual_tpp_limit to 30000000" in texts(second.markdown)
    keys = [set(flip_table(s)["case or grid point"]) for s in (first, second)]
    assert "lpp-one-tpp-over-annual-limit" in keys[1] and keys[0] != keys[1]
    ask = session("1_Ask")
    ask.radio(key="ask_source").set_value("Bundled case file").run()
    ask.selectbox(key="case_file").set_value(LPP_OVER).run()
    assert any("individual licence is needed" in e for e in texts(ask.error))
    assert decide(load_case(LPP_OVER)).to_json() == baseline
