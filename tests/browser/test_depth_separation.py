"""The Depth separation page in a real browser: a small sweep from the URL trains and draws its
three charts, the metric control reruns it and is mirrored in the URL, and the width view draws."""

import re

SMALL = ("/depth_separation?d_min=4&d_max=8&n_train=256&steps=100&seeds=1&features=64"
         "&width=16")
SMALL_WIDTH = ("/depth_separation?view=width&w_d=4&w_min=4&w_max=16&n_train=256&steps=100"
               "&seeds=1")


def test_small_sweep_trains_and_draws(app):
    app.open(SMALL, charts=True)
    app.assert_no_exception()
    titles = app.plot_titles()
    assert len(titles) == 3, titles
    assert "ball indicator" in titles[0] and "against ‖x‖" in titles[1]
    assert app.axis_types(0)["yaxis"] == "log"
    assert app.query()["d_max"] == "8"


def test_metric_control_reruns_and_updates_url(app):
    app.open(SMALL, charts=True)
    before = app.plot_signatures()
    group = app.sidebar.get_by_role("radiogroup", name="Error", exact=True)
    group.get_by_test_id("stRadioOption").filter(
        has_text=re.compile("classification error")).click()
    app.wait_for_query(metric="error")
    app.wait_for_plots_to_change(before)
    app.assert_no_exception()


def test_width_view_draws(app):
    app.open(SMALL_WIDTH, charts=True)
    app.assert_no_exception()
    assert "width" in app.plot_titles()[0]
    assert app.query()["view"] == "width"
