"""Issue 15: the app cannot be frozen or confused. Engine work never runs in the Streamlit server process,
user text is not Markdown, an idle session's worker ends, and an overrun is a message."""

from __future__ import annotations

import os

import pytest

from aidkb.queries.reform import Reform
from tests.app.conftest import SUBMIT, texts
from tests.unit.test_deadline import ended, wait_until

SERVER = os.getpid()  # AppTest runs the app's scripts in this process: the "server"


@pytest.fixture
def no_engine_here(monkeypatch):
    """Every engine (pyDatalog, the SQL engine, the bottom-up evaluator) refuses to start in this process; a
    worker (another process) may build them as usual."""
    from aidkb.kb import bottomup, engine, sqlengine

    built: list[str] = []
    for cls in (engine.Engine, sqlengine.SqlEngine, bottomup.Model):
        original = cls.__init__

        def guarded(self, *args, _original=original, _name=cls.__name__, **kwargs):
            if os.getpid() == SERVER:
                built.append(_name)
                raise AssertionError(f"{_name} built in the Streamlit server process")
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", guarded)
    yield built
    assert built == []


def test_no_engine_work_in_the_server_process(session, no_engine_here):
    from aidkb.app import ui

    ui._RESULTS.clear()  # nothing remembered from earlier tests: every answer is asked for again
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert texts(at.success) == ["A licence requirement applies; it is lifted by LPP."]
    at.button(key="whynot_AIA").click().run()
    assert any("Category:" in m for m in texts(at.markdown))
    next(b for b in at.button if b.label == "Prepare the memo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at = session("3_Rules")
    assert any("Used by" in m and "case(s)" in m for m in texts(at.markdown))
    at = session("2_What_if")
    at.selectbox(key="move_country").set_value("MY")
    at.radio(key="move_tier").set_value(1)
    at.button(key="add_move").click().run()
    at.checkbox(key="use_grid").uncheck()
    at.button(key="run_reform").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("flips out of" in s for s in texts(at.subheader))
    assert [b.proto.label for b in at.get("download_button")][-1] == "Impact (JSON; causes: `aidkb impact --json`)"


MARKDOWN_CASE = b"""id: md-case
title: "Hello ![pixel](http://example.invalid/p.png) [click](javascript:alert(1)) <b>bold</b> :red[x] $x^2$ **loud**"
as_of: 2025-06-01
mode: as_published
transaction:
  kind: export
  item: 3A090.a
  quantity: 1
  tpp_per_unit: 1
  destination_country: DE
  end_user: {name: "**Acme** [x](http://example.invalid)", hq_country: DE, ultimate_parent_hq_country: DE,
             end_use: unknown}
"""


def raw(elements) -> list[str]:
    return [e.value for e in elements]


def test_user_text_is_escaped_before_markdown(session):
    at = session("1_Ask")
    at.radio(key="ask_source").set_value("Upload a case file").run()
    at.get("file_uploader")[0].upload("md.yaml", MARKDOWN_CASE, "application/x-yaml").run()
    assert not at.exception, [e.value for e in at.exception]
    (header,) = [h for h in raw(at.header) if "Hello" in h]
    assert "![pixel](" not in header and "](javascript" not in header and "<b>" not in header
    assert ":red[" not in header and "$x^2$" not in header and "**loud**" not in header
    assert texts([type("E", (), {"value": header})()]) == [  # shown as typed
        "Hello ![pixel](http://example.invalid/p.png) [click](javascript:alert(1)) <b>bold</b> :red[x] $x^2$ **loud**"
    ]
    at.get("file_uploader")[0].upload(
        "![x](http://example.invalid).yaml", b"id: [unclosed\n", "application/x-yaml"
    ).run()
    (error,) = [e for e in raw(at.error) if "Bad input" in e]
    assert "![x](" not in error and "malformed YAML" in error


def test_a_reform_rule_says_text_is_escaped(session):
    at = session("2_What_if")
    ops = (
        '- add_rule: {text: "@rule shout\\n@cite \\"x\\"\\n@says \\"![i](http://example.invalid) **{C}**\\"\\n'
        'caveat(C, \\"shout\\") :- case(C)."}'
    )
    at.text_area(key="paste_ops").set_value(ops)
    at.button(key="add_paste").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e for e in raw(at.error)], raw(at.error)
    assert "1. add rule shout" in texts(at.markdown)


def test_an_idle_sessions_worker_ends(session, monkeypatch):
    monkeypatch.setenv("AIDKB_WORKER_IDLE", "2")
    at = session("1_Ask")
    at.button(key=SUBMIT).click().run()
    assert texts(at.success)
    worker = at.session_state["worker"]
    pid = worker.pid
    assert pid and not ended(pid)
    assert wait_until(lambda: ended(pid), 8)
    at.number_input(key="f_quantity").set_value(2000)
    at.button(key=SUBMIT).click().run()  # the next question starts a new worker
    assert any("individual licence is needed" in e for e in texts(at.error))  # 2,000 units: over the LPP limit
    assert worker.pid not in (None, pid)


# Rules that run for minutes in both engines: four countries joined with only inequalities between them (an
# equality with a constant that names no country, as these rules once had, the SQL engine sees empty at once).
HEAVY = "\n".join(
    f'- add_rule: {{text: "@rule heavy_{i}\\n@cite \\"x\\"\\n@says \\"heavy\\"\\n'
    f"tier{1 + i % 3}(C, X) :- case(C), country(X), country(A), country(B), country(D), A != B, B != D, "
    f'A != D."}}'
    for i in range(6)
)


def test_tier_rules_that_never_finish_are_stopped_and_reported_once(session, monkeypatch):
    monkeypatch.setenv("AIDKB_DEADLINE", "3")
    at = session("2_What_if")
    at.session_state["result_tab"] = "Maps"  # the tier maps are worked out only in their open tab
    at.text_area(key="paste_ops").set_value(HEAVY)
    at.button(key="add_paste").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "6. add rule heavy_5" in texts(at.markdown)
    assert any(e.startswith("No tier map under the reform: no answer within 3 s") for e in texts(at.error))
    from aidkb.app import ui

    asked, tiers = [], ui.tiers
    monkeypatch.setattr(ui, "tiers", lambda reform, as_of: asked.append(reform.key) or tiers(reform, as_of))
    at.checkbox(key="use_grid").uncheck().run()  # another action: the overrun is not waited for again
    # (counted, not timed: a busy machine's rerun may itself take longer than the deadline, see stop 20)
    assert Reform().key in asked and [k for k in asked if k != Reform().key] == []  # the baseline map only
    assert any(e.startswith("No tier map under the reform") for e in texts(at.error))
    at.switch_page("pages/1_Ask.py").run()  # Ask answers under the reform by default: it warns before Decide
    assert any(
        "On the What-if page this reform's tier rules gave no answer (no answer within 3 s" in c
        for c in texts(at.caption)
    )
