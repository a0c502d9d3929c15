"""Compare: one question (the Ask page's form, or a bundled case) decided on two dates or in both readings,
side by side, with what differs marked (licence, routes, flags, review policy, status)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import streamlit as st

from aidkb.app import ui
from aidkb.kb.errors import AidkbError
from aidkb.queries import service
from aidkb.queries.case import MODES, CaseError, parse_case
from aidkb.queries.decide import Decision
from aidkb.queries.reform import ReformError
from aidkb.queries.render import answer_sentence

SOURCES = ("The question in the Ask page's form", "A bundled case file")


def rows(d: Decision) -> dict[str, str]:
    """What a lawyer compares, in words (the decision's own fields)."""
    return {
        "Answer": answer_sentence(d),
        "Legal status": d.status,
        "Licence required": "yes" if d.license_required else "no",
        "Authorized by": ", ".join(d.authorized_by) or "—",
        "Not available": ", ".join(d.not_available) or "—",
        "Unclear": ", ".join(sorted(d.uncertain)) or "—",
        "Red flags": "; ".join(ui.onto().title(f) for f in d.red_flags) or "—",
        "Review policy": d.review_policy or "—",
        "Obligations": "; ".join(ui.onto().title(o) for o in d.obligations) or "—",
    }


def comparison(left: Decision, right: Decision, names: tuple[str, str]) -> pd.DataFrame:
    a, b = rows(left), rows(right)
    return pd.DataFrame(
        {
            "": list(a),
            names[0]: list(a.values()),
            names[1]: list(b.values()),
            "differs": ["yes" if a[k] != b[k] else "" for k in a],
        }
    )


def side(column, n: int, as_of: dt.date, mode: str) -> tuple[dt.date, str]:
    with column:
        st.markdown(f"**{'AB'[n]}**")
        day = st.date_input("Date", value=as_of, min_value=ui.EARLIEST, max_value=ui.LATEST, key=f"cmp_as_of_{n}")
        reading = st.radio(
            "Reading",
            MODES,
            index=MODES.index(mode),
            key=f"cmp_mode_{n}",
            horizontal=True,
            format_func=lambda m: m.replace("_", " "),
        )
    return day or as_of, reading


def decided(case) -> Decision:
    """The decision of a case, kept in this session (the key is its facts)."""
    kept = st.session_state.setdefault("compared", {})
    key = ui.case_key(case)
    if key not in kept:
        kept[key] = ui.ask(service.decide, case)
        while len(kept) > 20:
            kept.pop(next(iter(kept)))
    return kept[key]


ui.page_setup("Compare · aidkb")
st.title("Compare")
as_of, mode = ui.chosen()
source = st.radio("Question", SOURCES, horizontal=True, key="cmp_source")
data: dict | None
if source == SOURCES[0]:
    form = ui.form_case(st.session_state.get("form_kept", ui.FORM), as_of, mode)
    st.caption(f"“{ui.md(form['title'])}” as the Ask page's form holds it now.")
    data = form
else:
    path = st.selectbox(
        "Case file",
        ui.case_files(),
        index=None,
        format_func=ui.case_title,
        key="cmp_case",
        placeholder="Choose a case by its title",
    )
    data = ui.case_data(path) if path else None
if data is not None:
    c1, c2 = st.columns(2)
    other = MODES[1 - MODES.index(mode)]
    a = side(c1, 0, as_of, mode)
    b = side(c2, 1, as_of, other)
    try:
        case = parse_case(data, "<compare>")
        left, right = (decided(dataclasses.replace(case, as_of=day, mode=reading)) for day, reading in (a, b))
    except (CaseError, ReformError) as error:
        st.error(f"Bad input: {ui.md(error)}", icon="🚫")
    except AidkbError as error:
        st.error(f"The engine did not answer: {ui.md(error)}", icon="⏱️")
    else:
        names = (f"A: {a[0].isoformat()}, {a[1].replace('_', ' ')}", f"B: {b[0].isoformat()}, {b[1].replace('_', ' ')}")
        table = comparison(left, right, names)
        differ = table.loc[table["differs"] == "yes", ""].tolist()
        if differ:
            st.warning("**What differs:** " + ", ".join(differ), icon="↔️")
        else:
            st.success("The two answers are the same in every respect compared below.")
        st.dataframe(
            table.style.apply(lambda r: ["background-color: #fff3bf" if r["differs"] else ""] * len(r), axis=1),
            hide_index=True,
            width="stretch",
        )
