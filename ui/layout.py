"""The parts every page shares: the claim, formula and paper beside a chart, and data downloads."""

from __future__ import annotations

import streamlit as st


def explain(*, claim: str, formula: str, paper: str, note: str | None = None) -> None:
    """A bordered box under a chart: the claim in words, the formula (LaTeX) and the paper."""
    with st.container(border=True):
        st.markdown(f"**Claim.** {claim}")
        st.latex(formula)
        if note:
            st.caption(note)
        st.caption(f"Paper: {paper}")


def download(label: str, data: str, *, file_name: str, key: str) -> None:
    """A CSV download of the data behind a chart."""
    st.download_button(label, data, file_name=file_name, mime="text/csv", key=key,
                       icon=":material/download:")
