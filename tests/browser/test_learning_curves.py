"""The Learning curves page in a real browser: a small Mori & Ueda view trains and draws, the theory
view overlays prediction and measurement on log axes, a control reruns it and is mirrored in the
URL, and the link to the Eigenstructure page opens that page on the same kernel."""

import re

SMALL = ("/learning_curves?view=locality&d=10&k=2&max_depth=2&lr_width=16&lr_n_min=64"
         "&lr_n_max=256&lr_seeds=1&lr_steps=250")
THEORY = "/learning_curves?view=theory&th_arch=mlp&th_d=8&th_n_max=256&th_seeds=2"


def test_small_locality_view_draws_both_charts(app):
    app.open(SMALL, charts=True)
    app.assert_no_exception()
    titles = app.plot_titles()
    assert len(titles) == 2 and "Depth against locality" in titles[0], titles
    assert app.axis_types(1)["xaxis"] == "log"
    assert app.query()["d"] == "10"


def test_theory_view_and_its_noise_control(app):
    app.open(THEORY, charts=True)
    app.assert_no_exception()
    assert app.axis_types(0)["xaxis"] == "log" and app.axis_types(0)["yaxis"] == "log"
    before = app.plot_signatures()
    field = app.sidebar.get_by_role("spinbutton", name=re.compile("Label noise"))
    field.fill("0.5")
    field.press("Enter")
    app.wait_for_query(noise="0.5")
    app.wait_for_plots_to_change(before)
    app.assert_no_exception()


def test_link_opens_the_eigenstructure_page_on_the_same_kernel(app):
    app.open(THEORY, charts=True)
    href = app.page.get_by_role("link", name="Eigenstructure page").get_attribute("href")
    assert href.startswith("/eigenstructure?"), href
    app.open(href, charts=True)
    app.assert_no_exception()
    query = app.query()
    assert query["arch"] == "mlp" and query["d"] == "8" and query["depth"] == "2", query
    assert app.alerts.count() == 0  # every parameter of the link was understood
