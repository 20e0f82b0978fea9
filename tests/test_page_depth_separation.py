"""The Depth separation page as a visitor uses it, headless (AppTest): small sweeps through the
URL, both views, the controls that shape the work at their extremes, presets, malformed URLs, and
a view too large for the time budget refused before any training starts."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import assert_ok, charts, open_page, url, values

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "depth_separation.py")
TIMEOUT = 600

SMALL = {"d_min": "4", "d_max": "8", "n_train": "256", "steps": "100", "seeds": "1",
         "features": "64", "width": "16"}
"""Four models at d = 4 and 8, 256 samples, 100 steps, one seed: one compiled program per model."""
SMALL_WIDTH = {"view": "width", "w_d": "4", "w_min": "4", "w_max": "16", "n_train": "256",
               "steps": "100", "seeds": "1"}


def run(**query) -> AppTest:
    return open_page(PAGE, timeout=TIMEOUT, **query)


def test_small_dimension_view():
    at = run(**SMALL)
    error, profile, curves = assert_ok(at, 3)
    assert error["layout"]["yaxis"]["type"] == "log"
    assert error["layout"]["xaxis"]["title"]["text"] == "input dimension d"
    # The default metric is the MSE: each of the 4 models has a test line and a training line.
    assert [list(values(t["x"])) for t in error["data"]] == [[4, 8]] * 8
    names = [t["name"] for t in error["data"]]
    assert sum(n.endswith(", test") for n in names) == sum(n.endswith(", training") for n in names)
    assert sum(n.endswith(", training") for n in names) == 4
    assert curves["layout"]["yaxis"]["type"] == "log"
    # The target step is drawn and the learned functions lie in the sigmoid's range for model A.
    target = next(t for t in profile["data"] if t["name"].startswith("target"))
    assert set(values(target["y"])) == {0.0, 1.0}
    model_a = next(t for t in profile["data"] if t.get("name", "").startswith("A:"))
    assert np.all((values(model_a["y"]) >= 0) & (values(model_a["y"]) <= 1))
    assert url(at)["view"] == "dimension" and url(at)["d_max"] == "8"
    assert len(at.get("download_button")) == 2


def test_metric_and_shown_d_update_the_charts_and_url():
    at = run(**SMALL)
    at.radio(key="sep.metric").set_value("error").run()
    at.select_slider(key="sep.show_d").set_value(4).run()
    error, profile, _ = assert_ok(at, 3)
    assert error["layout"]["yaxis"]["title"]["text"] == "test classification error"
    assert len(error["data"]) == 4  # no training line: training accuracy is not recorded
    assert "d = 4" in profile["layout"]["title"]["text"]
    assert url(at)["metric"] == "error" and url(at)["show_d"] == "4"


def test_small_width_view():
    at = run(**SMALL_WIDTH)
    error, _, _ = assert_ok(at, 3)
    assert [list(values(t["x"])) for t in error["data"]] == [[4, 16]] * 8
    assert "width" in error["layout"]["xaxis"]["title"]["text"]
    assert url(at)["view"] == "width" and url(at)["show_w"] == "16"


@pytest.mark.parametrize("extra", [
    {"law": "heavy_tailed", "ratio": "0.05", "opt": "sgd", "lr": "1.0"},
    {"law": "near_edge", "ratio": "0.95", "d_min": "8", "d_max": "8"},
], ids=["heavy-sgd-few-inside", "near-edge-one-d"])
def test_dimension_controls_at_their_extremes(extra):
    at = run(**{**SMALL, **extra})
    assert_ok(at, 3)
    assert not at.warning or all("diverged" in w.value for w in at.warning)


def test_a_view_over_the_time_budget_is_refused_before_training():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"d_min": "2", "d_max": "128", "n_train": "8192", "steps": "4000",
                            "seeds": "8", "features": "4096", "width": "512"})
    at.run()
    assert not at.exception
    assert at.error and "minutes" in at.error[0].value
    assert not charts(at)


@pytest.mark.parametrize("query", [
    {"view": "javascript:alert(1)"}, {"law": "__import__('os').system('ls')"}, {"ratio": "nan"},
    {"ratio": "1.5"}, {"lr": "-inf"}, {"d_max": "3"}, {"seeds": "x" * 10_000},
])
def test_malformed_urls_warn_and_fall_back(query):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for name, value in {**SMALL, **query}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    assert at.warning


def test_presets_set_the_controls():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(SMALL)
    at.run()
    preset = at.pills(key="sep._preset")
    name = next(option for option in preset.options if "heavy-tailed" in option)
    preset.set_value(name).run()
    assert not at.exception
    assert url(at)["law"] == "heavy_tailed"
    assert at.pills(key="sep._preset").value is None  # one click: no pill stays selected
