"""Presets in a real browser: each view's presets are a row of pills named after the papers'
figures or results; one click sets the view's controls (mirrored in the URL) and reruns, no pill
stays selected, and clicking the same preset after moving a control applies it again. The tooltip
lists what each preset shows.

The sphere view of the Eigenstructure page is used: its presets compute in a second or two.
"""

from engine.experiments import eigenstructure as eig

PATH = "/eigenstructure?view=sphere"
BIAS = next(name for name in eig.SPHERE_PRESETS if "bias" in name)


def _pills(app):
    """The row of preset pills above the charts (a radio group to assistive technology)."""
    return app.page.get_by_test_id("stMain").get_by_role("radiogroup", name="Presets", exact=True)


def _pill(app, name: str):
    return _pills(app).get_by_role("radio", name=name, exact=True)


def _slider(app, label: str):
    return app.sidebar.get_by_role("group", name=label, exact=True).get_by_role("slider")


def test_every_sphere_preset_is_a_pill(app):
    app.open(PATH, charts=True)
    for name in eig.SPHERE_PRESETS:
        assert _pill(app, name).count() == 1, name
    app.assert_no_exception()


def test_one_click_applies_a_preset_and_a_second_click_applies_it_again(app):
    app.open(PATH, charts=True)
    before = app.plot_signatures()
    _pill(app, BIAS).click()
    app.wait_for_query(sphere_d="4", k_max="100")
    app.wait_for_plots_to_change(before)
    app.wait_idle()
    assert float(app.query()["sphere_b_std"]) == 0.5
    assert _slider(app, "Input dimension d (sphere in R^d)").input_value() == "4"
    # Not sticky: no pill is shown as selected after the rerun.
    assert _pills(app).locator("[aria-checked=true]").count() == 0

    # Wait for the d = 5 charts themselves, not only the idle indicator: Plotly draws after
    # the script ends, and a signature taken before that is the d = 4 charts again.
    before = app.plot_signatures()
    slider = _slider(app, "Input dimension d (sphere in R^d)")
    slider.focus()
    slider.press("ArrowRight")
    app.wait_for_query(sphere_d="5")
    app.wait_for_plots_to_change(before)
    app.wait_idle()

    before = app.plot_signatures()
    _pill(app, BIAS).click()
    app.wait_for_query(sphere_d="4")
    app.wait_for_plots_to_change(before)
    app.wait_idle()
    assert _slider(app, "Input dimension d (sphere in R^d)").input_value() == "4"
    app.assert_no_exception()
    assert not app.page_errors, app.page_errors


def test_the_tooltip_names_what_each_preset_shows(app):
    app.open(PATH, charts=True)
    widget = app.page.get_by_test_id("stMain").get_by_test_id("stWidgetLabel").filter(
        has_text="Presets").first
    widget.get_by_test_id("stTooltipIcon").hover()
    tooltip = app.page.get_by_test_id("stTooltipContent")
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert "Bietti & Bach 2021" in text and "k^−d" in text, text
