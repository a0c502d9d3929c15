"""Ask: a transaction (a form, a bundled case file or an uploaded one) -> the answer in one sentence, the
reasons with linked citations, the proof as a tree and a graph, the why-not of each unavailable route with
its counterfactuals, and the memo and JSON to download."""
from __future__ import annotations

import json
from typing import Any

import streamlit as st
import yaml

from app import ui
from kb.deadline import DeadlineExceeded
from kb.errors import AidkbError
from queries.case import END_USES, FLAGS, KINDS, Case, CaseError, load_case, parse_case
from queries.decide import Decision, decide
from queries.explanation import explain
from queries.reform import ReformError
from queries.render import (
    answer_sentence,
    failing_point,
    memo_html,
    memo_markdown,
    proof_dot,
    searched_text,
)

SOURCES = ("Fill in a form", "Bundled case file", "Upload a case file")
NO_VEU = "none"


def form_data() -> dict | None:
    """The form's transaction as a case mapping (the shared case schema), or None before the first submit."""
    o = ui.onto()
    codes = sorted(o.countries)
    optional = [None] + codes
    as_of, mode = ui.chosen()
    with st.form("transaction"):
        st.caption(f"As of {as_of.isoformat()}, read {mode.replace('_', ' ')} (change both in the sidebar).")
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox("Kind", KINDS, format_func=ui.words, key="f_kind")
        item = c1.selectbox("Item (ECCN)", sorted(o.items), key="f_item", index=sorted(o.items).index("3A090.a"))
        quantity = c1.number_input("Quantity (units)", min_value=1, value=1000, step=1, key="f_quantity")
        tpp = c1.number_input("TPP per unit", min_value=1, value=15832, step=1, key="f_tpp")
        origin = c2.selectbox("From", codes, index=codes.index("US"), format_func=ui.country_label, key="f_from")
        destination = c2.selectbox("Destination", codes, index=codes.index("MY"), format_func=ui.country_label,
                                   key="f_destination")
        hq = c2.selectbox("End user's headquarters", optional, index=optional.index("MY"),
                          format_func=ui.country_label, key="f_hq")
        parent = c2.selectbox("Ultimate parent's headquarters", optional, index=optional.index("MY"),
                              format_func=ui.country_label, key="f_parent")
        end_use = c3.selectbox("End use", END_USES, format_func=ui.words, key="f_end_use")
        ytd = c3.number_input("TPP already shipped to this consignee under LPP this year", min_value=0, value=0,
                              step=1, key="f_ytd")
        allocated = c3.number_input("TPP already counted against the destination's allocation", min_value=0,
                                    value=0, step=1, key="f_allocated")
        g2g = c3.checkbox("Government-to-government arrangement", key="f_g2g")
        flags = st.multiselect("Facts", FLAGS, format_func=ui.words, key="f_flags")
        with st.expander("VEU status"):
            v1, v2 = st.columns(2)
            veu = v1.radio("Validated end user", (NO_VEU, "UVEU", "NVEU"), horizontal=True, key="f_veu")
            holdings = {k: v1.number_input(f"UVEU {k.replace('_', ' ')} before this shipment", min_value=0,
                                           value=0, step=1, key=f"f_{k}")
                        for k in ("global_tpp", "tier1_tpp", "us_tpp", "destination_tpp")}
            nveu_dest = v2.selectbox("NVEU authorization for", codes, index=codes.index("IN"),
                                     format_func=ui.country_label, key="f_nveu_dest")
            nveu_cum = v2.number_input("TPP already received there under it", min_value=0, value=0, step=1,
                                       key="f_nveu_cum")
        with st.expander("Model facts (4E091)"):
            m1, m2 = st.columns(2)
            training_ops = m1.text_input("Training operations (e.g. 2.0e26; empty if not a model)", key="f_ops")
            frontier = m2.text_input("Most powerful open-weight model's operations (optional override)",
                                     key="f_frontier")
            published = m1.checkbox("Weights published", key="f_published")
        if not st.form_submit_button("Decide", type="primary"):
            return st.session_state.get("form_case")
    end_user: dict[str, Any] = {"name": "the end user", "hq_country": hq, "ultimate_parent_hq_country": parent,
                                "end_use": end_use, "veu": None if veu == NO_VEU else veu}
    if veu == "UVEU":
        end_user["veu_holdings"] = holdings
    if veu == "NVEU":
        end_user["nveu_authorization"] = {"destination": nveu_dest, "cumulative_tpp": nveu_cum}
    model = None
    if training_ops.strip() or frontier.strip():
        model = {"training_ops": training_ops.strip() or None, "weights_published": published,
                 "open_weight_frontier_ops": frontier.strip() or None}
    data = {"id": "form-question", "title": "question from the form", "as_of": as_of, "mode": mode,
            "transaction": {"kind": kind, "item": item, "quantity": quantity, "tpp_per_unit": tpp, "model": model,
                            "from_country": origin, "destination_country": destination, "end_user": end_user,
                            "consignee_tpp_already_this_year": ytd, "country_tpp_already_allocated": allocated,
                            "gov_to_gov_arrangement": g2g, "facts": flags}}
    st.session_state["form_case"] = data
    return data


def read_case(source: str) -> Case | None:
    """The case the user gave, validated (raises CaseError or ReformError on bad input)."""
    if source == SOURCES[0]:
        data = form_data()
        return parse_case(data, "<form>") if data else None
    if source == SOURCES[1]:
        files = ui.case_files()
        path = st.selectbox("Case file", files, format_func=ui.case_name, key="case_file")
        return load_case(path) if path else None
    upload = st.file_uploader("Case file (YAML, the schema of shared/cases/README.md)", type=["yaml", "yml"],
                              key="case_upload")
    if upload is None:
        return None
    try:
        data = yaml.safe_load(upload.getvalue().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise CaseError(upload.name, "", f"malformed YAML: {getattr(e, 'problem', None) or e}") from None
    return parse_case(data, upload.name)


def explanation(case: Case, goal: str | None, with_counterfactuals: bool = True):
    """explain(case, goal), kept in this session only (the key is the case's facts and what-if)."""
    key = (ui.case_key(case), goal, with_counterfactuals)
    cache = st.session_state.setdefault("explanations", {})
    if key not in cache:
        cache[key] = ui.ask(explain, case, goal, with_counterfactuals)
    return cache[key]


def show_answer(d: Decision) -> None:
    md = ui.md  # every text below may carry user text (case values, a reform's rule text): escaped
    sentence = answer_sentence(d)
    (st.success if not d.license_required or d.authorized_by else st.error)(md(sentence))
    st.markdown(f"**Legal status on {md(d.as_of)} ({md(d.mode.replace('_', ' '))}), "
                f"{md(d.regime.replace('_', '-'))} controls:** {md(d.status)}")
    if d.what_if:
        st.info("What if: " + "; ".join(md(w) for w in d.what_if))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Licence required", "yes" if d.license_required else "no")
    c2.metric("Authorized by", ", ".join(d.authorized_by) or "—")
    c3.metric("Red flags", len(d.red_flags))
    c4.metric("Review policy", d.review_policy or "—")
    for route, why in d.uncertain.items():
        st.warning(f"Unclear whether **{md(route)}** applies: {md(why)}")
    for flag in d.red_flags:
        st.error(f"Red flag: {md(flag)}")
    for obligation in d.obligations:
        st.info(f"Obligation: {md(obligation)}")
    st.subheader("Reasons")
    st.markdown("\n".join(f"- {md(r.text)} ({', '.join(ui.cite_link(c) for c in r.citations)}; rule "
                          f"`{r.rule}`)" for r in d.reasons) or "—")  # rule ids are names: safe in code
    if d.caveats:
        with st.expander(f"Caveats ({len(d.caveats)})"):
            st.markdown("\n".join(f"- {md(c)}" for c in d.caveats))


def show_why_not(case: Case, d: Decision) -> None:
    """Each unavailable route: the first failing condition; on request, the refutation and counterfactuals."""
    st.subheader("Why not")
    if not d.license_required:
        st.markdown(f"No licence requirement: {ui.md(d.no_licence_because)}.")
        ui.proof_tree(d.proof["refutations"][0])
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
    md, node = ui.md, goal.node
    st.markdown(f"*Category:* **{md(node['category'])}**. {md(node['reason'])}")
    if len(node.get("obstacles", [])) > 1:  # every failing condition of every rule that could derive it
        st.markdown("**Every obstacle:**\n" + "\n".join(
            f"- {md(o['reason'])} (rule `{o['rule']}`, condition {o['failed_at'] + 1})" for o in node["obstacles"]))
    point = failing_point(node)
    if point.get("rule"):
        st.markdown(f"Rule `{point['rule']}` ({', '.join(ui.cite_link(c) for c in point['citations'])}) fails at "
                    f"condition {point['failed_at'] + 1}:")
        st.code(point["condition"], language="prolog")
    if goal.counterfactuals:
        st.markdown("**It would hold if:**\n" + "\n".join(f"- {md(cf.describe(ui.onto()))}"
                                                          for cf in goal.counterfactuals))
    else:
        st.markdown(md(searched_text(goal)))
    ui.proof_tree(node)


def show_proof(case: Case, d: Decision) -> None:
    st.subheader("Proof")
    tree, graph = st.tabs(["Tree", "Graph"])
    with tree:
        for node in d.proof["conclusions"] + d.proof["refutations"]:
            with st.expander(ui.md(ui.node_label(node))):
                ui.proof_tree(node)
    with graph:
        try:
            st.graphviz_chart(proof_dot(explanation(case, None, with_counterfactuals=False)))
        except AidkbError as error:
            engine_error(error)


def show_downloads(case: Case, d: Decision) -> None:
    st.subheader("Downloads")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Decision (JSON)", json.dumps(d.to_json(), indent=2, ensure_ascii=False),
                       file_name=f"{d.id}.json", mime="application/json")
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


ui.page_setup("Ask · aidkb")
st.title("Ask")
source = st.radio("Transaction", SOURCES, horizontal=True, key="ask_source")
try:
    case = read_case(source)
    decision = ui.ask(decide, case) if case else None
except (CaseError, ReformError) as error:
    st.error(f"Bad input: {ui.md(error)}", icon="🚫")
    case = decision = None
except AidkbError as error:
    engine_error(error)
    case = decision = None
if decision and case:
    if st.session_state.get("asked") != ui.case_key(case):  # a new question: forget the last one's why-nots
        st.session_state.update(asked=ui.case_key(case), opened=set(), explanations={}, memo_ready=None)
    if case.title:
        st.header(ui.md(case.title))
    show_answer(decision)
    show_why_not(case, decision)
    show_proof(case, decision)
    show_downloads(case, decision)
