"""Home: what the explorer is, and a link to each page."""

from __future__ import annotations

import streamlit as st

from aidkb.app import ui

ui.page_setup("aidkb")
st.title("The AI Diffusion rule, explained")
st.markdown(
    "A knowledge base of the BIS *Framework for Artificial Intelligence Diffusion* (90 FR 4544) as cited "
    "rules: every answer comes with its reasons, its provisions and a checkable proof."
)
st.page_link("pages/1_Ask.py", label="Ask: is a licence required for this transaction, and why (not)?", icon="❓")
st.page_link("pages/4_Compare.py", label="Compare: the same question on two dates, or in both readings", icon="⚖️")
st.page_link(
    "pages/2_What_if.py",
    label="What-if: move countries between tiers, change limits or rules, and see what flips",
    icon="🗺️",
)
st.page_link("pages/3_Rules.py", label="Rules: browse the rules by provision, with the cases that use them", icon="📜")
