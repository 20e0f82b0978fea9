"""The Eigenstructure page as a visitor uses it, headless (Streamlit's AppTest): defaults, the
extremes of every control, presets, shared URLs, and malformed URLs. Every run must draw its charts
and raise nothing; bad URL values give a warning and the default."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import assert_ok, charts, open_page, url, values
from engine.experiments import eigenstructure as eig

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "eigenstructure.py")
TIMEOUT = 180  # the first run compiles the kernel programs


def run(**query) -> AppTest:
    return open_page(PAGE, timeout=TIMEOUT, **query)










def test_defaults_draw_the_hypercube_view_and_fill_the_url():
    at = run()
    hypercube, trace = assert_ok(at, 2)
    assert hypercube["layout"]["yaxis"]["type"] == "log"
    assert "frequency" in hypercube["layout"]["xaxis"]["title"]["text"]
    assert "eigenvalue" in hypercube["layout"]["yaxis"]["title"]["text"]
    params = url(at)
    assert params["view"] == "hypercube" and params["arch"] == "tree_cnn"
    assert params["d"] == "12" and params["kernel"] == "ntk"
    assert not at.warning
    assert len(at.get("download_button")) == 1
    assert any("Xiao" in caption.value for caption in at.caption)


def test_the_tree_cnn_splits_frequencies_the_mlp_does_not():
    tree = charts(run(arch="tree_cnn", d="8"))[0]
    mlp = charts(run(arch="mlp", d="8"))[0]
    # One trace per spread value. At |S| = 2 the MLP's points (one per span) share one height;
    # the tree's spreads sit at different heights.
    def heights_at_2(figure):
        ys = [values(t["y"])[np.round(values(t["x"])) == 2] for t in figure["data"]]
        ys = np.concatenate(ys)
        return np.unique(np.round(ys / ys.max(), 9))

    assert len(tree["data"]) > 1 and len(mlp["data"]) > 1
    assert len(heights_at_2(tree)) >= 2
    assert len(heights_at_2(mlp)) == 1


def test_controls_change_the_chart_and_the_url():
    at = run(arch="mlp", d="6")
    before = charts(at)[0]
    at.radio(key="eig.kernel").set_value("nngp").run()
    after = assert_ok(at, 2)[0]
    assert url(at)["kernel"] == "nngp"
    assert not np.array_equal(values(after["data"][0]["y"]), values(before["data"][0]["y"]))
    at.slider(key="eig.d").set_value(7).run()
    assert_ok(at, 2)
    assert url(at)["d"] == "7"


def test_a_shared_url_restores_the_view():
    at = run(view="hypercube", arch="shallow_cnn", d="9", depth="2", filter="4",
             readout="flatten", act="erf", w_std="1.5", b_std="0.25", kernel="nngp")
    assert_ok(at, 2)
    assert at.selectbox(key="eig.arch").value == "shallow_cnn"
    assert at.slider(key="eig.d").value == 9
    assert at.slider(key="eig.depth").value == 2
    assert at.slider(key="eig.filter").value == 4
    assert at.selectbox(key="eig.act").value == "erf"
    assert at.number_input(key="eig.w_std").value == 1.5
    assert at.number_input(key="eig.b_std").value == 0.25
    assert at.radio(key="eig.kernel").value == "nngp"
    assert not at.warning


EXTREMES = [
    {"arch": "mlp", "d": "2", "depth": "1"},
    {"arch": "mlp", "d": "20", "depth": "6", "kernel": "nngp"},
    {"arch": "tree_cnn", "d": "20", "filter": "2"},
    {"arch": "tree_cnn", "d": "13", "filter": "13"},
    {"arch": "tree_lcn", "d": "16", "filter": "4"},
    {"arch": "shallow_cnn", "d": "10", "filter": "10", "depth": "6"},
    {"arch": "shallow_cnn", "d": "2", "filter": "2", "depth": "1"},
    {"arch": "shallow_cnn", "d": "10", "filter": "3", "readout": "global_avg_pool"},
    {"arch": "tree_cnn", "d": "8", "filter": "3", "act": "erf"},
    {"arch": "mlp", "d": "10", "w_std": "0.1", "b_std": "4", "act": "tanh"},
    {"arch": "mlp", "d": "10", "w_std": "4", "b_std": "0", "act": "sigmoid"},
    {"arch": "mlp", "d": "10", "act": "gelu", "n": "1000000"},
    {"arch": "mlp", "d": "10", "act": "relu", "n": "10"},
]


@pytest.mark.parametrize("query", EXTREMES, ids=lambda q: "-".join(q.values()))
def test_extremes_of_every_control(query):
    at = run(**query)
    assert_ok(at, 2)
    assert not at.warning, [w.value for w in at.warning]
    params = url(at)
    for name, value in query.items():
        assert float(params[name]) == float(value) if name in ("w_std", "b_std") \
            else params[name] == value


MALFORMED = [
    ({"d": "banana"}, "d"),
    ({"d": "999"}, "d"),
    ({"d": "-3"}, "d"),
    ({"d": "1e3"}, "d"),
    ({"arch": "__import__('os').system('true')"}, "arch"),
    ({"kernel": "<script>alert(1)</script>"}, "kernel"),
    ({"w_std": "nan"}, "w_std"),
    ({"w_std": "inf"}, "w_std"),
    ({"b_std": "-1"}, "b_std"),
    ({"view": "cube"}, "view"),
    ({"arch": "mlp", "depth": "x" * 10000}, "depth"),
    ({"arch": "shallow_cnn", "readout": "global_avg_pool", "d": "20"}, "d"),
]


@pytest.mark.parametrize("query,bad", MALFORMED, ids=[bad for _, bad in MALFORMED])
def test_malformed_url_warns_and_falls_back(query, bad):
    at = run(**query)
    assert not at.exception, [e.value for e in at.exception]
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and f"`{bad}=" in warnings[0], warnings
    assert len(warnings[0]) < 300  # a long value is shortened, not echoed
    assert len(charts(at)) >= 1
    assert url(at).get(bad) != query[bad]


def test_unknown_parameters_are_dropped():
    at = run(colour="red", d="6")
    assert_ok(at, 2)
    assert "colour" not in url(at)
    assert url(at)["d"] == "6"


def test_sphere_view():
    at = run(view="sphere")
    (figure,) = assert_ok(at, 1)
    layout = figure["layout"]
    assert layout["xaxis"]["type"] == "log" and layout["yaxis"]["type"] == "log"
    assert layout["xaxis2"]["type"] == "log"
    names = " ".join(trace["name"] for trace in figure["data"])
    assert "predicted" in names and "L = 2" in names and "L = 5" in names
    params = url(at)
    assert params["view"] == "sphere" and params["sphere_d"] == "3"
    assert "arch" not in params  # the hypercube's controls are not part of this view
    assert len(at.get("download_button")) == 1


@pytest.mark.parametrize("query", [
    {"sphere_d": "2", "layers": "2", "k_max": "8", "fit_from": "1"},
    {"sphere_d": "12", "layers": "6", "k_max": "40", "fit_from": "5", "sphere_b_std": "4"},
    {"sphere_d": "3", "layers": "3", "k_max": "400", "fit_from": "399", "sphere_act": "gelu"},
    {"sphere_d": "5", "sphere_act": "erf", "k_max": "60"},
], ids=["smallest", "largest-d", "largest-k", "erf"])
def test_sphere_extremes(query):
    at = run(view="sphere", **query)
    assert_ok(at, 1)
    assert not at.warning, [w.value for w in at.warning]


def test_switching_views_keeps_each_views_settings():
    at = run(arch="mlp", d="5")
    at.radio(key="eig.view").set_value("sphere").run()
    assert_ok(at, 1)
    at.radio(key="eig.view").set_value("hypercube").run()
    assert_ok(at, 2)
    assert url(at)["arch"] == "mlp" and url(at)["d"] == "5"


@pytest.mark.parametrize("preset", [0, 1, 2, 3, 4])
def test_hypercube_presets(preset):
    at = run()
    pills = at.pills(key="eig._preset")
    assert pills.options == list(eig.HYPERCUBE_PRESETS)
    pills.set_value(pills.options[preset]).run()
    assert_ok(at, 2)
    assert at.pills(key="eig._preset").value is None  # one click: no pill stays selected


def test_sphere_preset_sets_the_controls_and_applies_again_after_a_change():
    at = run(view="sphere")
    name = next(option for option in eig.SPHERE_PRESETS if "bias" in option)
    at.pills(key="eig._preset").set_value(name).run()
    assert_ok(at, 1)
    assert url(at)["sphere_d"] == "4" and float(url(at)["sphere_b_std"]) == 0.5
    at.slider(key="eig.sphere_d").set_value(6).run()
    assert url(at)["sphere_d"] == "6"
    at.pills(key="eig._preset").set_value(name).run()  # the same preset, clicked again
    assert_ok(at, 1)
    assert url(at)["sphere_d"] == "4"
