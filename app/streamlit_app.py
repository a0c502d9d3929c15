"""The aidkb explorer (Streamlit): `streamlit run app/streamlit_app.py`. The pages are app/pages/*.py (Home,
Ask, Compare, What-if, Rules), listed here with their titles. Every page shows the rule's legal status on the
date and reading chosen (app/ui.py page_setup); all answers come from queries/* (the UI holds no legal logic)."""

from __future__ import annotations

import streamlit as st

PAGES = [
    st.Page("pages/0_Home.py", title="Home", icon="🏠", url_path="Home", default=True),
    st.Page("pages/1_Ask.py", title="Ask", icon="❓", url_path="Ask"),
    st.Page("pages/4_Compare.py", title="Compare", icon="⚖️", url_path="Compare"),
    st.Page("pages/2_What_if.py", title="What-if", icon="🗺️", url_path="What_if"),
    st.Page("pages/3_Rules.py", title="Rules", icon="📜", url_path="Rules"),
]

st.navigation(PAGES).run()
