"""The parts every page shares: charts that save as PNG or SVG, the claim, formula and paper beside
a chart, and data downloads."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator

import streamlit as st

from figures.style import readable_log_axes

IMAGE_FORMATS = {"png": "PNG", "svg": "SVG"}
IMAGE_FORMAT_KEY = "chart_image_format"
"""Session-state key of the visitor's choice of image format (the sidebar control in app.py)."""


def image_format_control() -> None:
    """The sidebar control, on every page, that picks what each chart's camera button saves."""
    st.sidebar.segmented_control(
        "Charts save as", list(IMAGE_FORMATS), format_func=IMAGE_FORMATS.get, default="png",
        key=IMAGE_FORMAT_KEY,
        help="The camera button at the top right of each chart (shown on hover) saves the chart as "
             "it is drawn: PNG at twice the screen's resolution, for slides; SVG, vector graphics "
             "for papers and print. Each chart's data is a CSV download below it.")


def image_config(name: str) -> dict[str, Any]:
    """Plotly's config for a chart saved as `name.png` or `name.svg`, as the visitor chose."""
    image_format = st.session_state.get(IMAGE_FORMAT_KEY) or "png"
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": image_format, "filename": name,
                                     "scale": 2 if image_format == "png" else 1}}


PREVIOUS = "Previous settings: replaced when the new view is ready"
"""What a chart of the previous settings says while a new view computes (`page_style`)."""
_STALE_CHART = '[data-testid="stElementContainer"][data-stale="true"]:has(.js-plotly-plot)'
PAGE_CSS = f"""
{_STALE_CHART} {{ position: relative; }}
{_STALE_CHART} .js-plotly-plot {{ animation: ibl-fade 0.3s ease-in 0.8s both; }}
{_STALE_CHART}::before {{
  content: "{PREVIOUS}"; position: absolute; z-index: 3; top: 40%; left: 0; right: 0;
  text-align: center; font-size: 1.3rem; font-weight: 600; color: #31333f;
  animation: ibl-show 0.3s ease-in 0.8s both;
}}
[data-testid="stMainBlockContainer"] {{ padding-top: 3.5rem; }}
[data-testid="stMain"] h1 {{ font-size: 2.1rem; padding: 0.25rem 0 0; }}
[data-testid="stMain"] [data-testid="stButtonGroup"] div:has(> button) {{ flex-wrap: nowrap;
  overflow-x: auto; scrollbar-width: thin; padding-bottom: 0.25rem; }}
[data-testid="stMain"] [data-testid="stButtonGroup"] button {{ flex: none; }}
@keyframes ibl-fade {{ from {{ opacity: 1; }} to {{ opacity: 0.15; filter: grayscale(1); }} }}
@keyframes ibl-show {{ from {{ opacity: 0; }} to {{ opacity: 1; }} }}
"""
"""Every page's style. While a script runs, Streamlit marks the elements of its previous run that
it has not reached yet `data-stale`; a chart so marked (the previous settings' chart under the
progress bar of a new view) is faded to grey and labelled `PREVIOUS` after 0.8 s, so that a quick
rerun does not flicker and a long computation never shows an old chart as if it were the new one."""


def page_style() -> None:
    """`PAGE_CSS` on the page (app.py, every page)."""
    st.html(f"<style>{PAGE_CSS}</style>")


_frame: contextvars.ContextVar[str] = contextvars.ContextVar("ui_frame", default="")


@contextlib.contextmanager
def frame(n: int) -> Iterator[None]:
    """Charts drawn inside are frame `n` of a view's partial results (`ui.compute`): their keys
    get a suffix, so that one script run can draw a chart of each frame and the final one."""
    token = _frame.set(f".frame{n}")
    try:
        yield
    finally:
        _frame.reset(token)


def chart(figure: Any, *, key: str) -> None:
    """A Plotly chart whose camera button saves it as PNG or SVG (`image_format_control`), to a
    file named after `key`, its log axes ticked for the back row (`readable_log_axes`)."""
    st.plotly_chart(readable_log_axes(figure), key=key + _frame.get(),
                    config=image_config(f"inductive-bias-lab-{key}"), theme=None)


def header(title: str, intro: str) -> None:
    """A page's title, its introduction a hover away (the ? beside the title), so that the first
    chart fits a projector's 1280 x 720 screen."""
    st.title(title, help=intro)


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
