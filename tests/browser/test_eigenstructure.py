"""The Eigenstructure page in a real browser: its chart draws, its controls rerun it and are mirrored
in the URL, a shared URL restores the view, a bad URL value warns instead of failing, and the sphere
view plots on log axes.

The first test to open the page pays for the cold computation and JAX's compilation (the server's
`IBL_CACHE_DIR` starts empty); later ones mostly hit the cache.
"""

import re

import pytest

PATH = "/eigenstructure"


def _radio(app, label: str):
    """The sidebar radio group labelled `label`."""
    return app.sidebar.get_by_role("radiogroup", name=label, exact=True)


def _option(app, label: str, option: str):
    """The option `option` of the sidebar radio `label` (its clickable label)."""
    text = re.compile(rf"^\s*{re.escape(option)}\s*$")
    return _radio(app, label).get_by_test_id("stRadioOption").filter(has_text=text)


def _radio_choice(app, label: str) -> str:
    """The shown label of the checked option of the sidebar radio `label`."""
    checked = _radio(app, label).get_by_test_id("stRadioOption").filter(
        has=app.page.locator("input:checked"))
    return checked.inner_text().strip()


def _slider(app, label: str):
    """The thumb of the sidebar slider `label` (an `<input type=range>` in a group of that name)."""
    return app.sidebar.get_by_role("group", name=label, exact=True).get_by_role("slider")


def _selectbox(app, label: str):
    """The text field of the sidebar selectbox `label`; its value is the shown option."""
    return app.sidebar.get_by_role("combobox", name=label, exact=True)


def test_default_view_draws_a_chart(app):
    app.open(PATH, charts=True)
    app.assert_no_exception()
    assert app.alerts.count() == 0
    # Every control is mirrored in the URL once the page has run.
    query = app.query()
    assert {"view", "arch", "d", "kernel"} <= set(query), query
    assert not app.page_errors, app.page_errors


def test_kernel_radio_reruns_and_updates_url(app):
    app.open(f"{PATH}?view=hypercube&kernel=ntk", charts=True)
    assert _radio_choice(app, "Kernel") == "NTK"
    assert "NTK" in app.plot_titles()[0]
    before = app.plot_signatures()
    _option(app, "Kernel", "NNGP").click()
    app.wait_for_query(kernel="nngp")
    app.wait_for_plots_to_change(before)
    app.wait_idle()
    assert _radio_choice(app, "Kernel") == "NNGP"
    assert "NNGP" in app.plot_titles()[0]
    assert app.query()["kernel"] == "nngp"
    app.assert_no_exception()


def test_dimension_slider_keyboard_updates_url(app):
    app.open(f"{PATH}?view=hypercube", charts=True)
    slider = _slider(app, "Input dimension d")
    d = int(slider.input_value())
    assert app.query()["d"] == str(d)
    key, expected = (("ArrowLeft", d - 1) if d == int(slider.get_attribute("max"))
                     else ("ArrowRight", d + 1))
    before = app.plot_signatures()
    # The thumb sits under an overlay that takes clicks: focus it and use the keyboard.
    slider.focus()
    slider.press(key)
    app.wait_for_query(d=str(expected))
    app.wait_for_plots_to_change(before)
    app.wait_idle()
    assert int(slider.input_value()) == expected
    app.assert_no_exception()


def test_url_restores_the_view(app):
    app.open(f"{PATH}?view=hypercube&arch=mlp&d=10&kernel=nngp", charts=True)
    assert _radio_choice(app, "View") == "Hypercube"
    assert _selectbox(app, "Architecture").input_value() == "MLP"
    assert _slider(app, "Input dimension d").input_value() == "10"
    assert _radio_choice(app, "Kernel") == "NNGP"
    query = app.query()
    assert (query["view"], query["arch"], query["d"], query["kernel"]) == (
        "hypercube", "mlp", "10", "nngp"), query
    assert app.alerts.count() == 0
    app.assert_no_exception()


@pytest.mark.parametrize("param", ["d=banana", "kernel=laplace", "arch=transformer"])
def test_bad_url_value_warns_and_still_draws(app, param):
    app.open(f"{PATH}?view=hypercube&{param}", charts=True)
    alert = app.alerts.filter(has_text=param)
    alert.first.wait_for()
    name = param.split("=")[0]
    assert app.query()[name] != param.split("=")[1]
    app.assert_no_exception()


def test_sphere_view_has_log_axes(app):
    app.open(f"{PATH}?view=sphere", charts=True)
    assert _radio_choice(app, "View") == "Sphere"
    axes = app.axis_types(0)  # NTK and NNGP side by side: xaxis, yaxis, xaxis2, yaxis2
    assert {"xaxis", "yaxis"} <= set(axes) and set(axes.values()) == {"log"}, axes
    app.assert_no_exception()
