"""Results as they come: every training view reports partial views (`engine.cache.Partial`) while it
computes. Each partial view has the final view's type and shapes; what it holds is exactly what the
final view holds there (a result, once computed, is never changed), the rest NaN; each holds more
than the one before and less than the final one; and the page's charts draw from each of them.
Through the cache, a stored result is returned without any partial view."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from engine.experiments import depth_locality as dl
from engine.experiments import separation as sep
from engine.experiments import universality as uni
from figures import learning_curves as lc_figs
from figures import separation as sep_figs
from figures import universality as uni_figs

CASES = {
    "universality.samples": (
        uni.sample_complexity,
        uni.SampleComplexitySpec(d_min=4, d_max=8, n_max=128, seeds=1, steps=100, channels=2,
                                 width=8),
        lambda view: (uni_figs.samples_needed_figure(view), uni_figs.parameter_table(view),
                      uni_figs.learning_curves_figure(view, 0), uni_figs.ordering(view))),
    "universality.depth": (
        uni.depth_sweep,
        uni.DepthSpec(d=8, s=2, channels=(2, 4), n_train=64, seeds=1, steps=100),
        lambda view: uni_figs.depth_figure(view)),
    "learning_curves.locality": (
        dl.depth_locality,
        dl.LocalitySpec(d=8, k=2, depths=(1, 2), width=16, n_min=16, n_max=64, n_sizes=3,
                        seeds=1, steps=40, batch_size=0),
        lambda view: (lc_figs.locality_depth_figure(view, 1), lc_figs.locality_curves_figure(view))),
    "separation.dimension": (
        sep.dimension_sweep,
        sep.DimensionSpec(d_min=4, d_max=8, seeds=1, width=4, features=16, n_train=64, steps=40),
        lambda view: (sep_figs.error_figure(view, "mse"), sep_figs.error_figure(view, "error"))),
    "separation.width": (
        sep.width_sweep,
        sep.WidthSpec(d=4, widths=(4, 8), n_train=64, steps=40, seeds=1),
        lambda view: sep_figs.error_figure(view, "mse")),
}


def _arrays(view) -> dict[str, np.ndarray]:
    return {f.name: getattr(view, f.name) for f in dataclasses.fields(view)
            if isinstance(getattr(view, f.name), np.ndarray)
            and getattr(view, f.name).dtype.kind == "f"}


def _filled(view) -> int:
    return sum(int(np.isfinite(a).sum()) for a in _arrays(view).values())


@pytest.fixture(scope="module", params=list(CASES))
def streamed(request, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("IBL_CACHE_DIR", str(tmp_path_factory.mktemp(request.param)))
    fn, spec, draw = CASES[request.param]
    frames = []
    final = fn(spec, partial=frames.append)
    return fn, spec, draw, frames, final


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_partial_views_have_the_final_views_type_and_shapes(streamed):
    fn, _, _, frames, final = streamed
    assert fn.streams
    assert frames, "no partial view was reported"
    for frame in frames:
        assert type(frame) is type(final)
        for name, array in _arrays(final).items():
            assert getattr(frame, name).shape == array.shape, name


def test_partial_views_hold_the_final_results_and_fill_in(streamed):
    _, _, _, frames, final = streamed
    counts = [_filled(frame) for frame in frames]
    assert counts[0] > 0, "the first partial view holds no result"
    assert counts == sorted(set(counts)), f"partial views do not grow: {counts}"
    assert counts[-1] < _filled(final), "the last partial view is already the final view"
    final_arrays = _arrays(final)
    for frame in frames:
        for name, array in _arrays(frame).items():
            known = np.isfinite(array)
            np.testing.assert_array_equal(array[known], final_arrays[name][known], err_msg=name)


def test_the_pages_charts_draw_from_every_partial_view(streamed):
    _, _, draw, frames, _ = streamed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice" from a NaN column
        for frame in frames:
            draw(frame)


def test_a_cached_result_comes_back_without_partial_views(streamed):
    fn, spec, _, _, final = streamed
    frames = []
    again = fn(spec, partial=frames.append)
    assert frames == []
    for name, array in _arrays(final).items():
        np.testing.assert_array_equal(getattr(again, name), array, err_msg=name)
