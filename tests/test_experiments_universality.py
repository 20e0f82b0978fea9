"""The Universality page's engine calls: the interpolation of the samples needed, the fitted
exponents, the networks it trains, the refusals before any work, and the figures."""

import dataclasses
import math

import numpy as np
import pytest

from engine.experiments import universality as uni
from figures import universality as figs


def test_samples_to_reach_interpolates_geometrically():
    sizes = np.array([16, 32, 64, 128])
    # Error halves at every doubling from 1.0: the threshold 0.35 lies between 0.5 (n = 32) and
    # 0.25 (n = 64); in log-log coordinates the line is error = 16 / n, so n = 16 / 0.35.
    errors = 16 / sizes
    assert uni.samples_to_reach(sizes, errors, 0.35) == pytest.approx(16 / 0.35)
    assert uni.samples_to_reach(sizes, errors, 1.0) == 16  # already reached at the first point
    assert math.isnan(uni.samples_to_reach(sizes, errors, 0.01))  # never reached
    assert math.isnan(uni.samples_to_reach(sizes, np.full(4, np.nan), 0.5))


def test_fitted_exponent_recovers_a_power_law():
    dims = np.array([8, 16, 32, 64])
    needed = np.stack([3.0 * dims ** 1.5, 2.9 * dims ** 1.5], axis=-1)  # two seeds
    assert uni.fitted_exponent(dims, needed) == pytest.approx(1.5, abs=0.02)
    needed[1:] = np.nan
    assert math.isnan(uni.fitted_exponent(dims, needed))


@pytest.mark.parametrize("d", [8, 16, 32])
def test_networks_have_multichannel_trees(d):
    for arch in ("cnn", "lcn"):
        layers, widths = uni.network(arch, d, channels=8, width=64)
        convs = [l for l in layers if l["layer"] in ("conv", "local")]
        assert len(convs) == int(math.log2(d)) == len(widths)
        assert all(c["filter_size"] == c["stride"] == 2 for c in convs)
        assert widths == tuple(min(8 * 2 ** k, uni.CHANNEL_CAP) for k in range(len(widths)))
    layers, widths = uni.network("fcn", d, channels=8, width=64)
    assert widths == (64,) * uni.FCN_DEPTH


@pytest.mark.parametrize("change,message", [
    ({"d_min": 12}, "power of two"),
    ({"d_max": 4, "d_min": 8}, "at least"),
    ({"target": "cross_halves"}, "target"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"threshold": 1.5}, "threshold"),
    ({"seeds": 0}, "seeds"),
    ({"d_min": 64, "d_max": 64, "n_max": 8192, "seeds": 8, "steps": 5000, "width": 512},
     "minutes"),
])
def test_impossible_sample_views_are_refused(change, message):
    spec = dataclasses.replace(uni.SampleComplexitySpec(), **change)
    with pytest.raises(ValueError, match=message):
        uni.sample_complexity.lookup(spec)


@pytest.mark.parametrize("change,message", [
    ({"d": 12, "s": 2}, "not a power"),
    ({"channels": ()}, "Channels"),
    ({"target": "x"}, "Unknown target"),
])
def test_impossible_depth_views_are_refused(change, message):
    spec = dataclasses.replace(uni.DepthSpec(), **change)
    with pytest.raises(ValueError, match=message):
        uni.depth_sweep.lookup(spec)


def test_partial_tree_receptive_field():
    layers = uni.partial_tree(16, 2, 3)
    assert [l["layer"] for l in layers].count("conv") == 3
    assert layers[-2:] == [{"layer": "flatten"}, {"layer": "dense"}]


def test_estimates_grow_with_the_work():
    small = uni.SampleComplexitySpec(d_min=8, d_max=8, n_max=256, seeds=1, steps=250)
    big = dataclasses.replace(small, n_max=1024, seeds=4)
    assert 0 < uni.sample_complexity.estimate_seconds(small) < \
        uni.sample_complexity.estimate_seconds(big)


def test_receptive_field_diagram_lights_one_subtree():
    fig = figs.receptive_field_figure(8, 2, 2, highlight=1)
    assert len(fig.data) == 3  # input row and two layers
    lit = [sum(c != "#d9d9d9" for c in trace.marker.color) for trace in fig.data]
    assert lit == [4, 2, 1]  # position 1 of layer 2 sees inputs 4..7


def test_small_depth_sweep_learns_only_at_full_depth():
    spec = uni.DepthSpec(d=4, s=2, channels=(16,), n_train=1024, seeds=1, steps=1500)
    view = uni.depth_sweep(spec)
    # Depth 1 sees pairs of inputs: the cross-halves target has no additive part over pairs, so
    # the error stays near its variance; depth 2 sees everything and fits it.
    assert view.train_error[0, 0, 0] > 0.8
    assert view.train_error[1, 0, 0] < 0.3
