"""The Ask page as a lawyer uses it: a form, a bundled or uploaded case, the answer, why-not, memo."""

from __future__ import annotations

import datetime as dt
import html
import json
import subprocess
import sys

import yaml

from aidkb.app import ui
from aidkb.queries.case import load_case, parse_case
from aidkb.queries.proof_model import RuleApplication
from tests.app.conftest import SUBMIT, texts


def test_every_page_shows_the_legal_status_banner(session):
    for page in (None, "1_Ask", "2_What_if", "3_Rules"):
        at = session(page)
        assert any("Legal status on 2025-06-01" in w and "would not enforce" in w for w in texts(at.warning))


def test_banner_follows_the_chosen_date(session):
    at = session("1_Ask")
    at.date_input(key="sidebar_as_of").set_value(dt.date(2024, 6, 1)).run()
    banner = next(w for w in texts(at.warning) if w.startswith("**Legal status"))
    assert "2024-06-01" in banner and "would not enforce" not in banner


def test_form_answers_in_one_sentence_with_status_and_reasons(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert texts(at.success) == ["A licence requirement applies; it is lifted by LPP."]
    assert any(m.startswith("**Legal status on 2025-06-01") for m in texts(at.markdown))
    reasons = next(m for m in texts(at.markdown) if "rule `" in m)
    assert "https://www.ecfr.gov/" in reasons  # citations link to the eCFR


def test_form_china_needs_an_individual_licence(session):
    at = session("1_Ask")
    at.selectbox(key="f_destination").set_value("CN")
    at.selectbox(key="f_hq").set_value("CN")
    at.selectbox(key="f_parent").set_value("CN")
    at.button(key=SUBMIT).click().run()
    assert any("individual licence is needed" in e and "presumption of denial" in e for e in texts(at.error))


def test_why_not_shows_category_failing_rule_and_counterfactuals(session):
    at = session("1_Ask")
    at.number_input(key="f_ytd").set_value(11_068_001)
    at.button(key=SUBMIT).click().run()
    assert "Why not LPP?" in [b.label for b in at.button]
    at.button(key="whynot_LPP").click().run()
    shown = "\n".join(texts(at.markdown))
    assert "**threshold exceeded**" in shown and "26,900,001 TPP exceeds the annual limit" in shown
    assert "TPP already shipped to the consignee under LPP this year: 11,068,001 -> 11,068,000" in shown  # verified
    assert "fails at condition" not in shown  # the engine's terms only behind "details"
    at.toggle(key="proof_details").set_value(True).run()
    shown = "\n".join(texts(at.markdown))
    assert "fails at condition" in shown and "**threshold exceeded**" in shown


def test_bad_form_input_is_an_error_message_not_a_traceback(session):
    at = session("1_Ask")
    at.radio(key="f_veu").set_value("UVEU")
    at.number_input(key="f_global_tpp").set_value(10)
    at.number_input(key="f_tier1_tpp").set_value(20)
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    errors = texts(at.error)
    assert any("transaction.end_user.veu_holdings.tier1_tpp" in e and "more than global_tpp" in e for e in errors)
    assert not at.success


def test_bad_model_figure_names_the_field(session):
    at = session("1_Ask")
    at.selectbox(key="f_item").set_value("4E091")
    at.text_input(key="f_ops").set_value("lots")
    at.button(key=SUBMIT).click().run()
    assert any("transaction.model.training_ops" in e for e in texts(at.error))


def answers(at) -> list[str]:
    """The answer sentences on the page (st.success for a route or no licence, st.error for a licence)."""
    return [t for t in texts(at.success) + texts(at.error) if "licence" in t]


def test_bundled_case_file_is_picked_by_title_and_answered_only_once_chosen(session):
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Bundled case file").run()
    box = at.selectbox(key="case_file")
    assert box.value is None and not answers(at)  # nothing is answered before a case is chosen
    path = next(p for p in ui.case_files() if p.name == "lpp-one-tpp-over-annual-limit.yaml")
    assert ui.case_title(path) in box.options and not any(o.endswith(".yaml") for o in box.options)  # titles, not paths
    box.set_value(path).run()
    assert not at.exception
    assert any("individual licence is needed" in e for e in texts(at.error))
    assert any("LPP" in m and "exceeds the annual limit" in m for m in texts(at.markdown))


def test_a_case_files_own_date_is_said_when_it_differs_from_the_chosen_one(session):
    path = next(p for p in ui.case_files() if p.name == "91fr1684-as-enforced-case-by-case.yaml")
    own = load_case(path)
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Bundled case file").run()
    at.selectbox(key="case_file").set_value(path).run()
    said = f"{own.as_of.isoformat()}, read {own.mode.replace('_', ' ')}"
    assert (own.as_of, own.mode) != (dt.date(2025, 6, 1), "as_published")
    assert any(
        said in i and "not the date and reading chosen above (2025-06-01, as published)" in i for i in texts(at.info)
    )


def test_a_date_change_marks_the_answer_stale(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert not any("Stale answer" in w for w in texts(at.warning))
    at.date_input(key="sidebar_as_of").set_value(dt.date(2024, 6, 1)).run()
    stale = [w for w in texts(at.warning) if "Stale answer" in w]
    assert stale and "as_of" in stale[0]
    assert texts(at.success) == ["A licence requirement applies; it is lifted by LPP."]  # the old answer, marked
    at.button(key=SUBMIT).click().run()
    assert not any("Stale answer" in w for w in texts(at.warning))
    assert any(m.startswith("**Legal status on 2024-06-01") for m in texts(at.markdown))


def test_a_form_change_marks_the_answer_stale_naming_the_field(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    at.number_input(key="f_quantity").set_value(2000).run()
    stale = [w for w in texts(at.warning) if "Stale answer" in w]
    assert stale and "transaction.quantity" in stale[0] and "as_of" not in stale[0]


def test_the_main_area_date_control_is_the_same_choice_as_the_sidebars(session):
    at = session("1_Ask")
    at.date_input(key="main_as_of").set_value(dt.date(2024, 6, 1)).run()
    assert at.date_input(key="sidebar_as_of").value == dt.date(2024, 6, 1)
    assert any(w.startswith("**Legal status on 2024-06-01") for w in texts(at.warning))


def test_form_values_and_the_answer_survive_a_page_switch(session):
    at = session("1_Ask")
    at.number_input(key="f_quantity").set_value(1234)
    at.selectbox(key="f_destination").set_value("AE")
    at.button(key=SUBMIT).click().run()
    before = answers(at)
    at.switch_page("pages/3_Rules.py").run()
    at.switch_page("pages/1_Ask.py").run()
    assert at.number_input(key="f_quantity").value == 1234 and at.selectbox(key="f_destination").value == "AE"
    assert answers(at) == before and not any("Stale answer" in w for w in texts(at.warning))


def test_a_bundled_case_loads_into_the_form_with_its_date_and_reading(session):
    path = next(p for p in ui.case_files() if p.name == "91fr1684-as-enforced-case-by-case.yaml")
    own = load_case(path)
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Bundled case file").run()
    at.selectbox(key="case_file").set_value(path).run()
    from_file = answers(at)
    at.button(key="edit_case").click().run()
    assert at.radio(key="ask_source").value == "Fill in a form"
    assert at.selectbox(key="f_destination").value == own.destination
    assert at.date_input(key="sidebar_as_of").value == own.as_of and at.radio(key="sidebar_mode").value == own.mode
    at.button(key=SUBMIT).click().run()
    assert answers(at) == from_file  # the same question, now in the form


def test_the_saved_case_file_decides_to_the_same_answer(session, tmp_path):
    """The form saved as a case file (the download's content) is read by `aidkb decide` to the same decision."""
    at = session("1_Ask")
    at.selectbox(key="f_destination").set_value("CN")
    at.selectbox(key="f_hq").set_value("CN")
    at.button(key=SUBMIT).click().run()
    assert at.get("download_button")[0].proto.label == "Save the form as a case file (YAML)"
    saved = tmp_path / "saved.yaml"
    saved.write_text(ui.case_yaml(ui.form_case(at.session_state["form_kept"], *at.session_state["chosen"])))
    run = subprocess.run(
        [sys.executable, "-m", "aidkb.app.cli", "decide", "--json", str(saved)],
        capture_output=True,
        text=True,
        check=True,
    )
    decided = json.loads(run.stdout)
    shown = at.session_state["answers"]["Fill in a form"]["decision"]
    assert (
        (decided["license_required"], decided["authorized_by"], decided["review_policy"])
        == (shown.license_required, shown.authorized_by, shown.review_policy)
        == (True, [], "presumption of denial")
    )


def test_every_bundled_case_without_extra_fields_round_trips_through_the_form():
    """A case file loaded into the form and saved again is the same question (same input facts)."""
    checked = 0
    for path in ui.case_files():
        data = ui.case_data(path)
        values, left_out = ui.form_values(data)
        if left_out:
            continue
        case = load_case(path)
        again = parse_case(yaml.safe_load(ui.case_yaml(ui.form_case(values, case.as_of, case.mode))), "<saved>")
        assert sorted((f[0], *f[2:]) for f in again.facts()) == sorted((f[0], *f[2:]) for f in case.facts()), path.name
        checked += 1
    assert checked > 100


def test_the_review_policy_is_shown_in_full(session):
    at = session("1_Ask")
    at.selectbox(key="f_destination").set_value("CN")
    at.selectbox(key="f_hq").set_value("CN")
    at.selectbox(key="f_parent").set_value("CN")
    at.button(key=SUBMIT).click().run()
    assert "**Review policy:** presumption of denial" in texts(at.markdown)


LOWER_LPP = "title: lower LPP\noperations:\n- set_parameter:\n    name: lpp_annual_tpp_limit\n    value: 1000000\n"


def test_ask_answers_under_the_what_if_reform_labelled_and_can_switch_it_off(session):
    at = session("1_Ask")
    at.session_state["reform_yaml"] = LOWER_LPP
    at.session_state["reform_name"] = "lower LPP"
    at.run()
    at.button(key=SUBMIT).click().run()
    under = answers(at)
    assert under[0].startswith("Under the reform “lower LPP”:") and "individual licence is needed" in under[0]
    assert any(i.startswith("What if:") and "lpp_annual_tpp_limit" in i for i in texts(at.info))
    at.toggle(key="ask_under_reform").set_value(False).run()
    assert any("Stale answer" in w and "the reform" in w for w in texts(at.warning))
    at.button(key=SUBMIT).click().run()
    assert answers(at) == ["A licence requirement applies; it is lifted by LPP."]


def test_uploaded_case_and_malformed_upload(session):
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Upload a case file").run()
    at.get("file_uploader")[0].upload("broken.yaml", b"id: [unclosed\n", "application/x-yaml").run()
    assert not at.exception
    assert any(e.startswith("Bad input: broken.yaml") and "malformed YAML" in e for e in texts(at.error))
    at.get("file_uploader")[0].upload(
        "typo.yaml", b"id: x\nas_of: 2025-06-01\nmode: as_published\ntransactoin: {}\n", "application/x-yaml"
    ).run()
    assert any("typo.yaml: transactoin: unknown field" in e for e in texts(at.error))


def test_memo_and_json_downloads(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Decision (JSON)" in labels and "Memo (Markdown)" not in labels  # the memo on request
    next(b for b in at.button if b.label == "Prepare the memo").click().run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[-3:] == ["Decision (JSON)", "Memo (Markdown)", "Memo (HTML)"]


def test_proof_tree_speaks_the_rules_sentences_with_engine_terms_behind_details(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    trees = "\n".join(h.proto.body for h in at.get("html"))
    assert "<details" in trees and "ecfr.gov" in trees
    decision = at.session_state["answers"]["Fill in a form"]["decision"]
    first = ui.proof_roots(decision)[0]
    assert isinstance(first, RuleApplication) and html.escape(first.sentence) in trees
    assert f"({first.rule})" not in trees and "NOT authorized(" not in trees and "fails at condition" not in trees
    at.toggle(key="proof_details").set_value(True).run()
    trees = "\n".join(h.proto.body for h in at.get("html"))
    assert f"({first.rule})" in trees and "NOT authorized(form-question, AIA)" in trees
    assert "fails at condition" in trees


def test_proof_graph_opens_full_size_and_downloads(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert "digraph proof" in at.get("graphviz_chart")[0].proto.spec
    dot = next(b for b in at.get("download_button") if b.proto.label == "Graph (DOT)")
    assert dot.proto.label
    at.button(key="graph_full").click().run()
    assert not at.exception
    assert len(at.get("graphviz_chart")) == 2  # the tab's graph and the full-size one in the dialog


def test_why_not_lists_every_obstacle_and_what_the_search_tried(session):
    """5,000 units to the UAE: over the LPP limit, and LPP also unclear in D:4 (740.2(a)(9)(ii)); both are shown,
    and a search that finds nothing says how many variants it tried."""
    at = session("1_Ask")
    at.selectbox(key="f_destination").set_value("AE")
    at.selectbox(key="f_hq").set_value("AE")
    at.selectbox(key="f_parent").set_value("AE")
    at.number_input(key="f_quantity").set_value(5000)
    at.button(key=SUBMIT).click().run()
    at.button(key="whynot_LPP").click().run()
    shown = "\n".join(texts(at.markdown))
    assert "**Every obstacle:**" in shown and "exceeds the annual limit" in shown and "740.2(a)(9)(ii)" in shown
    assert "No change of one or two inputs makes it hold." not in shown


def test_form_choices_are_words_with_the_case_file_value_beside_them(session):
    at = session("1_Ask")
    assert "transfer (in-country) (transfer_in_country)" in at.selectbox(key="f_kind").options
    assert "AI model training (IaaS) (ai_model_training_iaas)" in at.selectbox(key="f_end_use").options
    assert "NAC notification made (nac_notified)" in at.multiselect(key="f_flags").options
    at.selectbox(key="f_kind").set_value("reexport")
    at.button(key=SUBMIT).click().run()
    assert not at.exception
