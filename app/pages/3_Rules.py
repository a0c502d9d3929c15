"""Rules: the rule set by provision (one rule file per provision, titled by its header), each rule as written
(multi-line, with its annotations), its citations linked to the eCFR, its English sentence, the words of the
provisions it cites (with their eCFR date or FR citation), its source grade and note, and the bundled cases whose
proofs apply it and those whose proofs show it failing, each opening in Ask."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st

from aidkb import ontology
from aidkb.app import ui
from aidkb.kb.errors import AidkbError
from aidkb.kb.program import baseline_program
from aidkb.queries import service

GRADES = {"R": "rule text seen", "S": "secondary source", "U": "unverified"}
SHOWN_CASES = 12  # case links shown per list; the rest are counted


@cache
def section_title(file: str) -> str:
    """A rule file's title: the first line of its header comment (the provision it writes out)."""
    for line in (ui.ROOT / file).read_text(encoding="utf-8").splitlines():
        if line.startswith("%") and line.strip("% "):
            return line.strip("% ").rstrip(".")
    return file


def case_links(label: str, paths: list[str]) -> None:
    """Bundled cases as links that open each one in Ask."""
    st.markdown(f"**{label} {len(paths)} case(s)**" + ("" if paths else ": none"))
    for path in paths[:SHOWN_CASES]:
        st.page_link(
            "pages/1_Ask.py", label=ui.md(ui.case_title(Path(path))), icon="❓", query_params={"case": Path(path).stem}
        )
    if len(paths) > SHOWN_CASES:
        st.caption(f"… and {len(paths) - SHOWN_CASES} more (filter by the rule id to see fewer rules)")


ui.page_setup("Rules · aidkb")
st.title("Rules")
rules = service.rules()
onto = ontology.load()
try:
    with st.spinner("Deciding the bundled cases…"):
        usage = ui.rule_usage()
except AidkbError as error:
    st.error(f"The cases that use each rule could not be worked out: {ui.md(error)}", icon="⏱️")
    usage = {}
files = list(dict.fromkeys(r["file"] for r in rules))
st.caption(
    f"{len(rules)} rules in {len(files)} files, rule set version {service.ruleset_version()}. Under each "
    "rule: the bundled cases whose decision proofs apply it, and those whose proofs show it failing."
)
c1, c2 = st.columns([1, 2])
file = c1.selectbox(
    "Provision (rule file)",
    ["all"] + files,
    key="rules_file",
    format_func=lambda f: "all" if f == "all" else f"{section_title(f)} ({Path(f).name})",
)
search = c2.text_input("Filter (id, citation or words)", key="rules_filter").strip().lower()
program = {r.id: r for r in baseline_program().rules}
for name in files if file == "all" else [file]:
    shown = [
        r
        for r in rules
        if r["file"] == name
        and (not search or search in f"{r['id']} {' '.join(r['citations'])} {r['says']} {r['text']}".lower())
    ]
    if not shown:
        continue
    st.subheader(ui.md(section_title(name)))
    st.caption(ui.md(name))
    for rule in shown:
        used = usage.get(rule["id"], {"used": [], "refuted": []})
        md = ui.md  # rule text is shown as written, never as Markdown
        with st.expander(f"{md(rule['id'])} — {md(rule['says'])}", expanded=bool(search)):
            st.markdown(
                f"**Cites:** {', '.join(ui.cite_link(c) for c in rule['citations'])}  \n"
                f"**Says:** {md(rule['says'])}  \n**Grade:** {md(rule['grade'])} "
                f"({GRADES.get(rule['grade'], '?')})" + (f"  \n**Note:** {md(rule['note'])}" if rule["note"] else "")
            )
            st.code(ui.rule_source(program[rule["id"]]), language="prolog")
            for cite in rule["citations"]:  # the law beside the rule: each cited provision's words, with their source
                provision = onto.provisions.get(cite)
                if provision and provision.text:
                    st.caption(md(f"{cite}: {provision.title} ({provision.text_source})"))
                    st.text(provision.text)
            left, right = st.columns(2)
            with left:
                case_links("Used by", used["used"])
            with right:
                case_links("Refuted in", used["refuted"])
