"""Compare: one question on two dates or in both readings, side by side, with what differs marked."""

from __future__ import annotations

import dataclasses
import datetime as dt

from aidkb.app import ui
from aidkb.queries import service
from aidkb.queries.case import load_case
from tests.app.conftest import texts


def table(at):
    return next(d.value for d in at.dataframe if "differs" in d.value.columns).set_index("")


def test_the_forms_question_as_published_and_as_enforced(session):
    """Mid-2025 the rule is in the CFR but BIS announced it would not enforce it: the readings differ in the
    licence and the status (each side is the decision of that reading), never in a row marked the same."""
    at = session("4_Compare")
    assert not at.exception
    rows = table(at)
    a, b = rows.columns[0], rows.columns[1]
    assert a == "A: 2025-06-01, as published" and b == "B: 2025-06-01, as enforced"
    assert rows.loc["Licence required", a] == "yes" and rows.loc["Authorized by", a] == "LPP"
    assert rows.loc["Licence required", "differs"] == "yes" and rows.loc["Legal status", "differs"] == "yes"
    enforced = service.decide(dict(ui.form_case(ui.FORM, dt.date(2025, 6, 1), "as_enforced")))
    assert rows.loc["Licence required", b] == ("yes" if enforced.license_required else "no")
    assert all((rows.loc[k, a] != rows.loc[k, b]) == (rows.loc[k, "differs"] == "yes") for k in rows.index)
    differ = next(w for w in texts(at.warning) if w.startswith("**What differs:**"))
    assert "Licence required" in differ


def test_a_bundled_case_on_two_dates(session):
    path = next(p for p in ui.case_files() if p.name == "lpp-one-tpp-over-annual-limit.yaml")
    at = session("4_Compare")
    at.radio(key="cmp_source").set_value("A bundled case file").run()
    assert not at.dataframe  # nothing compared before a case is chosen
    at.selectbox(key="cmp_case").set_value(path).run()
    at.radio(key="cmp_mode_1").set_value("as_published")
    at.date_input(key="cmp_as_of_1").set_value(dt.date(2024, 6, 1)).run()
    rows = table(at)
    a, b = rows.columns[0], rows.columns[1]
    case = load_case(path)
    on_b = service.decide(dataclasses.replace(case, as_of=dt.date(2024, 6, 1), mode="as_published"))
    assert rows.loc["Licence required", b] == ("yes" if on_b.license_required else "no")
    assert rows.loc["Legal status", "differs"] == "yes"  # before the rule took effect, and after
    assert a.startswith("A: 2025-06-01") and b == "B: 2024-06-01, as published"
