"""Rules: the rule set by provision (one rule file per provision), each rule with its citations linked to the
eCFR, its English sentence, its text, the words of the provisions it cites (with their eCFR date or FR
citation), its source grade and note, and the bundled cases whose proofs use it."""
from __future__ import annotations

import streamlit as st

import ontology
from app import ui
from kb.errors import AidkbError
from kb.program import baseline_program

GRADES = {"R": "rule text seen", "S": "secondary source", "U": "unverified"}

ui.page_setup("Rules · aidkb")
st.title("Rules")
program = baseline_program()
onto = ontology.load()
try:
    with st.spinner("Deciding the bundled cases…"):
        usage = ui.rule_usage()
except AidkbError as error:
    st.error(f"The cases that use each rule could not be worked out: {ui.md(error)}", icon="⏱️")
    usage = {}
files = list(dict.fromkeys(r.file for r in program.rules))
st.caption(f"{len(program.rules)} rules in {len(files)} files, rule set version {program.version}. "
           f"“Used by” lists the bundled cases whose decision proofs apply or refute the rule.")
c1, c2 = st.columns([1, 2])
file = c1.selectbox("Provision (rule file)", ["all"] + files, key="rules_file")
search = c2.text_input("Filter (id, citation or words)", key="rules_filter").strip().lower()
for name in files if file == "all" else [file]:
    rules = [r for r in program.rules if r.file == name
             and (not search or search in f"{r.id} {' '.join(r.cites)} {r.says} {r.text()}".lower())]
    if not rules:
        continue
    st.subheader(name)
    for rule in rules:
        used = usage.get(rule.id, [])
        md = ui.md  # rule text is shown as written, never as Markdown
        with st.expander(f"{md(rule.id)} — {md(rule.says)}", expanded=bool(search)):
            st.markdown(f"**Cites:** {', '.join(ui.cite_link(c) for c in rule.cites)}  \n"
                        f"**Says:** {md(rule.says)}  \n**Grade:** {md(rule.grade)} "
                        f"({GRADES.get(rule.grade, '?')})" + (f"  \n**Note:** {md(rule.note)}" if rule.note else ""))
            st.code(rule.text(), language="prolog")
            for cite in rule.cites:  # the law beside the rule: each cited provision's words, with their source
                provision = onto.provisions.get(cite)
                if provision and provision.text:
                    st.caption(md(f"{cite}: {provision.title} ({provision.text_source})"))
                    st.text(provision.text)
            st.markdown(f"**Used by {len(used)} case(s):** " + (", ".join(md(c) for c in used) or "none"))
