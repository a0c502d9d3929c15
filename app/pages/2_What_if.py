"""What-if: edit a reform (move countries between tiers, set parameters, switch rules off, edit a rule's text),
run it over the bundled cases and the grid, and see on maps and in a table what flips and why.

The reform lives in this browser session only; the baseline is never changed (queries/reform.py applies a
reform to a copy). Checking a reform, its tier maps and its impact all run in the session's deadline worker
(app/ui.py `ask`): rules that loop or explode stop this session's question, never the server."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import streamlit as st
import yaml

import ontology
from app import ui
from kb.deadline import DeadlineExceeded
from kb.errors import AidkbError
from kb.program import baseline_program
from queries.case import CaseError, load_case
from queries.impact import GRID_AS_OF, Impact, impact
from queries.reform import Reform, parse_reform

SOURCE = "<what-if>"
FLIP_COLOURS = {"no flip": "#e9ecef", "1-9 flips": "#ffd8a8", "10-99 flips": "#ff922b", "100+ flips": "#c92a2a"}


def operations() -> list[dict]:
    return st.session_state.setdefault("reform_ops", [])


def reform_of(ops: list[dict]) -> tuple[Reform, list[str]]:
    """The session's operations, validated as one reform, and the reform in words (raises ReformError). Both
    are worked out in the session's worker (rule text is parsed and checked there) and kept in the session."""
    if not ops:
        return Reform(), []
    key = json.dumps(ops, default=str, sort_keys=True)
    checked = st.session_state.setdefault("checked_reforms", {})
    if key not in checked:
        reform = ui.ask(parse_reform, {"title": "what-if", "operations": ops}, SOURCE, note="Checking the reform")
        checked[key] = (reform, ui.ask(Reform.describe, reform))
        while len(checked) > 20:
            checked.pop(next(iter(checked)))
    return checked[key]


def add(op: dict, where=st) -> bool:
    """Add an operation if the reform stays valid; else show the error where the user typed."""
    try:
        reform_of(operations() + [op])
    except AidkbError as e:
        where.error(ui.md(e), icon="🚫")
        return False
    operations().append(op)
    st.session_state.pop("impact", None)
    return True


def number(text: str):
    """A number typed by the user (whole, or with an exponent like 4e7); other text goes on unchanged, for the
    reform's validation to reject or accept (dates)."""
    for convert in (int, float):
        try:
            return convert(text.replace(",", "").replace("_", ""))
        except ValueError:
            continue
    return text


def since(tab, key: str) -> str | None:
    if tab.checkbox("only from a date", key=f"{key}_dated"):
        return tab.date_input("from", value=dt.date(2025, 6, 1), key=f"{key}_from").isoformat()
    return None


def editors() -> None:
    o, program = ui.onto(), baseline_program()
    move, param, off, edit, paste = st.tabs(["Move a country", "Set a parameter", "Switch a rule off",
                                             "Edit a rule", "Paste operations (YAML)"])
    codes = [c for c in sorted(o.countries) if c != "US"]
    country = move.selectbox("Country", codes, index=codes.index("MY"), format_func=ui.country_label,
                             key="move_country")
    tier = move.radio("to", (1, 2, 3), format_func=lambda n: f"Tier {n}", horizontal=True, key="move_tier")
    frm = since(move, "move")
    if move.button("Add the move", key="add_move"):
        add({"move_country": {"country": country, "to_tier": tier, "from": frm}}, move)

    names = sorted({p.name for p in o.parameters})
    name = param.selectbox("Parameter", names, index=names.index("lpp_annual_tpp_limit"), key="param_name")
    current = o.parameter(name, ontology.date_number(ui.chosen()[0]))
    param.caption(f"On {ui.chosen()[0]}: {current.value:,} ({current.unit}; {current.citation}, grade "
                  f"{current.grade})" if current else f"not in force on {ui.chosen()[0]}")
    value = param.text_input("New value (a number, or a date YYYY-MM-DD for dates)", key="param_value")
    frm = since(param, "param")
    if param.button("Set the parameter", key="add_param"):
        add({"set_parameter": {"name": name, "value": number(value.strip()), "from": frm}}, param)

    ids = [r.id for r in program.rules]
    rule_id = off.selectbox("Rule", ids, key="off_rule")
    off.caption(program.rule(rule_id).says)
    if off.button("Switch it off", key="add_off"):
        add({"disable_rule": {"id": rule_id}}, off)

    rule_id = edit.selectbox("Rule", ids, index=ids.index("lpp_conditions"), key="edit_rule")
    text = edit.text_area("Rule text (the rule language; errors show file:line:column)",
                          ui.rule_source(program.rule(rule_id)), height=300, key=f"edit_text_{rule_id}")
    if edit.button("Replace the rule", key="add_edit"):
        add({"replace_rule": {"id": rule_id, "text": text}}, edit)

    pasted = paste.text_area("A list of operations, as in a reform file", key="paste_ops",
                             placeholder="- move_country: {country: VN, to_tier: 3}\n"
                                         "- set_parameter: {name: lpp_annual_tpp_limit, value: 40000000}")
    if paste.button("Add these operations", key="add_paste"):
        try:
            ops = yaml.safe_load(pasted)
        except yaml.YAMLError as e:
            paste.error(ui.md(f"{SOURCE}: malformed YAML: {getattr(e, 'problem', None) or e}"), icon="🚫")
            return
        for op in ops if isinstance(ops, list) else [ops]:
            if not add(op, paste):
                break


def current_reform() -> Reform:
    st.subheader("The reform")
    ops = operations()
    if not ops:
        st.caption("No operations yet: add some above. The baseline is the rule as published.")
        return Reform()
    reform, lines = reform_of(ops)
    for i, line in enumerate(lines):
        left, right = st.columns([6, 1])
        left.markdown(f"{i + 1}. {ui.md(line)}")
        if right.button("Remove", key=f"remove_{i}"):
            del ops[i]
            st.session_state.pop("impact", None)
            st.rerun()
    st.download_button("Reform (YAML)", yaml.safe_dump({"title": "what-if", "operations": ops}, sort_keys=False),
                       file_name="reform.yaml", mime="application/x-yaml")
    return reform


@st.cache_data(show_spinner=False)
def bundled_cases() -> list:
    out = []
    for path in ui.case_files():
        try:
            out.append(load_case(path))
        except CaseError:
            continue
    return out


def run(reform: Reform, use_grid: bool) -> tuple[Impact, str]:
    """The reform's impact and its JSON report."""
    bar = st.progress(0.0, text="Deciding the bundled cases before and after…")

    def progress(label: str, done: int, total: int) -> None:
        bar.progress(done / total, text=f"{label}: {done:,} of {total:,}")

    result = ui.ask(impact, reform, bundled_cases(), use_grid, progress=progress, seconds=600,
                    note="Running the reform")
    report = json.dumps(ui.ask(Impact.to_json, result, note="Writing the report"), indent=2)  # totals: engine work
    bar.progress(1.0, text=f"Done in {result.seconds:.1f} s")
    return result, report


def tiers_under(reform: Reform, as_of: dt.date) -> dict[str, str] | None:
    """The tier map under a reform, or None with the error shown. A reform whose tier rules overran is not
    tried again in this session (each page action would wait for the deadline again)."""
    failed = st.session_state.setdefault("tier_failures", {})
    key = (reform.key, as_of)
    if key not in failed:
        try:
            return ui.tiers(reform, as_of)
        except AidkbError as error:
            failed[key] = str(error)
    st.error(f"No tier map under the reform: {ui.md(failed[key])}", icon="⏱️")
    return None


def show_maps(reform: Reform, result: Impact | None) -> None:
    as_of = ui.chosen()[0]
    before = tiers_under(Reform(), as_of)
    after = tiers_under(reform, as_of) if reform.operations else before
    if before is None:
        return
    left, right = st.columns(2)
    left.altair_chart(ui.map_chart(before, ui.TIER_COLOURS, f"Tiers on {as_of}: baseline"), width="stretch")
    if after is not None:
        right.altair_chart(ui.map_chart(after, ui.TIER_COLOURS, f"Tiers on {as_of}: under the reform"),
                           width="stretch")
        moved = [{"country": ui.country_label(c), "baseline": before[c], "reform": after.get(c)}
                 for c in sorted(before) if before[c] != after.get(c)]
        if moved:
            st.dataframe(pd.DataFrame(moved), hide_index=True)
    if result is not None:
        counts = pd.Series([f.country for f in result.flips]).value_counts().to_dict() if result.flips else {}
        bucket = {c: "1-9 flips" if n < 10 else "10-99 flips" if n < 100 else "100+ flips" for c, n in counts.items()}
        st.altair_chart(ui.map_chart({c: bucket.get(c, "no flip") for c in before}, FLIP_COLOURS,
                                     "Where outcomes flip (destination of the case or grid point)"),
                        width="stretch")
    st.caption("Map: Natural Earth 1:110m, shipped with the app; countries too small for it (e.g. SG, HK, MO) "
               "are in the tables only.")


def show_flips(result: Impact, report: str) -> None:
    st.subheader(f"{len(result.flips):,} flips out of {result.compared:,} outcomes compared")
    st.caption(f"{result.evaluated:,} cases and grid classes evaluated under the reform in {result.seconds:.1f} s; "
               f"grid points are decided as of {GRID_AS_OF}.")
    rows = [{"case or grid point": f.key, "country": f.country, "item": f.item, "before": f.before.describe(),
             "after": f.after.describe(), "causes": "; ".join(f.causes)} for f in result.flips]
    if rows:
        flips = pd.DataFrame(rows)
        st.dataframe(flips, hide_index=True)
        c1, c2 = st.columns(2)
        c1.download_button("Flips (CSV)", flips.to_csv(index=False), file_name="flips.csv", mime="text/csv")
        c2.download_button("Impact (JSON)", report, file_name="impact.json", mime="application/json")


ui.page_setup("What-if · aidkb")
st.title("What-if")
st.caption("Change the law, then run the change over the bundled cases and the grid (every country × item class "
           "× end-user profile). Only this browser session sees the reform.")
editors()
try:
    reform = current_reform()
except AidkbError as error:
    st.error(ui.md(error), icon="🚫")
    reform = Reform()
use_grid = st.checkbox("Include the grid (83,664 outcomes, evaluated by class; the first run in a session takes "
                       "about a minute)", value=True, key="use_grid")
if st.button("Run the reform", type="primary", disabled=not reform.operations, key="run_reform"):
    try:
        st.session_state["impact"] = (reform.key, *run(reform, use_grid))
    except AidkbError as error:
        st.error(f"The engine did not answer: {ui.md(error)}", icon="⏱️" if isinstance(error, DeadlineExceeded)
                 else "🚫")
stored = st.session_state.get("impact")
result, report = stored[1:] if stored and stored[0] == reform.key else (None, "")
show_maps(reform, result)
if result is not None:
    show_flips(result, report)
