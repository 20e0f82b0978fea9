"""The Learning curves page as a visitor uses it, headless (AppTest): both views from small URLs,
the extremes of their controls, presets, malformed URLs, and settings the engine refuses."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import assert_ok, open_page, url, values, vega_data

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "learning_curves.py")
TIMEOUT = 600

SMALL = {"d": "10", "k": "2", "max_depth": "2", "lr_width": "16", "lr_n_min": "64",
         "lr_n_max": "256", "lr_seeds": "1", "lr_steps": "250"}
"""Depth 1 and 2 MLPs of width 16 on d = 10, n = 64..256, one seed, 250 steps: a few seconds."""
SMALL_THEORY = {"view": "theory", "th_arch": "mlp", "th_d": "6", "th_n_max": "256",
                "th_seeds": "2"}


def run(**query) -> AppTest:
    return open_page(PAGE, timeout=TIMEOUT, **query)


def test_small_locality_view():
    at = run(**SMALL)
    depth, curves = assert_ok(at, 2)
    assert depth["layout"]["yaxis"]["type"] == "log"
    assert curves["layout"]["xaxis"]["type"] == "log"
    # 2 labels x (network, kernel) in the depth chart; 2 labels x 2 learners x 2 depths in the grid
    assert len(depth["data"]) == 4 and len(curves["data"]) == 8
    assert url(at)["view"] == "locality" and url(at)["d"] == "10"
    assert len(at.get("download_button")) == 1


def test_depth_chart_at_a_chosen_n():
    """The depth chart is drawn at the n chosen under "Depth chart at n" (the largest by default):
    its title says which, its points are the view's errors at that n, and the URL keeps it."""
    at = run(**SMALL)
    depth, _ = assert_ok(at, 2)
    assert "n = 256" in depth["layout"]["title"]["text"]
    at.select_slider(key="lc.lr_at_n").set_value(64).run()
    depth, _ = assert_ok(at, 2)
    assert "n = 64" in depth["layout"]["title"]["text"]
    assert url(at)["lr_at_n"] == "64"


def test_the_k_global_preset_shows_its_depth_chart_at_its_n():
    from engine.experiments import depth_locality as loc

    at = run(**SMALL)
    preset = at.pills(key="lc._preset")
    assert preset.options == list(loc.PRESETS)
    preset.set_value(loc.GLOBAL_PRESET_NAME).run()
    assert not at.exception
    assert url(at)["k"] == "2" and url(at)["max_depth"] == "4" and url(at)["d"] == "24"
    assert url(at)["lr_at_n"] == str(loc.PRESETS.record(loc.GLOBAL_PRESET_NAME).controls["at_n"])


@pytest.mark.parametrize("extra", [
    {"inputs": "gaussian", "lr_kernel": "nngp", "lr_ridge": "0.1", "lr_opt": "adam"},
    {"d": "10", "k": "10", "max_depth": "1"},
    {"k": "1", "lr_lr": "0.0001"},
], ids=["gaussian-nngp-ridge", "k-equals-d", "k-1"])
def test_locality_controls_at_their_extremes(extra):
    at = run(**{**SMALL, **extra})
    assert_ok(at, 2)
    assert not at.warning, [w.value for w in at.warning]


def test_k_that_does_not_divide_d_falls_back_with_a_warning():
    at = run(**{**SMALL, "k": "4"})
    assert_ok(at, 2)
    assert any("k=4" in w.value for w in at.warning)


def test_small_theory_view():
    at = run(**SMALL_THEORY)
    theory, learn = assert_ok(at, 2)
    assert theory["layout"]["xaxis"]["type"] == "log"
    assert theory["layout"]["yaxis"]["type"] == "log"
    names = [trace["name"] for trace in theory["data"]]
    assert "theory: test MSE" in names and "kernel regression: test MSE" in names
    predicted = values(theory["data"][0]["y"])
    assert np.all(np.isfinite(predicted)) and np.all(predicted >= 0)
    # 2^6 = 64 modes: from n = 64 on every mode is learned and the predicted error is 0, which the
    # log axis cannot show; the page says so.
    assert predicted[0] > 0 and predicted[-1] == 0
    assert any("not drawn" in caption.value for caption in at.caption)
    assert all(np.all((values(t["y"]) >= 0) & (values(t["y"]) <= 1)) for t in learn["data"])
    assert len(at.dataframe) == 1
    assert url(at)["view"] == "theory" and url(at)["modes"]
    assert any("/eigenstructure?" in md.value for md in at.markdown)


@pytest.mark.parametrize("extra", [
    {"target": "k_local", "th_k": "2"},
    {"target": "k_global", "th_k": "3", "noise": "0.5", "ridge": "0.1"},
    {"th_arch": "tree_cnn", "th_d": "8", "th_filter": "2", "th_kernel": "nngp"},
    {"th_arch": "shallow_cnn", "th_filter": "3", "th_act": "erf"},
], ids=["k-local", "k-global-noise-ridge", "tree-cnn-nngp", "shallow-cnn-erf"])
def test_theory_controls(extra):
    at = run(**{**SMALL_THEORY, **extra})
    assert_ok(at, 2)
    assert not at.warning, [w.value for w in at.warning]


def test_theory_modes_from_the_url_are_used():
    at = run(**SMALL_THEORY, modes="1-0,3-2")
    assert_ok(at, 2)
    assert url(at)["modes"] == "1-0,3-2"
    table = at.dataframe[0].value
    assert list(table["frequency |S|"]) == [1, 3]


@pytest.mark.parametrize("modes", ["9-9", "1-0,1-0", "", "1-0;import os", "x" * 10_000])
def test_malformed_modes_fall_back_with_a_warning(modes):
    at = run(**SMALL_THEORY, modes=modes)
    assert_ok(at, 2)
    if modes:
        assert any("modes=" in w.value for w in at.warning)


@pytest.mark.parametrize("query", [
    {"view": "<script>alert(1)</script>"}, {"d": "nan"}, {"lr_lr": "inf"}, {"lr_steps": "1e9"},
    {"max_depth": "__import__('os')"},
])
def test_malformed_urls_warn_and_fall_back(query):
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for name, value in {**SMALL, **query}.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception
    assert at.warning


def test_switching_views_keeps_each_views_controls():
    at = run(**SMALL)
    at.radio(key="lc.view").set_value("theory").run()
    at.slider(key="lc.th_d").set_value(6).run()
    at.select_slider(key="lc.th_n_max").set_value(256).run()
    assert_ok(at, 2)
    at.radio(key="lc.view").set_value("locality").run()
    assert_ok(at, 2)
    assert url(at)["d"] == "10" and url(at)["lr_n_max"] == "256"


def test_presets_set_the_controls():
    at = run(**SMALL_THEORY)
    preset = at.pills(key="lc._preset")
    name = next(option for option in preset.options if "k-global" in option)
    preset.set_value(name).run()
    assert not at.exception
    assert url(at)["target"] == "k_global"
    assert at.pills(key="lc._preset").value is None  # one click: no pill stays selected


SMALL_LIVE = {"view": "live", "lv_d": "6", "lv_width": "32", "lv_n": "32"}


def _step_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**step "))


def _live_charts(at: AppTest) -> tuple:
    """The live view's two charts' data (learned fractions, MSE), after checking the run drew
    them without an exception or an error box."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    modes, loss = vega_data(at)
    return modes, loss


def _network_curve(modes, component: int = 0):
    name = sorted(modes["curve"].unique())[component]
    rows = modes[(modes["curve"] == name) & (modes["source"] == "network")]
    return rows.sort_values("step")["value"].to_numpy()


def test_watch_it_learn_steps_resets_and_keeps_its_setup_in_the_url():
    at = run(**SMALL_LIVE, lv_speed="5", lv_rate="3")
    modes, loss = _live_charts(at)
    # the default target's three modes and the two MSEs, each for the network and the NTK
    assert modes["series"].nunique() == 6 and loss["series"].nunique() == 4
    assert set(modes["source"]) == {"network", "NTK prediction"}
    assert _step_line(at).startswith("**step 0**")
    assert url(at)["lv_rate"] == "3.0" and url(at)["lv_speed"] == "5" and url(at)["lv_d"] == "6"
    first = _network_curve(modes)
    at.button(key="lc_live_step").click().run()
    modes, _ = _live_charts(at)
    assert _step_line(at).startswith("**step 5**")
    stepped = _network_curve(modes)
    assert len(first) == 1 and len(stepped) == 2 and stepped[0] == first[0]
    assert sorted(modes["step"].unique()) == [0, 5]
    at.button(key="lc_live_step").click().run()
    assert _step_line(at).startswith("**step 10**")
    assert len(at.get("download_button")) == 1  # paused: the curves can be downloaded
    at.button(key="lc_live_reset").click().run()
    modes, _ = _live_charts(at)
    assert _step_line(at).startswith("**step 0**")
    np.testing.assert_array_equal(_network_curve(modes), first)
    at.button(key="lc_live_step").click().run()
    modes, _ = _live_charts(at)
    np.testing.assert_array_equal(_network_curve(modes), stepped)  # the same run again


def test_watch_it_learn_refuses_a_rate_above_range_and_warns_above_stability():
    at = run(**SMALL_LIVE, lv_rate="1000")
    assert any("lv_rate=" in w.value for w in at.warning)  # out of range: the default instead
    assert url(at)["lv_rate"] == "2.0"
    at = run(**SMALL_LIVE, lv_rate="90")
    _live_charts(at)
    assert any("2/μ_max" in w.value for w in at.warning)


def test_watch_it_learn_presets_and_label_targets():
    at = run(**SMALL_LIVE)
    preset = at.pills(key="lc._preset")
    name = next(option for option in preset.options if "Feature learning" in option)
    preset.set_value(name).run()
    assert not at.exception
    assert url(at)["lv_width"] == "16" and url(at)["lv_rate"] == "8.0"
    at = run(**SMALL_LIVE, lv_target="k_global", lv_k="2")
    modes, _ = _live_charts(at)
    assert modes["curve"].nunique() >= 1 and modes["series"].nunique() == 2 * modes["curve"].nunique()
