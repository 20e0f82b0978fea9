"""The Learning curves page in a real browser: a small Mori & Ueda view trains and draws, the theory
view overlays prediction and measurement on log axes, a control reruns it and is mirrored in the
URL, the link to the Eigenstructure page opens that page on the same kernel, and the live view
plays, pauses, steps and resets to the same frames."""

import json
import re
import time

from pathlib import Path

from tests.browser.conftest import COMPUTE_TIMEOUT_MS, RESULTS

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


LIVE = "/learning_curves?view=live"
STEP_TEXT = re.compile(r"step ([\d,]+)")


def _step(app) -> int:
    text = app.page.get_by_text(STEP_TEXT).first.inner_text()
    return int(STEP_TEXT.search(text).group(1).replace(",", ""))


def _wait_step(app, predicate, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            step = _step(app)
            if predicate(step):
                return step
        except Exception:  # the fragment is being redrawn
            pass
        time.sleep(0.05)
    raise AssertionError(f"the step did not reach the expected value within {timeout_s} s")


def _curves_csv(app) -> str:
    """The paused run's curves, through the page's CSV download."""
    with app.page.expect_download() as download:
        app.page.get_by_role("button", name=re.compile(r"Curves \(CSV\)")).click()
    return Path(download.value.path()).read_text()


def _picture(chart) -> bytes:
    """A chart's pixels; retried, since a chart being redrawn may be replaced mid-shot."""
    for _ in range(10):
        try:
            return chart.screenshot(timeout=5_000)
        except Exception:
            time.sleep(0.1)
    return chart.screenshot()


def _button(app, name: str):
    return app.page.get_by_role("button", name=re.compile(f"^\\W*{name}$"))


def test_watch_it_learn_plays_pauses_steps_and_resets_to_the_same_frames(app):
    app.open(LIVE)
    app.page.wait_for_selector(".vega-embed", timeout=COMPUTE_TIMEOUT_MS)
    app.wait_idle()
    app.assert_no_exception()
    assert app.page.locator(".vega-embed").count() == 2
    assert _step(app) == 0
    chart = app.page.locator(".vega-embed").first

    _button(app, "Step").click()
    _wait_step(app, lambda step: step == 10)
    app.wait_idle()
    stepped = _curves_csv(app)
    assert len(stepped.strip().splitlines()) >= 3  # a header, steps 0 and 10

    # Play: the step counts up and the chart changes without any click.
    _button(app, "Play").click()
    pressed = time.monotonic()
    _wait_step(app, lambda step: step > 10)
    first_frame_s = time.monotonic() - pressed
    before = _picture(chart)
    seen, began = set(), time.monotonic()
    while time.monotonic() - began < 3.0:
        try:
            seen.add(_step(app))
        except Exception:
            pass
        time.sleep(0.02)
    assert len(seen) >= 3, seen
    assert _picture(chart) != before
    _button(app, "Pause").click()
    app.page.wait_for_selector('button:has-text("Play"):not([disabled])')
    app.wait_idle()
    time.sleep(1.0)
    paused = _step(app)
    time.sleep(1.0)
    assert _step(app) == paused  # paused: nothing moves
    played = _curves_csv(app)
    assert len(played.splitlines()) > len(stepped.splitlines())

    # Reset: step 0 again; one step gives exactly the curves of the first run's first step.
    _button(app, "Reset").click()
    _wait_step(app, lambda step: step == 0)
    app.wait_idle()
    _button(app, "Step").click()
    _wait_step(app, lambda step: step == 10)
    app.wait_idle()
    assert _curves_csv(app) == stepped
    app.assert_no_exception()
    (RESULTS / "watch_it_learn.json").write_text(json.dumps({
        "first frame after play s": round(first_frame_s, 2),
        "distinct steps seen in 3 s of play": len(seen)}))
