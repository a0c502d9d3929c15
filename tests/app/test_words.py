"""Words: every value the explorer offers or shows (transaction kinds, end uses, case facts, obligations,
parameters, country groups, red flags) has a title and a one-line help in the ontology, and the app shows those."""

from __future__ import annotations

import re
from pathlib import Path

from aidkb import ontology
from aidkb.app import ui
from aidkb.queries.case import END_USES, FLAGS, KINDS
from tests.app.conftest import SUBMIT, texts

RULES = Path(__file__).resolve().parents[2] / "kb" / "rules"


def obligations_in_the_rules() -> set[str]:
    return {m for f in RULES.glob("*.dl") for m in re.findall(r'obligation\(C, "(\w+)"\)', f.read_text())}


def test_every_value_has_a_title_and_a_help_in_the_ontology():
    onto = ontology.load()
    wanted = {
        "transaction kind": set(KINDS),
        "end use": set(END_USES),
        "case fact": set(FLAGS),
        "obligation": obligations_in_the_rules(),
        "parameter": {p.name for p in onto.parameters},
        "country group": {m.group for m in onto.memberships},
        "red flag": set(onto.red_flags),
    }
    assert len(wanted["obligation"]) == 5
    for kind, values in wanted.items():
        for value in values:
            term = onto.terms.get(value)
            assert term and term.kind == kind, (kind, value)
            assert term.title.strip() and term.help.strip() and "\n" not in term.help, value
            assert term.title != value or "_" not in value, value  # a title, not the snake_case value


def test_the_form_shows_the_ontologys_titles_and_helps(session):
    onto = ontology.load()
    at = session("1_Ask")
    kinds = at.selectbox(key="f_kind").options
    assert f"{onto.terms['transfer_in_country'].title} (transfer_in_country)" in kinds
    at.selectbox(key="f_end_use").set_value("ai_model_training_iaas")
    at.multiselect(key="f_flags").set_value(["nac_notified"]).run()
    captions = "\n".join(texts(at.caption))
    assert onto.terms["ai_model_training_iaas"].help in captions and onto.terms["nac_notified"].help in captions
    glossary = next(d.value for d in at.dataframe if "help" in d.value.columns)
    assert set(FLAGS) <= set(glossary["value"])


def test_obligations_are_shown_by_title_and_help(session):
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()  # LPP to Malaysia: the consignee's certification
    term = ontology.load().terms["lpp_consignee_certification"]
    assert f"Obligation: **{term.title}**: {term.help}" in texts(at.info)
    assert ui.onto().title("lpp_consignee_certification") == term.title


def test_rule_text_errors_say_what_was_expected_in_words_with_the_line():
    """A rule edited on the What-if page with an error: the message names the line and column and says what
    could come next in words, never the parser's token names (LPAR, __ANON_0, ...)."""
    import pytest

    from aidkb.kb.errors import AidkbError
    from aidkb.kb.parser import parse_text

    text = '@rule lpp_x\n@cite "15 CFR 740.29"\n@says "x"\nlpp_x(C) :- case(C) authorized(C, "LPP").'
    with pytest.raises(AidkbError) as raised:
        parse_text(text, "replace_rule.text")
    message = str(raised.value)
    assert message.startswith("replace_rule.text:4:21: unexpected 'authorized'; expected ")
    assert "',', '.' or '?'" in message
    assert not re.search(r"\b[A-Z_]{3,}\b", message.split("expected ", 1)[1])  # no token names
