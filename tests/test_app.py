"""The dashboard's landing page runs headless (Streamlit's AppTest) and says what it should."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.backend import backend_summary

APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture(scope="module")
def app() -> AppTest:
    # AppTest resolves a relative path against this file, so pass the absolute one; 60 s leaves
    # room for JAX's first backend initialisation on a slow machine.
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def test_runs_without_exception(app):
    assert not app.exception, [e.value for e in app.exception]


def test_the_home_page_drops_parameters_from_its_link():
    """The home page has no controls: a link with parameters (a hostile one, or one meant for a
    page) is shown as the plain home page, and the link keeps none of them."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update({"d": "9", "view": "<script>", "unknown": "__import__('os')"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [title.value for title in at.title] == ["Inductive Bias Lab"]
    assert dict(at.query_params) == {}


def test_the_lecture_path_links_open_each_view_as_declared(app, monkeypatch):
    """The home page's four lecture steps: each a link to its view, and each link, opened, gives
    no warning and keeps every value it gives that the view uses (the page accepted them all).
    The links are the point, not the views (each page's own tests draw its views): every view not
    yet cached waits for its start button here, so the page reads and writes its link without
    training anything."""
    from urllib.parse import parse_qsl, urlsplit

    from apptest_helpers import views_wait_for_their_button
    from ui.lecture import STEPS

    views_wait_for_their_button(monkeypatch)

    text = "\n".join(md.value for md in app.markdown)
    assert len(STEPS) == 4
    for step in STEPS:
        assert f"[{step.title}]({step.link})" in text
        address = urlsplit(step.link)
        params = dict(parse_qsl(address.query))
        page = APP.parent / "app_pages" / f"{address.path.strip('/')}.py"  # url = file name
        at = AppTest.from_file(str(page), default_timeout=300)
        at.query_params.update(params)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.warning, (step.title, [w.value for w in at.warning])
        kept = {k: at.query_params[k] for k in at.query_params}
        assert kept["view"] == step.view
        # What the page writes back holds the link's values (fields the view ignores dropped).
        assert {k: v for k, v in kept.items() if k in params} == {
            k: v for k, v in params.items() if k in kept}, step.title
        assert len(kept.keys() & params.keys()) >= 4, (step.title, kept)


def test_title(app):
    assert [title.value for title in app.title] == ["Inductive Bias Lab"]


def test_backend_line_shows_cpu(app):
    # These machines and CI have no GPU, so JAX's default backend is the CPU.
    lines = [md.value for md in app.markdown if "JAX backend" in md.value]
    assert len(lines) == 1, lines
    assert "`cpu`" in lines[0]


def test_names_the_five_papers(app):
    text = "\n".join(md.value for md in app.markdown)
    for arxiv in ("2305.08404", "2112.05611", "2009.14397", "2112.02393", "2201.12082"):
        assert f"arXiv:{arxiv}" in text


def test_status_lists_the_pages(app):
    (table,) = app.table
    status = dict(zip(table.value["Page"], table.value["Status"]))
    assert status == {"Home": "available", "Universality": "available", "Eigenstructure": "available",
                      "Depth separation": "available", "Learning curves": "available"}


def test_cite_expander_has_bibtex_for_every_paper(app):
    expanders = [e for e in app.get("expander") if e.label == "How to cite"]
    assert len(expanders) == 1
    bibtex = "\n".join(code.value for code in app.code)
    assert bibtex.count("@") == 6  # the five papers and neural-tangents
    assert "novak2020neural" in bibtex


def test_backend_summary_is_plain_data():
    # The page shows it as is and could cache it: plain, JSON-serialisable values only.
    summary = backend_summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["backend"] == "cpu"
    assert summary["device_count"] == sum(summary["device_kinds"].values()) >= 1
    assert summary["x64"] is True


def test_pages_live_outside_a_pages_folder():
    # A folder named `pages/` beside app.py is Streamlit's older multipage layout: until
    # `st.navigation` has run once, a fresh server serves a page URL straight from that folder,
    # without app.py (a file-name sidebar, no page config), or shows "Page not found" when the URL
    # differs from the file name. Seen in Chromium on the first visit after a server start.
    import ast

    assert not (APP.parent / "pages").exists()
    tree = ast.parse(APP.read_text())
    (pages,) = [ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["PAGES"]]
    assert len(pages) == 4
    for page in pages:
        assert (APP.parent / page["path"]).is_file(), page
