"""Made for a projector (issue 17): at 1280 x 720, a common projector's screen, the first chart of
every view is in view without scrolling, with its title, axes and legend, and each of its axes has
at least two tick labels, its legend is in view too, and every table shows all its columns. The views are the cheap defaults and small views of the training pages
(their layout does not depend on their size). A screenshot of each is saved as
`test-results/browser/projector-<view>.png` (those in `docs/screenshots/projector-*.png`)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import COMPUTE_TIMEOUT_MS, PLOT_DRAWN, RESULTS

PROJECTOR = {"width": 1280, "height": 720}
VIEWS = {
    "eigenstructure": "/eigenstructure",
    "eigenstructure-sphere": "/eigenstructure?view=sphere",
    "universality": "/universality?view=samples&d_min=4&d_max=8&n_max=256&seeds=1&steps=250",
    "universality-depth": ("/universality?view=depth&depth_d=8&max_channels=4&n_train=256"
                           "&depth_seeds=1&depth_steps=250"),
    "depth_separation": ("/depth_separation?d_min=4&d_max=8&n_train=256&steps=100&seeds=1"
                         "&features=64&width=16"),
    "depth_separation-width": ("/depth_separation?view=width&w_d=4&w_min=4&w_max=16&n_train=256"
                               "&steps=100&seeds=1"),
    "learning_curves": ("/learning_curves?view=locality&d=10&k=2&max_depth=2&lr_width=16"
                        "&lr_n_min=64&lr_n_max=256&lr_seeds=1&lr_steps=250"),
    "learning_curves-theory": "/learning_curves?view=theory",
}
FIRST_CHART = """() => { const gd = document.querySelector('.js-plotly-plot');
    const r = gd.getBoundingClientRect();
    const ticks = (axis) => Array.from(gd.querySelectorAll(`.${axis}tick text`))
        .filter(t => t.textContent.trim()).length;
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
            xticks: ticks('x'), yticks: ticks('y'),
            legend: (gd.querySelector('.legend') || gd).getBoundingClientRect().bottom,
            scrolled: document.querySelector('[data-testid="stMain"]').scrollTop}; }"""
TABLES_CUT = """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
    .map(s => s.scrollWidth - s.clientWidth)"""
"""How many pixels of each table (a data grid) lie beyond its width: its last columns, cut off."""


@pytest.mark.parametrize("name", list(VIEWS))
def test_the_first_chart_is_in_view_at_1280_by_720(app, name):
    app.page.set_viewport_size(PROJECTOR)
    app.page.goto(app.base_url + VIEWS[name])
    start = app.page.get_by_role("button", name=re.compile(r"\(about [\d.]+ min\)"))
    app.page.wait_for_selector(f"{PLOT_DRAWN}, button:has-text(' min)')",
                               timeout=COMPUTE_TIMEOUT_MS)
    if start.count():  # a busy machine estimates a small view above the threshold: start it
        start.click()
        app.page.wait_for_selector(PLOT_DRAWN, timeout=COMPUTE_TIMEOUT_MS)
    app.wait_idle(COMPUTE_TIMEOUT_MS)
    app.page.wait_for_selector(PLOT_DRAWN)
    app.assert_no_exception()
    chart = app.page.evaluate(FIRST_CHART)
    app.page.screenshot(path=str(RESULTS / f"projector-{name}.png"))
    assert chart["scrolled"] == 0
    assert 0 <= chart["top"] and chart["bottom"] <= PROJECTOR["height"], chart
    assert 0 <= chart["left"] and chart["right"] <= PROJECTOR["width"], chart
    assert chart["xticks"] >= 2 and chart["yticks"] >= 2, chart
    assert chart["legend"] <= PROJECTOR["height"], chart
    # Every table of the view shows all its columns at this width (none scrolls sideways).
    app.page.wait_for_timeout(500)  # the data grids lay out after the script has run
    assert all(cut <= 1 for cut in app.page.evaluate(TABLES_CUT)), app.page.evaluate(TABLES_CUT)


@pytest.mark.parametrize("size", [{"width": 1920, "height": 1080}, {"width": 390, "height": 844}],
                         ids=["1920x1080", "phone"])
def test_readable_on_a_large_screen_and_a_phone(app, size):
    """At 1920 x 1080 the first chart is in view as at 1280 x 720; on a phone-width window nothing
    is wider than the window (no sideways scrolling), and the chart, legend included, fits its
    width."""
    app.page.set_viewport_size(size)
    for path in (VIEWS["eigenstructure"], VIEWS["learning_curves-theory"]):
        app.page.goto(app.base_url + path)
        app.page.wait_for_selector(PLOT_DRAWN, timeout=COMPUTE_TIMEOUT_MS)
        app.wait_idle(COMPUTE_TIMEOUT_MS)
        app.assert_no_exception()
        chart = app.page.evaluate(FIRST_CHART)
        assert 0 <= chart["left"] and chart["right"] <= size["width"], (path, chart)
        assert chart["xticks"] >= 2 and chart["yticks"] >= 2, (path, chart)
        if size["width"] >= 1280:
            assert chart["bottom"] <= size["height"] and chart["legend"] <= size["height"]
        else:
            assert app.page.evaluate("() => document.documentElement.scrollWidth") <= size["width"]
        name = path.strip("/").split("?")[0] + ("-theory" if "theory" in path else "")
        app.page.screenshot(path=str(RESULTS / f"screen-{size['width']}-{name}.png"))
