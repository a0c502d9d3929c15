"""The aidkb explorer (Streamlit): ask a question, try a reform, browse the rules.

Start it with `streamlit run app/streamlit_app.py`. Every page shows the rule's legal status on the date chosen
in the sidebar; all answers come from queries/* (the UI holds no legal logic)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import ui

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="aidkb: AI Diffusion rule explorer", page_icon="⚖️", layout="wide")
navigation = st.navigation([st.Page(PAGES / "ask.py", title="Ask", icon="❓", default=True),
                            st.Page(PAGES / "what_if.py", title="What-if", icon="🗺️"),
                            st.Page(PAGES / "rules.py", title="Rules", icon="📜")])
as_of, mode = ui.sidebar()
ui.banner(as_of, mode)
navigation.run()
