"""Inductive Bias Lab: the dashboard's entry point.

`streamlit run app.py` routes through `st.navigation` to the home page below and the pages in
`app_pages/` that work (listed in `PAGES`). Pages never import JAX: they call cached functions of
`engine.experiments`, and the backend line comes from `engine.backend.backend_summary`.
"""

from __future__ import annotations

import logging

import streamlit as st

import ui
from ui import warming
from ui.lecture import STEPS as LECTURE
from ui.links import REFUSED_SENTENCE, refused
from ui.papers import PAPERS, SUPPORTING, bibtex
from engine.backend import backend_summary
from engine.cache import enable_compilation_cache

# The pages that work, in navigation order. (A comment, not a string: Streamlit's "magic" would
# draw a bare string on the page.)
PAGES = (
    {"page": "Universality", "path": "app_pages/universality.py", "url": "universality",
     "icon": ":material/account_tree:"},
    {"page": "Eigenstructure", "path": "app_pages/eigenstructure.py", "url": "eigenstructure",
     "icon": ":material/equalizer:"},
    {"page": "Depth separation", "path": "app_pages/depth_separation.py", "url": "depth_separation",
     "icon": ":material/radio_button_checked:"},
    {"page": "Learning curves", "path": "app_pages/learning_curves.py", "url": "learning_curves",
     "icon": ":material/trending_down:"},
)

# How often the home page counts the ready views again while the background warm runs. (A
# comment, not a docstring: Streamlit's "magic" would draw a bare string on every page.)
WARM_REFRESH_S = 5

PLANNED_PAGES = (
    {
        "page": "Universality",
        "papers": "Wang & Wu 2023",
        "lets_you": "Vary the input dimension d and compare how many samples a tree CNN, an LCN and "
                    "an FCN need to fit Wang & Wu's separation task (CNN < LCN < FCN, the FCN's "
                    "slope near 2), or a sparse long-range target where plain training does not "
                    "show the theorem, on log-log axes with fitted slopes and parameter counts; "
                    "watch a depth-L CNN's approximation error drop once its receptive field "
                    "covers the input.",
    },
    {
        "page": "Eigenstructure",
        "papers": "Xiao 2022; Bietti & Bach 2021",
        "lets_you": r"See exact kernel spectra: eigenvalue against frequency $|S|$ on the "
                    r"hypercube $\{-1, 1\}^d$, coloured by spatial spread, for MLP and shallow "
                    "or deep CNN kernels; and the decay of spherical-harmonic eigenvalues with "
                    "depth, against the predicted $k^{-d}$ and $k^{-(d+2)}$ lines.",
    },
    {
        "page": "Depth separation",
        "papers": "Safran & Lee 2022",
        "lets_you": "Train small networks on a ball indicator with radial inputs and compare a "
                    "frozen random sigmoid layer plus a trained unit against a one-hidden-layer "
                    "network: training and test error against d and width, and the learned "
                    "function against ||x||.",
    },
    {
        "page": "Learning curves",
        "papers": "Mori & Ueda 2022; eigenlearning theory",
        "lets_you": "Plot test error against the number of samples for depths 1..L on k-local and "
                    "k-global labels, finite networks beside their NTK (depth helps the first and "
                    "hurts the second), with the learning curve predicted from the kernel's "
                    "spectrum overlaid.",
    },
)

def _backend_line(summary: dict) -> str:
    kinds = ", ".join(f"{count} × {kind}" for kind, count in summary["device_kinds"].items())
    precision = "float64 on" if summary["x64"] else "float64 off"
    return (f"**JAX backend:** `{summary['backend']}` ({kinds}) · JAX {summary['jax_version']} · "
            f"{precision}")


def _readiness() -> None:
    """How many of the pages' default views are ready; while `serve.py`'s background warm runs,
    the count follows it every few seconds (a fragment: the rest of the page stays as it is)."""
    following = warming.running()

    @st.fragment(run_every=WARM_REFRESH_S if following else None)
    def count() -> None:
        now = warming.readiness()
        st.markdown(now.sentence)
        if following and not now.warming:
            st.rerun()  # the warm is over: the page once more, without the timer

    count()


def home() -> None:
    """The landing page: what the lab is, a lecture path through the pages, the papers, the pages
    to come, and where it runs."""
    if st.query_params:  # it has no controls: a link to it keeps no parameters (as the pages do)
        if refused(st.query_params):
            st.warning(REFUSED_SENTENCE, icon="⚠️")
        st.query_params.clear()
    st.title("Inductive Bias Lab")
    st.markdown(
        "Why does a convolutional network learn from a few hundred examples what a fully "
        "connected one cannot learn from thousands? **Inductive Bias Lab** is built to let you "
        "see the answer: it computes the infinite-width kernels (NNGP and NTK) of MLPs, CNNs and locally "
        "connected networks exactly, takes their spectra, trains small finite networks beside "
        "them, and reproduces the central results of five theory papers with every knob in "
        "reach.")

    who = st.columns(3)
    who[0].markdown("**Students** will see what a kernel's eigenvalues are, why the order in which "
                    "they decay decides what a network learns first, and how architecture "
                    "changes that order: each chart shows its formula and claim beside it.")
    who[1].markdown("**Lecturers** will get live figures for a lecture on deep learning theory: "
                    "change the depth, the filter size or the number of samples in front of the "
                    "class and the plot follows.")
    who[2].markdown("**Researchers** will get exact float64 kernels checked against neural-tangents, "
                    "spectra on the hypercube and the sphere, and the data behind every chart "
                    "to download.")

    st.header("A lecture in four steps")
    st.markdown("Each step opens one view with its settings, in a new tab; the sentence after it is "
                "what to say in class.")
    st.markdown("\n".join(f"{i}. **[{step.title}]({step.link})**: {step.say}"
                          for i, step in enumerate(LECTURE, 1)))
    _readiness()

    st.header("The five papers")
    for paper in PAPERS.values():
        st.markdown(
            f"**{paper['title']}**  \n"
            f"{paper['authors']} · {paper['venue']} · "
            f"[arXiv:{paper['arxiv']}](https://arxiv.org/abs/{paper['arxiv']}) · "
            f"page: *{paper['page']}*  \n"
            f"{paper['shows']}")

    st.header("What the pages let you do")
    for planned in PLANNED_PAGES:
        st.markdown(f"**{planned['page']}** ({planned['papers']}): {planned['lets_you']}")

    st.header("Status")
    st.markdown("Only pages that work are listed in the navigation; the others are coming.")
    available = {page["page"] for page in PAGES}
    st.table([{"Page": "Home", "Papers": "all five", "Status": "available"}]
             + [{"Page": planned["page"], "Papers": planned["papers"],
                 "Status": "available" if planned["page"] in available else "coming"}
                for planned in PLANNED_PAGES],
             hide_index=True)
    st.markdown(_backend_line(backend_summary()))
    st.caption("Kernels and spectra are computed with JAX in float64. On a machine with an NVIDIA "
               "GPU, the Docker image built with `--build-arg JAX_EXTRA=cuda12` runs the same "
               "code on the GPU.")

    with st.expander("How to cite"):
        st.markdown("If the lab helps your work, cite the paper behind the result you use, and "
                    "neural-tangents, the reference implementation our kernels are checked "
                    "against:")
        entries = [bibtex(paper)
                   for paper in (*PAPERS.values(), SUPPORTING["neural_tangents"])]
        st.code("\n\n".join(entries), language="bibtex")


def _log_engine() -> None:
    """The engine's log in the server's output: a line per view computed (name, key, seconds) and
    per damaged cache entry. Once per process (app.py runs on every rerun)."""
    log = logging.getLogger("engine")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


_log_engine()
enable_compilation_cache()  # JAX keeps compiled programs beside the result cache
st.set_page_config(page_title="Inductive Bias Lab", layout="wide")
navigation = st.navigation(
    [st.Page(home, title="Home", icon=":material/home:", default=True)]
    + [st.Page(page["path"], title=page["page"], icon=page["icon"], url_path=page["url"])
       for page in PAGES])
ui.image_format_control()
ui.page_style()
navigation.run()
