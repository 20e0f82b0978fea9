"""The Universality page as a visitor uses it, headless (AppTest): small sweeps through the URL,
the extremes of the controls that shape the work, malformed URLs, and the refusal of a sweep too
large for the time budget before any training starts."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import assert_ok, charts, open_page, url, views_wait_for_their_button
from engine.experiments import universality as uni

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "universality.py")
TIMEOUT = 600

SMALL = {"d_min": "4", "d_max": "8", "n_max": "256", "seeds": "1", "steps": "250"}
"""A sweep of a few seconds: d = 4, 8; n = 16..256; one seed; 250 steps."""
SMALL_DEPTH = {"view": "depth", "depth_d": "8", "max_channels": "4", "n_train": "256",
               "depth_seeds": "1", "depth_steps": "250"}


def run(**query) -> AppTest:
    """Open the page with `query`; a view long enough to need confirming is started with its
    button, as a visitor would."""
    return open_page(PAGE, timeout=TIMEOUT, **query)


def test_small_sample_complexity_sweep():
    at = run(**SMALL)
    needed, curves = assert_ok(at, 2, traces=False)
    assert needed["layout"]["yaxis"]["type"] == "log"
    assert curves["layout"]["xaxis"]["type"] == "log"
    names = " ".join(trace["name"] for trace in needed["data"])
    assert "CNN" in names and "LCN" in names and "FCN" in names
    assert url(at)["d_max"] == "8" and url(at)["view"] == "samples"
    assert len(at.get("download_button")) == 1
    (table,) = at.dataframe  # trained parameters beside the chart: one row per d
    assert table.value.columns.tolist() == ["d", "CNN", "LCN", "FCN"]
    assert table.value["d"].tolist() == [4, 8]
    assert any("Median samples needed ordered" in m.value for m in at.markdown)


def test_changing_the_curve_dimension_updates_the_url():
    at = run(**SMALL)
    at.select_slider(key="uni.curve_d").set_value(4).run()
    assert_ok(at, 2, traces=False)
    assert url(at)["curve_d"] == "4"


@pytest.mark.parametrize("extra", [
    {"target": "quadratic", "opt": "sgd", "lr": "0.05"},
    {"threshold": "0.95", "channels": "1", "width": "16"},
    {"threshold": "0.05", "channels": "64", "width": "512"},
], ids=["quadratic-sgd", "loose", "tight"])
def test_sample_controls_at_their_extremes(extra):
    at = run(**{**SMALL, "d_max": "4", **extra})  # one d: the controls' extremes are the point
    assert_ok(at, 2, traces=False)
    assert not at.warning, [w.value for w in at.warning]


def test_a_diverging_learning_rate_is_reported_not_drawn():
    at = run(**SMALL, opt="sgd", lr="100")
    assert not at.exception
    assert any("diverged" in w.value for w in at.warning)


def test_a_long_view_waits_for_the_button():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({**SMALL, "seeds": "8", "steps": "4000"})
    at.run()
    assert not at.exception
    assert not charts(at)
    (button,) = [b for b in at.button if b.key == "run.universality.sample_complexity"]
    assert "min" in button.label
    assert any("not cached yet" in i.value for i in at.info)


def test_a_sweep_over_the_time_budget_is_refused_before_training():
    at = run(d_min="64", d_max="64", n_max="8192", seeds="8", steps="4000", width="512",
             channels="64")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "minutes" in errors[0], errors
    assert not charts(at)


@pytest.mark.parametrize("query,bad", [
    ({"d_min": "5"}, "d_min"),
    ({"n_max": "huge", "d_max": "4"}, "n_max"),  # falls back to the default n_max: one d is enough
    ({"threshold": "nan"}, "threshold"),
    ({"lr": "-1"}, "lr"),
    ({"target": "os.system"}, "target"),
    ({"view": "both"}, "view"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_malformed_url_warns_and_falls_back(query, bad, monkeypatch):
    """The link is the point: the view it falls back to is not trained here. It is drawn when
    cached, or waits for its button, either way past the engine's guard."""
    views_wait_for_their_button(monkeypatch)
    at = open_page(PAGE, timeout=TIMEOUT, confirm=False, **{**SMALL, **query})
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert any(f"`{bad}=" in w for w in warnings), warnings
    waiting = [b for b in at.button if b.key and b.key.startswith("run.")]
    assert waiting or charts(at), "neither a start button nor the charts"
    assert not at.error, [e.value for e in at.error]


def test_depth_view():
    at = run(**SMALL_DEPTH)
    depth, fields = assert_ok(at, 2, traces=False)
    assert depth["layout"]["yaxis"]["type"] == "log"
    assert len(fields["data"]) == 4  # input row and three layers for d = 8, s = 2
    at.slider(key="uni.diagram").set_value(1).run()
    assert_ok(at, 2, traces=False)
    assert url(at)["diagram"] == "1"


def test_depth_view_with_filter_three():
    at = run(**{**SMALL_DEPTH, "s": "3", "depth_d": "9"})
    assert_ok(at, 2, traces=False)
    assert url(at)["s"] == "3" and url(at)["depth_d"] == "9"


def test_sample_presets_set_the_controls_and_wait_for_the_button():
    at = run(**SMALL)
    pills = at.pills(key="uni._preset")
    assert pills.options == list(uni.SAMPLE_PRESETS)
    name = next(option for option in pills.options if "quadratic" in option)
    pills.set_value(name).run()
    assert not at.exception
    assert url(at)["target"] == "quadratic" and url(at)["d_max"] == "64"
    assert url(at)["channels"] == "8" and url(at)["lr"] == "0.01"
    assert at.pills(key="uni._preset").value is None  # one click: no pill stays selected
    assert [b for b in at.button if b.key == "run.universality.sample_complexity"]


def test_depth_view_presets_set_every_control():
    at = run(**SMALL_DEPTH)
    pills = at.pills(key="uni._preset")
    assert pills.options == list(uni.DEPTH_PRESETS)
    name = next(option for option in pills.options if "filter 4" in option)
    pills.set_value(name).run()
    assert_ok(at, 2, traces=False)
    query = url(at)
    assert (query["s"], query["depth_d"], query["max_channels"], query["depth_steps"]) == (
        "4", "16", "16", "1000")
    assert query["depth_target"] == "sparse_product" and query["n_train"] == "1024"
    # The default depth view (1500 steps) is offered by the steps control, so its link parses.
    at = run(**{**SMALL_DEPTH, "depth_steps": str(uni.DEFAULT_DEPTH.steps)}, confirm=False)
    assert not at.warning and url(at)["depth_steps"] == str(uni.DEFAULT_DEPTH.steps)
