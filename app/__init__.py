"""The faces of the knowledge base: the `aidkb` command (and, later, the Streamlit app). No legal logic here."""
