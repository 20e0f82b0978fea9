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
def test_trees_have_constant_channels_and_every_layer_a_bias(d):
    for arch, kind in (("cnn", "conv"), ("lcn", "local")):
        layers, widths = uni.network(arch, d, channels=8, width=64)
        convs = [l for l in layers if l["layer"] in ("conv", "local")]
        assert {l["layer"] for l in convs} == {kind}
        assert len(convs) == int(math.log2(d)) == len(widths)
        assert all(c["filter_size"] == c["stride"] == 2 for c in convs)
        assert widths == (8,) * len(widths)
        assert all(l["b_std"] == uni.BIAS_STD for l in layers if "b_std" in l)
    layers, widths = uni.network("fcn", d, channels=8, width=64)
    assert widths == (64,) * uni.FCN_DEPTH
    assert [l["b_std"] for l in layers if l["layer"] == "dense"] == [uni.BIAS_STD] * 3


def test_parameter_counts_by_hand():
    """Tree on d = 8 with C = 8 channels: three layers of filter 2. The CNN shares each layer's
    filter: (2*1*8 + 8) + 2 * (2*8*8 + 8) + (8 + 1); the LCN has one per position (4, 2, 1 of
    them); the FCN is 8 -> 64 -> 64 -> 1 with biases."""
    spec = uni.SampleComplexitySpec(d_min=8, d_max=16, channels=8, width=64)
    counts = uni.parameter_counts(spec)
    cnn8 = (2 * 8 + 8) + 2 * (2 * 8 * 8 + 8) + 9
    lcn8 = 4 * (2 * 8 + 8) + 2 * (2 * 8 * 8 + 8) + 1 * (2 * 8 * 8 + 8) + 9
    fcn8 = (8 * 64 + 64) + (64 * 64 + 64) + 65
    assert counts[:, 0].tolist() == [cnn8, lcn8, fcn8]
    # One more level at d = 16: the CNN gains one shared layer, the LCN 8 + 4 + 2 + 1 positions.
    assert counts[0, 1] == cnn8 + (2 * 8 * 8 + 8)
    assert counts[1, 1] == 8 * (2 * 8 + 8) + (4 + 2 + 1) * (2 * 8 * 8 + 8) + 9
    assert counts[2, 1] == fcn8 + 8 * 64


def _view(needed: np.ndarray, dims=(8, 16, 32)) -> uni.SampleComplexityView:
    """A view with given samples needed `[arch, d]` (one seed), for the figures' sentences."""
    spec = uni.SampleComplexitySpec(d_min=dims[0], d_max=dims[-1])
    needed = np.asarray(needed, dtype=float)[..., None]
    slope = np.array([uni.fitted_exponent(np.array(dims), needed[a]) for a in range(3)])
    shape = (3, len(dims), 1, 1)
    return uni.SampleComplexityView(
        spec=spec, archs=tuple(uni.ARCHITECTURES), dims=np.array(dims), sizes=np.array([16]),
        test_error=np.zeros(shape), train_error=np.zeros(shape),
        diverged=np.zeros(shape, dtype=bool), samples_needed=needed, slope=slope,
        parameters=uni.parameter_counts(spec))


def test_ordering_sentence_says_where_the_separation_holds_and_where_not():
    held = figs.ordering(_view([[30, 50, 90], [35, 100, 250], [60, 220, np.nan]]))
    assert "ordered CNN < LCN < FCN at every d shown" in held  # FCN never reached at d = 32
    assert "FCN 1.87" in held  # log2(220 / 60), from the two points reached
    broken = figs.ordering(_view([[40, 50, 90], [35, 100, 250], [60, 220, 1000]]))
    assert "at d = 16, d = 32 but not at d = 8" in broken
    none = figs.ordering(_view([[90, 200, 400], [50, 100, 200], [30, 60, 120]]))
    assert "at no d shown" in none
    # Neither the LCN nor the FCN reached the target at d = 32: not an ordering.
    unknown = figs.ordering(_view([[30, 50, 90], [35, 100, np.nan], [60, 220, np.nan]]))
    assert "at d = 8, d = 16 but not at d = 32" in unknown


def test_parameter_table_lists_each_network_at_each_d():
    view = _view([[30, 50, 90], [35, 100, 250], [60, 220, 900]])
    table = figs.parameter_table(view)
    assert table.columns.tolist() == ["d", "CNN", "LCN", "FCN"]
    assert table["d"].tolist() == [8, 16, 32]
    assert (table["CNN"] < table["LCN"]).all() and (table["LCN"] < table["FCN"]).all()


def test_presets_name_no_figure_they_do_not_reproduce():
    """The sparse target is kept as a preset whose name says it is not reproduced; the default is
    the quadratic separation task."""
    assert uni.DEFAULT_SAMPLES.target == "quadratic"
    sparse = [name for name, spec in uni.SAMPLE_PRESETS.items() if spec.target == "sparse_product"]
    assert sparse and all("not reproduced" in name and "Fig." not in name for name in sparse)


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


def test_each_theory_line_is_dashed_and_named_on_the_chart():
    """Issue 17: a theory line is told from data (dashed, 2 px, no markers) and labelled where it
    ends, in its colour, as well as in the legend."""
    fig = figs.samples_needed_figure(_view([[30, 50, 90], [35, 100, 250], [60, 220, 900]]))
    theory = [t for t in fig.data if t.name and "theory" in t.name]
    labels = [t for t in fig.data if t.mode == "text"]
    assert len(theory) == len(labels) == 3
    for line, label in zip(theory, labels):
        assert line.line.dash == "dash" and line.line.width >= 2 and line.mode == "lines"
        assert label.text[0] in line.name and label.textfont.color == line.line.color
        assert (label.x[0], label.y[0]) == (line.x[-1], line.y[-1])
        assert label.showlegend is False


def test_the_smallest_ds_small_sizes_are_swept_first_and_every_run_once():
    """`_units`: the sweeps of a sample-complexity view cover each (architecture, d, size) once;
    the first ones are the smallest d's sizes up to `FIRST_SIZES` (the page's first chart)."""
    spec = uni.SampleComplexitySpec()
    units = uni._units(spec)
    covered = [(arch, spec.dims[i], n) for i, arch, part in units for n in spec.sizes[part]]
    assert sorted(covered) == sorted((arch, d, n) for arch in uni.ARCHITECTURES
                                     for d in spec.dims for n in spec.sizes)
    first = units[:len(uni.ARCHITECTURES)]
    assert {arch for _, arch, _ in first} == set(uni.ARCHITECTURES)
    assert all(i == 0 and max(spec.sizes[part]) == uni.FIRST_SIZES for i, _, part in first)
    # nothing to split when every size is small
    small = uni.SampleComplexitySpec(n_max=128)
    assert len(uni._units(small)) == len(uni.ARCHITECTURES) * len(small.dims)
