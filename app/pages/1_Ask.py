"""Ask: a transaction (a form, a bundled case file or an uploaded one) -> the answer in one sentence, the
reasons with linked citations, the proof as a tree and a graph, the why-not of each unavailable route with
its counterfactuals, and the memo and JSON to download."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import streamlit as st
import yaml

from aidkb.app import ui
from aidkb.kb.deadline import DeadlineExceeded
from aidkb.kb.errors import AidkbError
from aidkb.queries import service
from aidkb.queries.case import END_USES, FLAGS, KINDS, Case, CaseError, parse_case
from aidkb.queries.decide import Decision
from aidkb.queries.explanation import explain
from aidkb.queries.reform import ReformError, parse_reform
from aidkb.queries.render import (
    answer_sentence,
    memo_html,
    memo_markdown,
    proof_dot,
    searched_text,
)

SOURCES = ("Fill in a form", "Bundled case file", "Upload a case file")


def load_into_form(data: dict, as_of, mode: str) -> None:
    """(A button's callback) a case into the form, and its date and reading into the session's choice."""
    values, left_out = ui.form_values(data)
    st.session_state.update(values, form_kept=values, ask_source=SOURCES[0], form_left_out=left_out)
    ui.choose(as_of, mode)


def form() -> dict:
    """The form (its values kept across pages) -> the case mapping it says, at the chosen date and reading."""
    o, state = ui.onto(), st.session_state
    codes = sorted(o.countries)
    optional = [None] + codes
    for key, value in state.setdefault("form_kept", dict(ui.FORM)).items():  # widgets forget their value on leaving
        state.setdefault(key, value)
    as_of, mode = ui.chosen()
    if state.get("form_left_out"):
        st.warning(
            "The loaded case also had "
            + ", ".join(f"`{f}`" for f in state["form_left_out"])
            + ": the form has no field for them, so the form's question is without them."
        )
    st.text_input("Title", key="f_title", max_chars=200)
    c1, c2, c3 = st.columns(3)
    ui.explain_choice(c1.selectbox("Kind", KINDS, format_func=ui.onto().titled, key="f_kind"), c1)
    c1.selectbox("Item (ECCN)", sorted(o.items), key="f_item")
    c1.number_input("Quantity (units)", min_value=1, step=1, key="f_quantity")
    c1.number_input("TPP per unit", min_value=1, step=1, key="f_tpp")
    c1.number_input("Memory bandwidth (GB/s; empty if not given)", min_value=1, step=1, value=None, key="f_bandwidth")
    c2.selectbox("From", codes, format_func=ui.country_label, key="f_from")
    c2.selectbox("Destination", codes, format_func=ui.country_label, key="f_destination")
    c2.text_input("End user", key="f_end_user", max_chars=200)
    c2.selectbox("End user's headquarters", optional, format_func=ui.country_label, key="f_hq")
    c2.selectbox("Ultimate parent's headquarters", optional, format_func=ui.country_label, key="f_parent")
    ui.explain_choice(c3.selectbox("End use", END_USES, format_func=ui.onto().titled, key="f_end_use"), c3)
    c3.number_input("TPP already shipped to this consignee under LPP this year", min_value=0, step=1, key="f_ytd")
    c3.number_input("TPP already counted against the destination's allocation", min_value=0, step=1, key="f_allocated")
    c3.checkbox("Government-to-government arrangement", key="f_g2g")
    ui.explain_choice(st.multiselect("Facts", FLAGS, format_func=ui.onto().titled, key="f_flags"))
    with st.expander("What the choices mean"):
        ui.glossary(("transaction kind", "end use", "case fact"))
    with st.expander("VEU status"):
        v1, v2 = st.columns(2)
        v1.radio("Validated end user", (ui.NO_VEU, "UVEU", "NVEU"), horizontal=True, key="f_veu")
        for k in ui.HOLDINGS:
            v1.number_input(f"UVEU {k.replace('_', ' ')} before this shipment", min_value=0, step=1, key=f"f_{k}")
        v2.selectbox("NVEU authorization for", codes, format_func=ui.country_label, key="f_nveu_dest")
        v2.number_input("TPP already received there under it", min_value=0, step=1, key="f_nveu_cum")
    with st.expander("Model facts (4E091)"):
        m1, m2 = st.columns(2)
        m1.text_input("Training operations (e.g. 2.0e26; empty if not a model)", key="f_ops")
        m2.text_input("Most powerful open-weight model's operations (optional override)", key="f_frontier")
        m1.checkbox("Weights published", key="f_published")
    values = {k: state[k] for k in ui.FORM}
    state["form_kept"] = values
    return ui.form_case(values, as_of, mode)


def case_file_choice() -> tuple[Any, dict] | None:
    """A bundled case file, picked by its title (none before one is chosen): (its path, its mapping)."""
    files = ui.case_files()
    path = st.selectbox(
        "Case file",
        files,
        index=None,
        format_func=ui.case_title,
        key="case_file",
        placeholder="Choose a case by its title",
    )
    return (path, ui.case_data(path)) if path else None


def upload_choice() -> tuple[Any, dict] | None:
    """An uploaded case file (raises CaseError on YAML that does not parse): (its name, its mapping)."""
    upload = st.file_uploader(
        "Case file (YAML, the schema of shared/cases/README.md)", type=["yaml", "yml"], key="case_upload"
    )
    if upload is None:
        return None
    try:
        data = yaml.safe_load(upload.getvalue().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise CaseError(upload.name, "", f"malformed YAML: {getattr(e, 'problem', None) or e}") from None
    return upload.name, data


def file_date_note(case: Case) -> None:
    """A case file is decided at its own date and reading: say them, and how they differ from the chosen ones."""
    as_of, mode = ui.chosen()
    own = f"{case.as_of.isoformat()}, read {case.mode.replace('_', ' ')}"
    if (case.as_of, case.mode) == (as_of, mode):
        st.caption(f"The case file is decided at its own date and reading: {own} (the same as chosen above).")
    else:
        st.info(
            f"The case file is decided at its own date and reading, **{own}**, not the date and reading "
            f"chosen above ({as_of.isoformat()}, {mode.replace('_', ' ')}). Load it into the form to ask it at "
            "another date.",
            icon="📅",
        )


def explanation(case: Case, goal: str | None, with_counterfactuals: bool = True):
    """explain(case, goal), kept in this session only (the key is the case's facts and what-if)."""
    key = (ui.case_key(case), goal, with_counterfactuals)
    cache = st.session_state.setdefault("explanations", {})
    if key not in cache:
        cache[key] = ui.ask(explain, case, goal, with_counterfactuals)
    return cache[key]


def show_answer(d: Decision, reform: str | None) -> None:
    md = ui.md  # every text below may carry user text (case values, a reform's rule text): escaped
    sentence = answer_sentence(d)
    if reform:
        sentence = f"Under the reform “{reform}”: {sentence}"
    (st.success if not d.license_required or d.authorized_by else st.error)(md(sentence))
    st.markdown(
        f"**Legal status on {md(d.as_of)} ({md(d.mode.replace('_', ' '))}), "
        f"{md(d.regime.replace('_', '-'))} controls:** {md(d.status)}"
    )
    if d.what_if:
        st.info("What if: " + "; ".join(md(w) for w in d.what_if))
    c1, c2, c3 = st.columns(3)
    c1.metric("Licence required", "yes" if d.license_required else "no")
    c2.metric("Authorized by", ", ".join(d.authorized_by) or "—")
    c3.metric("Red flags", len(d.red_flags))
    if d.review_policy:  # in full: a metric would cut it off
        st.markdown(f"**Review policy:** {md(d.review_policy)}")
    for route, why in d.uncertain.items():
        st.warning(f"Unclear whether **{md(route)}** applies: {md(why)}")
    for flag in d.red_flags:
        st.error(f"Red flag: **{md(ui.onto().title(flag))}** ({md(ui.term_help(flag))})")
    for obligation in d.obligations:
        st.info(f"Obligation: **{md(ui.onto().title(obligation))}**: {md(ui.term_help(obligation))}")
    st.subheader("Reasons")
    st.markdown(
        "\n".join(
            f"- {md(r.text)} ({', '.join(ui.cite_link(c) for c in r.citations)}; rule `{r.rule}`)" for r in d.reasons
        )
        or "—"
    )  # rule ids are names: safe in code
    if d.caveats:
        with st.expander(f"Caveats ({len(d.caveats)})"):
            st.markdown("\n".join(f"- {md(c)}" for c in d.caveats))


def details() -> bool:
    """The "details" toggle: the proof in the engine's terms too (atoms, rule ids, failing conditions)."""
    return bool(st.session_state.get("proof_details"))


def show_why_not(case: Case, d: Decision) -> None:
    """Each unavailable route: the first failing condition; on request, the refutation and counterfactuals."""
    st.subheader("Why not")
    st.toggle("Details: the engine's terms (atoms, rule ids, failing conditions)", key="proof_details")
    if not d.license_required:
        st.markdown(f"No licence requirement: {ui.md(d.no_licence_because)}.")
        ui.proof_tree(ui.proof_roots(d)[-1], details())
        return
    opened = st.session_state.setdefault("opened", set())
    for route, why in d.not_available.items():
        with st.container(border=True):
            left, right = st.columns([5, 1])
            left.markdown(f"**{ui.md(route)}** ({ui.md(ui.onto().authorizations[route]['name'])}): {ui.md(why)}")
            if right.button(f"Why not {route}?", key=f"whynot_{route}"):
                opened.add(route)
            if route in opened:
                try:
                    with st.spinner(f"Explaining why not {route} (counterfactuals are verified by the engine)…"):
                        goal = explanation(case, route).goals[0]
                except AidkbError as error:
                    engine_error(error)
                    continue
                show_refutation(goal)


def show_refutation(goal) -> None:
    md, why = ui.md, ui.refutation(goal.node)
    st.markdown(f"*Category:* **{md(why['category'])}**. {md(why['reason'])}")
    if len(why["obstacles"]) > 1:  # every failing condition of every rule that could derive it
        st.markdown(
            "**Every obstacle:**\n"
            + "\n".join(
                f"- {md(reason)}" + (f" (rule `{rule}`, condition {n})" if details() else "")
                for reason, rule, n in why["obstacles"]
            )
        )
    if why["point"] and details():
        rule, cites, n, condition = why["point"]
        st.markdown(f"Rule `{rule}` ({', '.join(ui.cite_link(c) for c in cites)}) fails at condition {n}:")
        st.code(condition, language="prolog")
    if goal.counterfactuals:
        st.markdown(
            "**It would hold if:**\n" + "\n".join(f"- {md(cf.describe(ui.onto()))}" for cf in goal.counterfactuals)
        )
    else:
        st.markdown(md(searched_text(goal)))
    ui.proof_tree(goal.node, details())


@st.dialog("The proof as a graph", width="large")
def graph_dialog(dot: str) -> None:
    st.caption(
        "Full width; the chart's own toolbar opens it full screen. The DOT file opens in any Graphviz "
        "viewer for zooming."
    )
    st.graphviz_chart(dot, width="stretch")


def show_proof(case: Case, d: Decision) -> None:
    st.subheader("Proof")
    tree, graph = st.tabs(["Tree", "Graph"])
    with tree:
        for node in ui.proof_roots(d):
            with st.expander(ui.md(ui.node_label(node, details()))):
                ui.proof_tree(node, details())
    with graph:
        try:
            dot = proof_dot(explanation(case, None, with_counterfactuals=False))
        except AidkbError as error:
            engine_error(error)
            return
        left, right = st.columns(2)
        if left.button("Open the graph full size", key="graph_full", icon="🔍"):
            graph_dialog(dot)
        right.download_button(
            "Graph (DOT)", dot, file_name=f"{d.id}-proof.dot", mime="text/vnd.graphviz", key="graph_dot"
        )
        st.graphviz_chart(dot, width="stretch")


def show_downloads(case: Case, d: Decision) -> None:
    st.subheader("Downloads")
    c1, c2, c3 = st.columns(3)
    c1.download_button(
        "Decision (JSON)",
        json.dumps(d.to_json(), indent=2, ensure_ascii=False),
        file_name=f"{d.id}.json",
        mime="application/json",
    )
    if st.session_state.get("memo_ready") != ui.case_key(case):
        if c2.button("Prepare the memo", help="counterfactuals for every failed route: a few seconds"):
            try:
                with st.spinner("Writing the memo (counterfactuals for every failed route)…"):
                    explanation(case, None)
            except AidkbError as error:
                engine_error(error)
                return
            st.session_state["memo_ready"] = ui.case_key(case)
            st.rerun()
        return
    try:
        e = explanation(case, None)
    except AidkbError as error:
        engine_error(error)
        return
    c2.download_button("Memo (Markdown)", memo_markdown(e), file_name=f"{d.id}-memo.md", mime="text/markdown")
    c3.download_button("Memo (HTML)", memo_html(e), file_name=f"{d.id}-memo.html", mime="text/html")


def engine_error(error: Exception) -> None:
    """An error of the engine's side (an overrun, the memory limit, rules that cannot be evaluated), shown."""
    icon = "⏱️" if isinstance(error, DeadlineExceeded) else "🚫"
    st.error(f"The engine did not answer: {ui.md(error)}", icon=icon)


def reform_choice() -> tuple[tuple, str] | None:
    """The What-if page's current reform (session_state reform_yaml / reform_name) when the toggle says to
    answer under it: (its operations, its name); None for the law as it is."""
    state = st.session_state
    text, name = state.get("reform_yaml"), state.get("reform_name") or "what-if"
    if not text:
        return None
    if not st.toggle(
        f"Answer under the reform “{ui.md(name)}” (from the What-if page)",
        key="ask_under_reform",
        help="Off: under the law as it is",
    ):
        return None
    try:
        reform = parse_reform(yaml.safe_load(text), "<what-if reform>")
    except (yaml.YAMLError, ReformError) as error:
        st.error(
            f"The What-if page's reform cannot be read, so the answer is under the law as it is: {ui.md(error)}",
            icon="🚫",
        )
        return None
    overran = [said for (key, _), said in state.get("tier_failures", {}).items() if key == reform.key]
    if overran:
        st.caption(
            f"⏱️ On the What-if page this reform's tier rules gave no answer ({ui.md(overran[0])}): an answer under "
            "it will most likely be stopped the same way. Switch the toggle off for the law as it is."
        )
    return reform.operations, name


def changed_fields(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The case-file fields whose values differ between two case mappings."""
    out = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_fields(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def question() -> tuple[tuple, dict, Case, bool] | None:
    """The question on screen: (what identifies it, its case mapping, the case, decide it now?); None before a
    case file is chosen. Raises CaseError/ReformError on bad input."""
    source = st.session_state["ask_source"]
    reform = reform_choice()
    if source == SOURCES[0]:
        data = form()
        left, right = st.columns([1, 3])
        now = left.button("Decide", type="primary", key="decide")
        right.download_button(
            "Save the form as a case file (YAML)",
            ui.case_yaml(data),
            key="save_case",
            file_name="form-question.yaml",
            mime="application/x-yaml",
            help="`aidkb decide` reads it; upload it here again to ask it later",
        )
        name = "<form>"
    else:
        chosen = case_file_choice() if source == SOURCES[1] else upload_choice()
        if chosen is None:
            return None
        where, data = chosen
        name, now = (ui.case_name(where) if source == SOURCES[1] else where), True
    case = parse_case(data, name)
    if source != SOURCES[0]:
        file_date_note(case)
        st.button(
            "Edit in the form",
            key="edit_case",
            on_click=load_into_form,
            args=(data, case.as_of, case.mode),
            help="Copies this case into the form, and its date and reading into the choice above",
        )
    if reform:
        case = dataclasses.replace(case, what_if=case.what_if + reform[0])
    key = (source, repr(data), reform and (reform[1], st.session_state["reform_yaml"]))
    return key, data, case, now


ui.page_setup("Ask · aidkb")
st.title("Ask")
state = st.session_state
kept = state.setdefault("ask_kept", {"ask_source": SOURCES[0], "case_file": None, "ask_under_reform": True})
for kept_key, kept_value in kept.items():  # widgets forget their value on leaving the page
    state.setdefault(kept_key, kept_value)
opened_case = st.query_params.get("case")  # a link from the Rules page: ?case=<file name without .yaml>
if opened_case:
    state["case_file"] = next((p for p in ui.case_files() if p.stem == opened_case), None)
    state["ask_source"] = SOURCES[1]
    del st.query_params["case"]
source = st.radio("Transaction", SOURCES, horizontal=True, key="ask_source")
answers = state.setdefault("answers", {})  # source -> the last answer given, with the question it answers
try:
    asked = question()
    if asked and asked[3] and answers.get(source, {}).get("key") != asked[0]:
        answers[source] = {
            "key": asked[0],
            "data": asked[1],
            "case": asked[2],
            "decision": ui.ask(service.decide, asked[2]),
            "reform": asked[0][2] and asked[0][2][0],
        }
except (CaseError, ReformError) as error:
    st.error(f"Bad input: {ui.md(error)}", icon="🚫")
    asked = None
except AidkbError as error:
    engine_error(error)
    asked = None
kept.update({k: state[k] for k in kept if k in state})
answer = answers.get(source) if source == SOURCES[0] or asked else None
if answer:
    case, decision = answer["case"], answer["decision"]
    if asked is None or answer["key"] != asked[0]:
        what = changed_fields(answer["data"], asked[1]) if asked else []
        if asked and answer["key"][2] != asked[0][2]:
            what.append("the reform")
        st.warning(
            "**Stale answer:** it answers the question as it was when Decide was pressed"
            + (f"; since then these changed: {', '.join(ui.md(w) for w in what)}" if what else "")
            + ". Press **Decide** to answer the question on screen.",
            icon="⚠️",
        )
    if state.get("asked") != ui.case_key(case):  # a new question: forget the last one's why-nots
        state.update(asked=ui.case_key(case), opened=set(), explanations={}, memo_ready=None)
    if case.title:
        st.header(ui.md(case.title))
    show_answer(decision, answer["reform"])
    show_why_not(case, decision)
    show_proof(case, decision)
    show_downloads(case, decision)
