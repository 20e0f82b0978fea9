"""The Universality page in a real browser: a small sweep from the URL trains and draws its charts,
a control reruns it and is mirrored in the URL, the depth view draws the receptive fields, and an
uncached default view waits for its button instead of training on arrival."""

import re

SMALL = "/universality?view=samples&d_min=4&d_max=8&n_max=256&seeds=1&steps=250"
SMALL_DEPTH = ("/universality?view=depth&depth_d=8&max_channels=4&n_train=256&depth_seeds=1"
               "&depth_steps=250")


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


def test_uncached_default_waits_for_the_button(app):
    app.open("/universality")
    button = app.page.get_by_role("button", name=re.compile(r"about .* min"))
    button.wait_for()  # the script has run this far: it stopped at the button
    app.wait_idle()
    app.assert_no_exception()
    assert button.count() == 1
    assert app.page.locator(".js-plotly-plot").count() == 0
