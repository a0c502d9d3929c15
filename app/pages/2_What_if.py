"""What-if: edit a reform (move countries between tiers, set parameters, switch rules off, edit a rule's text),
run it over the bundled cases and the grid at the sidebar's date and reading, and see in totals, maps and
tables what flips and why; sweep a parameter; compare two reforms.

The reform lives in this browser session (st.session_state, shared with the other pages) and in the page's
URL (a reload or a shared link brings it back); the baseline is never changed (queries/reform.py applies a
reform to a copy). Checking a reform, its tier maps and its impact all run in the session's deadline worker
(app/ui.py `ask`): rules that loop or explode stop this session's question, never the server."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import altair as alt
import pandas as pd
import streamlit as st

from aidkb import ontology
from aidkb.app import ui
from aidkb.app import whatif as w
from aidkb.kb.deadline import DeadlineExceeded
from aidkb.kb.errors import AidkbError
from aidkb.kb.program import baseline_program
from aidkb.queries.case import CaseError, load_case
from aidkb.queries.impact import (
    FINE_ITEMS,
    FINE_SIZES,
    FINE_YTDS,
    FLIP_KINDS,
    STATUSES,
    TPP_PER_UNIT,
    Impact,
    grid_point,
    grid_size,
    impact_report,
    sweep,
    why,
)
from aidkb.queries.reform import Reform, parse_reform

SOURCE = "<what-if>"
FLIP_COLOURS = {"no flip": "#e9ecef", "1-9 flips": "#ffd8a8", "10-99 flips": "#ff922b", "100+ flips": "#c92a2a"}
STATUS_COLOURS = dict(zip(STATUSES, ("#2b8a3e", "#f08c00", "#c92a2a")))
COUNTRIES_SHOWN = 25  # in the by-country chart
TABS_WRAP = "<style>div[role='tablist']{flex-wrap:wrap;row-gap:0.25rem}</style>"  # tabs wrap on narrow screens


def checked(ops: list[dict]) -> tuple[Reform, list[str]]:
    """Operations validated as one reform (raises ReformError), and the reform in words. Both are worked out in
    the session's worker (rule text is parsed and checked there) and kept in the session."""
    if not ops:
        return Reform(), []
    key = json.dumps(ops, default=str, sort_keys=True)
    seen = st.session_state.setdefault("checked_reforms", {})
    if key not in seen:
        reform = ui.ask(parse_reform, {"title": "what-if", "operations": ops}, SOURCE, note="Checking the reform")
        seen[key] = (reform, ui.ask(Reform.describe, reform))
        while len(seen) > 20:
            seen.pop(next(iter(seen)))
    return seen[key]


LINK_FAILED = "The link's reform was not loaded: "


def replace_reform(document: dict, source: str, where=st, said: str = "") -> bool:
    """Make a reform document (an upload or a link) the session's reform, if it is valid; else say why."""
    try:
        reform = ui.ask(parse_reform, document, source, note="Checking the reform")
    except AidkbError as e:
        where.error(said + ui.md(e), icon="🚫")
        return False
    st.session_state["reform_ops"] = [o.to_input() for o in reform.operations]
    st.session_state["reform_name"] = reform.title
    st.session_state["reform_name_input"] = reform.title
    return True


def add(new: list[dict], where=st) -> bool:
    """Add operations if the reform stays valid (stored in their input form); else show the error where the
    user typed."""
    try:
        reform, _ = checked(w.operations() + new)
    except AidkbError as e:
        where.error(ui.md(e), icon="🚫")
        return False
    st.session_state["reform_ops"] = [o.to_input() for o in reform.operations]
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
    move, param, off, edit, paste, upload = st.tabs(
        ["Move a country", "Set a parameter", "Switch a rule off", "Edit a rule", "Paste a reform", "Upload a reform"],
        key="editor_tab",  # tracked, so a rerun (an upload, the link written to the address bar) keeps the tab
        on_change="rerun",
    )
    codes = [c for c in sorted(o.countries) if c != "US"]
    country = move.selectbox(
        "Country", codes, index=codes.index("MY"), format_func=ui.country_label, key="move_country"
    )
    tier = move.radio("to", (1, 2, 3), format_func=lambda n: f"Tier {n}", horizontal=True, key="move_tier")
    frm = since(move, "move")
    if move.button("Add the move", key="add_move"):
        add([{"move_country": {"country": country, "to_tier": tier, "from": frm}}], move)

    names = sorted({p.name for p in o.parameters})
    name = param.selectbox("Parameter", names, index=names.index("lpp_annual_tpp_limit"), key="param_name")
    current = o.parameter(name, ontology.date_number(ui.chosen()[0]))
    param.caption(
        f"On {ui.chosen()[0]}: {current.value:,} ({current.unit}; {current.citation}, grade {current.grade})"
        if current
        else f"not in force on {ui.chosen()[0]}"
    )
    value = param.text_input("New value (a number, or a date YYYY-MM-DD for dates)", key="param_value")
    frm = since(param, "param")
    if param.button("Set the parameter", key="add_param"):
        add([{"set_parameter": {"name": name, "value": number(value.strip()), "from": frm}}], param)

    ids = [r.id for r in program.rules]
    rule_id = off.selectbox("Rule", ids, key="off_rule")
    off.caption(program.rule(rule_id).says)
    if off.button("Switch it off", key="add_off"):
        add([{"disable_rule": {"id": rule_id}}], off)

    rule_id = edit.selectbox("Rule", ids, index=ids.index("lpp_conditions"), key="edit_rule")
    original = ui.rule_source(program.rule(rule_id))
    text = edit.text_area(
        "Rule text (the rule language; errors show file:line:column)", original, height=300, key=f"edit_text_{rule_id}"
    )
    with edit.expander("The text with line numbers (an error's line:column counts from its first line)"):
        st.code(text, language=None, line_numbers=True)
    edit.code(w.rule_diff(original, text, rule_id), language="diff")
    if edit.button("Replace the rule", key="add_edit"):
        add([{"replace_rule": {"id": rule_id, "text": text}}], edit)

    pasted = paste.text_area(
        "A reform file (as the page downloads it), or a list of operations",
        key="paste_ops",
        placeholder="title: Malaysia to Tier 1\noperations:\n"
        "- move_country: {country: MY, to_tier: 1}\n"
        "- set_parameter: {name: lpp_annual_tpp_limit, value: 40000000}",
    )
    if paste.button("Add these operations", key="add_paste"):
        try:
            document = w.read(pasted, "<paste>")
        except AidkbError as e:
            paste.error(ui.md(e), icon="🚫")
        else:
            ops = document.get("operations")
            if not isinstance(ops, list) or not ops:
                paste.error(ui.md("<paste>: operations: missing or empty list of operations"), icon="🚫")
            elif add(ops, paste) and document.get("title") and len(w.operations()) == len(ops):
                st.session_state["reform_name_input"] = str(document["title"])

    file = upload.file_uploader(
        "A reform file (YAML), e.g. one downloaded from this page", type=["yaml", "yml"], key="reform_upload"
    )
    if file is not None and upload.button("Use this reform (replaces the current one)", key="load_upload"):
        try:
            document = w.read_upload(file.getvalue(), file.name)
        except AidkbError as e:
            upload.error(ui.md(e), icon="🚫")
        else:
            replace_reform(document, file.name, upload)


def current_reform() -> Reform:
    st.subheader("The reform")
    state = st.session_state
    state.setdefault("reform_name_input", w.name())
    state["reform_name"] = st.text_input("Name", key="reform_name_input", max_chars=300).strip() or "what-if"
    ops = w.operations()
    if not ops:
        st.caption("No operations yet: add some above. The baseline is the rule as published.")
        return Reform()
    reform, lines = checked(ops)
    program = baseline_program()
    for i, (line, op) in enumerate(zip(lines, reform.operations)):
        left, right = st.columns([6, 1])
        left.markdown(f"{i + 1}. {ui.md(line)}")
        if op.op == "replace_rule":
            with left.expander(f"What changed in {op.get('id')}"):
                st.code(
                    w.rule_diff(ui.rule_source(program.rule(op.get("id"))), op.get("text"), op.get("id")),
                    language="diff",
                )
        if right.button("Remove", key=f"remove_{i}"):
            del ops[i]
            st.rerun()
    text = w.dump(ops, w.name())
    left, right = st.columns(2)
    left.download_button(
        "Download the reform (YAML)",
        text,
        file_name=f"{safe_file(w.name())}.yaml",
        mime="application/x-yaml",
        key="download_reform",
    )
    if right.button("Keep it for comparison", key="keep_reform"):
        kept = state.setdefault("kept_reforms", {})
        kept.pop(w.name(), None)
        kept[w.name()] = text
        while len(kept) > w.MAX_KEPT:
            kept.pop(next(iter(kept)))
    with st.expander("Share: a link to this page with the reform"):
        base = (st.context.url or "").split("?")[0]
        st.code(f"{base}?{urllib.parse.urlencode(w.link_tokens())}", language=None, wrap_lines=True)
        st.caption(
            "The link carries the reform itself, the reforms kept for comparison and the sweep's settings "
            "(compressed, base64url): whoever opens it gets them in their own session. The page's address bar "
            "holds the same link."
        )
    return reform


def safe_file(title: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in title)[:60] or "reform"


@st.cache_data(show_spinner=False)
def bundled_cases() -> list:
    out = []
    for path in ui.case_files():
        try:
            out.append(load_case(path))
        except CaseError:
            continue
    return out


def progress_bar(text: str):
    bar = st.progress(0.0, text=text)

    def progress(label: str, done: int, total: int) -> None:
        bar.progress(done / total, text=f"{label}: {done:,} of {total:,}")

    return bar, progress


def run(reform: Reform, use_grid: bool, as_of: dt.date, mode: str) -> tuple[Impact, dict]:
    """The reform's impact and its JSON report (the baseline grid is shared by the server's sessions)."""
    bar, progress = progress_bar("Deciding the bundled cases before and after…")
    baseline = w.shared_baseline(as_of, mode, progress=progress) if use_grid else None
    cases = bundled_cases()
    result, report = ui.ask(
        impact_report,
        reform,
        cases,
        use_grid,
        as_of,
        mode,
        baseline,
        w.shared_case_baseline(cases),
        progress=progress,
        seconds=600,
        note="Running the reform",
    )
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
        right.altair_chart(ui.map_chart(after, ui.TIER_COLOURS, f"Tiers on {as_of}: under the reform"), width="stretch")
        moved = [
            {"country": ui.country_label(c), "baseline": before[c], "reform": after.get(c)}
            for c in sorted(before)
            if before[c] != after.get(c)
        ]
        if moved:
            st.dataframe(pd.DataFrame(moved), hide_index=True)
    counts = pd.Series([f.country for f in result.flips]).value_counts().to_dict() if result and result.flips else {}
    if result is not None:
        bucket = {c: "1-9 flips" if n < 10 else "10-99 flips" if n < 100 else "100+ flips" for c, n in counts.items()}
        st.altair_chart(
            ui.map_chart(
                {c: bucket.get(c, "no flip") for c in before},
                FLIP_COLOURS,
                "Where outcomes flip (destination of the case or grid point)",
            ),
            width="stretch",
        )
    with st.expander("The maps as a table (every country)"):
        rows = [
            {
                "country": ui.country_label(c),
                "baseline": before[c],
                "under the reform": (after or {}).get(c, "?"),
                **({"flips": counts.get(c, 0)} if result else {}),
            }
            for c in sorted(before)
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(
        "Map: Natural Earth 1:110m, shipped with the app; countries too small for it (e.g. SG, HK, MO) "
        "are in the tables only."
    )


def show_totals(report: dict) -> None:
    totals = report["status_totals"]
    st.subheader("Outcomes before and after")
    st.dataframe(w.status_frame(totals, "all"), hide_index=True)
    part = st.radio(
        "Break down by",
        ("by_tier", "by_item", "by_country"),
        horizontal=True,
        key="totals_part",
        format_func=lambda p: p.replace("_", " ") + (" (baseline tiers)" if p == "by_tier" else ""),
    )
    data = w.long_status(totals, part)
    most = pd.Series([f["country"] for f in report["flips"]], dtype=str).value_counts().index[:COUNTRIES_SHOWN]
    if part == "by_country":
        data = data[data["group"].isin(set(most))]
        st.caption(f"The {len(most)} countries with the most flips (all countries: the table under the maps).")
    if not data.empty:
        chart = (
            alt.Chart(data)
            .mark_bar()
            .encode(
                x=alt.X("sum(outcomes):Q", title="outcomes compared", stack="normalize"),
                y=alt.Y("when:N", title=None, sort=["before", "after"]),
                row=alt.Row("group:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
                color=alt.Color(
                    "licence status:N",
                    scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
                    legend=alt.Legend(orient="bottom"),
                ),
                tooltip=["group", "when", "licence status", "outcomes"],
            )
        )
        st.altair_chart(chart, width="stretch")
    frame = w.status_frame(totals, part)
    if part == "by_country":
        frame = frame[frame["country"].isin(set(most))]
    st.dataframe(frame, hide_index=True)


def show_flips(result: Impact, report: dict) -> None:
    st.subheader(f"{len(result.flips):,} flips out of {result.compared:,} outcomes compared")
    st.caption(
        f"{result.evaluated:,} cases and grid classes evaluated under the reform in {result.seconds:.1f} s; "
        f"grid points are decided as of {result.as_of} ({result.mode.replace('_', ' ')}), each bundled case "
        "on its own date and reading. Tighter: a stricter licence status; looser: a laxer one; route-only: "
        "the same status, with other routes, review policy or red flags."
    )
    if not result.flips:
        return
    kinds = report["totals"]["by_kind"]
    chosen = st.multiselect(
        "Kinds of flip",
        FLIP_KINDS,
        default=list(FLIP_KINDS),
        key="flip_kinds",
        format_func=lambda k: f"{k} ({kinds.get(k, 0):,})",
    )
    countries = sorted({f.country for f in result.flips})
    where = st.multiselect("Countries (all when empty)", countries, key="flip_countries", format_func=ui.country_label)
    rows = [
        {
            "case or grid point": f.key,
            "kind": f.kind,
            "country": f.country,
            "item": f.item,
            "before": f.before.describe(),
            "after": f.after.describe(),
        }
        for f in result.flips
        if f.kind in chosen and (not where or f.country in where)
    ]
    flips = pd.DataFrame(rows, columns=["case or grid point", "kind", "country", "item", "before", "after"])
    st.dataframe(flips, hide_index=True)
    c1, c2 = st.columns(2)
    c1.download_button("Flips (CSV)", flips.to_csv(index=False), file_name="flips.csv", mime="text/csv")
    c2.download_button(
        "Impact (JSON; causes: `aidkb impact --json`)",
        json.dumps(report, indent=2),
        file_name="impact.json",
        mime="application/json",
    )
    if rows:
        st.markdown("**Why** (the rules' own sentences, under the values they applied with)")
        keys = [r["case or grid point"] for r in rows]
        key = st.selectbox("Flip", keys, key="flip_why")
        flip = next(f for f in result.flips if f.key == key)
        st.markdown(f"{ui.md(flip.before.describe())} → {ui.md(flip.after.describe())}")
        said = st.session_state.setdefault("cause_sentences", {})
        asked = (result.reform.key, result.as_of, result.mode, key)
        if asked not in said:
            case = None if grid_point(key) else next(c for c in bundled_cases() if c.id == key)
            try:
                said[asked] = ui.ask(
                    why, key, result.reform, case, result.as_of, result.mode, note="Reading the proofs before and after"
                )
            except AidkbError as error:
                st.error(f"No causes: {ui.md(error)}", icon="⏱️")
                return
            while len(said) > 50:
                said.pop(next(iter(said)))
        for sentence in said[asked]:
            st.markdown(f"- {ui.md(sentence)}")


def numeric_parameters() -> list[str]:
    return sorted({p.name for p in ui.onto().parameters if p.unit != "date"})


def show_sweep(as_of: dt.date, mode: str) -> None:
    o = ui.onto()
    numeric = numeric_parameters()
    st.caption(
        f"On a fine sub-grid: every country × {', '.join(FINE_ITEMS)} × {len(FINE_SIZES)} quantities "
        f"({min(FINE_SIZES):,} to {max(FINE_SIZES):,} units of {TPP_PER_UNIT:,} TPP) × {len(FINE_YTDS)} "
        f"amounts already shipped this year (0 to {max(FINE_YTDS):,} TPP) × headquarters in the "
        f"destination or the US ({grid_size('fine'):,} points), decided on {as_of} "
        f"({mode.replace('_', ' ')}), each value set at a time by the SQL engine."
    )
    kept = w.kept_sweep()  # each control is drawn with its kept value, and keeps what it shows
    kept["parameter"] = name = st.selectbox(
        "Parameter",
        numeric,
        key="sweep_name",
        index=numeric.index(kept.get("parameter", "lpp_annual_tpp_limit")),
    )
    current = o.parameter(name, ontology.date_number(as_of))
    c1, c2, c3 = st.columns(3)
    kept["from"] = low = c1.number_input(
        "from",
        min_value=0,
        step=1_000_000,
        key="sweep_low",
        value=kept.get("from", 1_000_000 if name == "lpp_annual_tpp_limit" else 0),
    )
    kept["to"] = high = c2.number_input(
        "to",
        min_value=0,
        step=1_000_000,
        key="sweep_high",
        value=kept.get(
            "to", 40_000_000 if name == "lpp_annual_tpp_limit" else int(current.value * 2) if current else 100
        ),
    )
    kept["values"] = steps = c3.number_input(
        "values", min_value=2, max_value=w.MAX_SWEEP_STEPS, key="sweep_steps", value=kept.get("values", 9)
    )
    if st.button("Sweep", key="run_sweep", disabled=high <= low):
        values = sorted({round(low + (high - low) * i / (steps - 1)) for i in range(int(steps))})
        bar, progress = progress_bar("Deciding the baseline sub-grid…")
        try:
            baseline = w.shared_baseline(as_of, mode, "fine", progress)
            rows = ui.ask(
                sweep,
                name,
                values,
                as_of,
                mode,
                baseline,
                "fine",
                progress=progress,
                seconds=600,
                note="Sweeping the parameter",
            )
        except AidkbError as error:
            st.error(f"The engine did not answer: {ui.md(error)}", icon="⏱️")
            return
        bar.empty()
        st.session_state["sweep"] = ((name, as_of, mode), rows, current.value if current else None)
    stored = st.session_state.get("sweep")
    if not stored or stored[0] != (name, as_of, mode):
        return
    _, rows, now = stored
    data = pd.DataFrame(rows)
    long = data.melt(id_vars=["value"], value_vars=list(FLIP_KINDS), var_name="kind", value_name="points")
    chart = (
        alt.Chart(long, title=f"Sub-grid points that flip against the law on {as_of}")
        .mark_line(point=True)
        .encode(
            x=alt.X("value:Q", title=name),
            y=alt.Y("points:Q", title="flips"),
            color="kind:N",
            tooltip=["value", "kind", "points"],
        )
    )
    if now is not None:
        chart = chart + alt.Chart(pd.DataFrame([{"value": now}])).mark_rule(strokeDash=[4, 4]).encode(x="value:Q")
        st.caption(f"Dashed line: the value in force on {as_of}, {now:,}.")
    st.altair_chart(chart, width="stretch")
    st.dataframe(data, hide_index=True)


def show_compare(as_of: dt.date, mode: str) -> None:
    kept = st.session_state.get("kept_reforms", {})
    if len(kept) < 2:
        st.caption("Keep two reforms for comparison (the button under the reform) to see them side by side.")
        return
    names = list(kept)
    c1, c2 = st.columns(2)
    first = c1.selectbox("Reform A", names, index=0, key="compare_a")
    second = c2.selectbox("Reform B", names, index=1, key="compare_b")
    use_grid = st.checkbox("Include the grid", value=True, key="compare_grid")
    if st.button("Compare", key="run_compare"):
        out = {}
        for label, title in (("A", first), ("B", second)):
            try:
                document = w.read(kept[title], f"<kept {title}>")
                reform = ui.ask(parse_reform, document, f"<kept {title}>", note="Checking the reform")
                out[label] = run(reform, use_grid, as_of, mode)
            except AidkbError as error:
                st.error(f"{ui.md(title)}: {ui.md(error)}", icon="🚫")
                return
        st.session_state["comparison"] = ((first, second, as_of, mode, use_grid), out)
    stored = st.session_state.get("comparison")
    if not stored or stored[0] != (first, second, as_of, mode, use_grid):
        return
    out = stored[1]
    columns = st.columns(2)
    for column, (label, title) in zip(columns, (("A", first), ("B", second))):
        result, report = out[label]
        column.markdown(f"**{label}: {ui.md(title)}**")
        for line in report["reform"]:
            column.markdown(f"- {ui.md(line)}")
        column.metric("flips", f"{len(result.flips):,}")
        kinds = report["totals"]["by_kind"]
        column.dataframe(pd.DataFrame([{"kind": k, "flips": kinds.get(k, 0)} for k in FLIP_KINDS]), hide_index=True)
        column.dataframe(w.status_frame(report["status_totals"], "all"), hide_index=True)
    keys_a = {f.key: f for f in out["A"][0].flips}
    keys_b = {f.key: f for f in out["B"][0].flips}
    rows = [
        {
            "case or grid point": k,
            "A": keys_a[k].after.describe() if k in keys_a else "no change",
            "B": keys_b[k].after.describe() if k in keys_b else "no change",
        }
        for k in sorted(set(keys_a) | set(keys_b))
        if k not in keys_a or k not in keys_b or keys_a[k].after != keys_b[k].after
    ]
    st.markdown(f"**{len(rows):,} outcomes where the two reforms differ**")
    st.dataframe(pd.DataFrame(rows, columns=["case or grid point", "A", "B"]), hide_index=True)


def load_linked_extras() -> None:
    """The kept reforms and the sweep settings of the page's link, when it carries some not loaded yet; a bad
    one is said and loads nothing."""
    try:
        documents = w.linked_kept()
        if documents is not None:
            kept = {}
            for i, document in enumerate(documents):
                reform = ui.ask(parse_reform, document, f"<link> kept[{i}]", note="Checking the kept reforms")
                kept[reform.title] = w.dump([o.to_input() for o in reform.operations], reform.title)
            st.session_state["kept_reforms"] = kept
    except AidkbError as error:
        st.error(LINK_KEPT_FAILED + ui.md(error), icon="🔗")
    try:
        settings = w.linked_sweep(numeric_parameters())
    except AidkbError as error:
        st.error(LINK_SWEEP_FAILED + ui.md(error), icon="🔗")
    else:
        if settings is not None:
            w.load_sweep(settings)


LINK_KEPT_FAILED = "The link's reforms kept for comparison were not loaded: "
LINK_SWEEP_FAILED = "The link's sweep settings were not loaded: "

ui.page_setup("What-if · aidkb")
st.html(TABS_WRAP)
st.title("What-if")
st.caption(
    "Change the law, then run the change over the bundled cases and the grid (every country × item class "
    "× end-user profile). Only this browser session sees the reform; its link (in the address bar) "
    "brings it back."
)
try:
    linked = w.linked_document()
except AidkbError as error:
    st.error(LINK_FAILED + ui.md(error), icon="🔗")
else:
    if linked is not None:
        replace_reform(linked, "<link>", said=LINK_FAILED)
load_linked_extras()
editors()
try:
    reform = current_reform()
except AidkbError as error:
    st.error(ui.md(error), icon="🚫")
    reform = Reform()
w.publish()
as_of, mode = ui.chosen()
use_grid = st.checkbox(
    f"Include the grid ({grid_size():,} outcomes, evaluated by class; the baseline is decided "
    "once per server for each date and reading)",
    value=st.session_state.get("kept_use_grid", True),
    key="use_grid",
)
st.session_state["kept_use_grid"] = use_grid
st.caption(
    f"The grid is decided on **{as_of}**, reading **{mode.replace('_', ' ')}** (the sidebar's date and "
    "reading); each bundled case on its own date and reading."
)
run_key = (reform.key, as_of, mode, use_grid)
if st.button("Run the reform", type="primary", disabled=not reform.operations, key="run_reform"):
    try:
        st.session_state["impact"] = (run_key, *run(reform, use_grid, as_of, mode))
    except AidkbError as error:
        st.error(
            f"The engine did not answer: {ui.md(error)}", icon="⏱️" if isinstance(error, DeadlineExceeded) else "🚫"
        )
stored = st.session_state.get("impact")
result, report = stored[1:] if stored and stored[0] == run_key else (None, {})
if stored and result is None and stored[0][0] == reform.key:
    st.info(
        f"The last run was on {stored[0][1]} ({stored[0][2].replace('_', ' ')}"
        f"{', with the grid' if stored[0][3] else ', cases only'}): run again for what is chosen now.",
        icon="🔁",
    )
impact_tab, maps_tab, sweep_tab, compare_tab = st.tabs(
    ["Impact", "Maps", "Parameter sweep", "Compare reforms"], key="result_tab", on_change="rerun"
)
with impact_tab:
    if result is not None:
        show_totals(report)
        show_flips(result, report)
    else:
        st.caption("Run the reform to see its impact.")
with maps_tab:
    if maps_tab.open:  # the tier maps are engine work: only for the reader who opened them
        show_maps(reform, result)
with sweep_tab:
    show_sweep(as_of, mode)
with compare_tab:
    show_compare(as_of, mode)
