"""The Universality page in a real browser: a small sweep from the URL trains and draws its charts,
a control reruns it and is mirrored in the URL, the depth view draws the receptive fields, a view
that trains for a while draws its chart from its first results, and an uncached default view waits
for its button instead of training on arrival."""

import re

SMALL = "/universality?view=samples&d_min=4&d_max=8&n_max=256&seeds=1&steps=250"
SMALL_DEPTH = ("/universality?view=depth&depth_d=8&max_channels=4&n_train=256&depth_seeds=1"
               "&depth_steps=250")
STREAMED = ("/universality?view=depth&depth_d=16&max_channels=4&n_train=128&depth_seeds=2"
            "&depth_steps=250")
"""8 sweeps (4 depths, 2 channel counts), uncached: no other test asks for this view."""
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'


def test_small_sweep_trains_and_draws(app):
    app.open(SMALL, charts=True)
    app.assert_no_exception()
    assert len(app.plot_titles()) == 2
    assert "Samples needed" in app.plot_titles()[0]
    assert app.axis_types(0)["yaxis"] == "log"
    assert app.query()["d_max"] == "8"


def test_threshold_control_reruns_and_updates_url(app):
    app.open(SMALL, charts=True)
    before = app.plot_signatures()
    field = app.sidebar.get_by_role("spinbutton", name=re.compile("Target test error"))
    field.fill("0.3")
    field.press("Enter")
    app.wait_for_query(threshold="0.3")
    app.wait_for_plots_to_change(before)
    app.assert_no_exception()


def test_depth_view_draws_receptive_fields(app):
    app.open(SMALL_DEPTH, charts=True)
    app.assert_no_exception()
    titles = app.plot_titles()
    assert any("Receptive fields" in t for t in titles), titles
    assert app.query()["view"] == "depth"


def test_first_results_are_drawn_while_the_view_trains(app):
    app.page.goto(app.base_url + STREAMED)
    # A chart with data while the script is still running: the first sweeps' results.
    app.page.wait_for_selector(f"{RUNNING} .js-plotly-plot .main-svg .trace", timeout=60_000)
    assert app.page.get_by_text("First results, drawn as they come").count() == 1
    first = app.plot_signatures()
    app.wait_idle(120_000)
    app.page.wait_for_selector(".js-plotly-plot .main-svg .trace")
    app.assert_no_exception()
    assert app.page.get_by_text("First results, drawn as they come").count() == 0
    titles = app.plot_titles()
    assert len(titles) == 2 and any("Receptive fields" in t for t in titles), titles
    assert app.plot_signatures()[0] != first[0]  # filled in since


def test_uncached_default_waits_for_the_button(app):
    app.open("/universality")
    button = app.page.get_by_role("button", name=re.compile(r"about .* min"))
    button.wait_for()  # the script has run this far: it stopped at the button
    app.wait_idle()
    app.assert_no_exception()
    assert button.count() == 1
    assert app.page.locator(".js-plotly-plot").count() == 0


STALE_PREVIOUS = """() => Array.from(document.querySelectorAll(
    '[data-testid="stElementContainer"][data-stale="true"]')).filter(e =>
    e.querySelector('.js-plotly-plot') &&
    getComputedStyle(e, '::before').content.includes('Previous settings') &&
    Number(getComputedStyle(e, '::before').opacity) > 0.9).length"""


def test_charts_of_the_previous_settings_are_marked_while_a_new_view_trains(app):
    """Issue 17: while a new view computes, the charts of the previous settings (Streamlit keeps
    them, `data-stale`, until the script reaches them) are greyed and labelled as such."""
    app.open(SMALL_DEPTH, charts=True)
    seeds = app.sidebar.get_by_role("group", name="Seeds", exact=True).get_by_role("slider")
    seeds.focus()
    seeds.press("ArrowRight")  # 1 -> 2 seeds: a view not computed yet
    app.page.wait_for_selector(RUNNING, state="attached")
    app.page.wait_for_function(f"({STALE_PREVIOUS})() > 0", timeout=60_000)
    app.wait_idle(120_000)
    app.page.wait_for_selector(".js-plotly-plot .main-svg .trace")
    assert app.page.evaluate(f"({STALE_PREVIOUS})()") == 0  # the new charts are not marked
    assert app.query()["depth_seeds"] == "2"
    app.assert_no_exception()
