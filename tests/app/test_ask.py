"""The Ask page as a lawyer uses it: a form, a bundled or uploaded case, the answer, why-not, memo."""
from __future__ import annotations

import datetime as dt

from app import ui
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
    assert "fails at condition" in shown
    assert "consignee_ytd: 11,068,001 -> 11,068,000" in shown  # the counterfactual, verified by the engine


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


def test_bundled_case_file(session):
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Bundled case file").run()
    box = at.selectbox(key="case_file")
    assert any("shared_cases/" in o for o in box.options)
    box.set_value(next(p for p in ui.case_files() if p.name == "lpp-one-tpp-over-annual-limit.yaml")).run()
    assert not at.exception
    assert any("individual licence is needed" in e for e in texts(at.error))
    assert any("LPP" in m and "exceeds the annual limit" in m for m in texts(at.markdown))


def test_uploaded_case_and_malformed_upload(session):
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Upload a case file").run()
    at.get("file_uploader")[0].upload("broken.yaml", b"id: [unclosed\n", "application/x-yaml").run()
    assert not at.exception
    assert any(e.startswith("Bad input: broken.yaml") and "malformed YAML" in e for e in texts(at.error))
    at.get("file_uploader")[0].upload("typo.yaml", b"id: x\nas_of: 2025-06-01\nmode: as_published\ntransactoin: {}\n",
                                      "application/x-yaml").run()
    assert any("typo.yaml: transactoin: unknown field" in e for e in texts(at.error))


def test_memo_and_json_downloads(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert len(at.get("download_button")) == 1  # the JSON at once; the memo on request
    next(b for b in at.button if b.label == "Prepare the memo").click().run()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Decision (JSON)", "Memo (Markdown)", "Memo (HTML)"]


def test_proof_tree_and_graph(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert any(e.label.startswith("licence required") or "authorized" in e.label for e in at.expander)
    trees = [h.proto.body for h in at.get("html")]
    assert any("<details" in t and "ecfr.gov" in t for t in trees)
    assert at.get("graphviz_chart") and "digraph proof" in at.get("graphviz_chart")[0].proto.spec


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
