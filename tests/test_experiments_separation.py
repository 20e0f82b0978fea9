"""The Depth separation page's engine calls (Safran & Lee 2022, reconstructed): the padded
d-dimensional networks equal the d-dimensional ones, model A learns the ball indicator, views have
the documented shapes and are cached, and impossible views are refused before any work."""

import dataclasses
import math
import time

import jax
import numpy as np
import pytest

from engine import training
from engine.experiments import separation as sep
from engine.networks import init

SMALL = sep.DimensionSpec(d_min=4, d_max=8, seeds=1, features=512, n_train=1024, steps=300,
                          learning_rate=0.1)


@pytest.fixture(scope="module")
def view():
    return sep.dimension_sweep(SMALL)


def test_model_a_learns_the_ball_at_moderate_d(view):
    """A (fixed random sigmoid features under one trained sigmoid unit) classifies the ball at
    d = 8 from 1024 samples and 300 Adam steps: measured accuracy 0.954, test MSE 0.051 (the
    best constant predictor has 0.25); both B networks do worse there (MSE 0.11 and 0.10)."""
    a, d8 = view.models.index("A"), list(view.dims).index(8)
    assert view.test_accuracy[a, d8, 0] >= 0.94
    assert view.test_mse[a, d8, 0] <= 0.07 < view.baseline_mse
    for b in ("B_sigmoid", "B_relu"):
        assert view.test_mse[view.models.index(b), d8, 0] > view.test_mse[a, d8, 0]
    # the learned function: high well inside the ball, low well outside
    inside, outside = view.norms < 0.85, view.norms > 1.15
    assert view.output_mean[a, d8, 0, inside].min() > 0.8
    assert view.output_mean[a, d8, 0, outside].max() < 0.2


def test_dimension_view_shapes_and_values(view):
    m, d, s, e, g = 4, 2, 1, 21, sep.PROBE_NORMS
    assert view.models == tuple(sep.MODELS)
    np.testing.assert_array_equal(view.dims, [4, 8])
    np.testing.assert_array_equal(view.eval_steps, np.arange(0, 301, 15))
    for name in ("test_mse", "train_mse", "test_accuracy", "diverged"):
        assert getattr(view, name).shape == (m, d, s), name
    for name in ("test_curve", "train_curve"):
        assert getattr(view, name).shape == (m, d, s, e), name
    for name in ("output_mean", "output_std"):
        assert getattr(view, name).shape == (m, d, s, g), name
    assert view.norms.shape == (g,) and np.all(np.diff(view.norms) > 0)
    assert view.norms[0] < 1 < view.norms[-1]
    assert not view.diverged.any()
    for name in ("test_mse", "train_mse", "test_accuracy", "test_curve", "train_curve",
                 "output_mean", "output_std"):
        assert np.isfinite(getattr(view, name)).all(), name
    assert ((view.test_accuracy >= 0) & (view.test_accuracy <= 1)).all()
    # the reported test MSE is a point of the test curve (the best validation evaluation)
    assert all(np.isclose(view.test_curve[i], view.test_mse[i][..., None]).any()
               for i in np.ndindex(m, d, s))
    assert view.baseline_mse == pytest.approx(0.25)
    np.testing.assert_array_equal(view.parameters[:, 0], [513, 5 * 32 + 33 * 32 + 33,
                                                          5 * 32 + 33, 5 * 32 + 33])


def test_second_call_comes_from_the_cache(view):
    t = time.perf_counter()
    again = sep.dimension_sweep.lookup(SMALL)
    assert time.perf_counter() - t < 1.0
    assert again is not None
    np.testing.assert_array_equal(again.test_mse, view.test_mse)
    # equal views share one entry: an int learning rate or radius is the same view
    assert sep.dimension_sweep.key(dataclasses.replace(SMALL, radius=1)) == \
        sep.dimension_sweep.key(SMALL)


def test_padded_inputs_give_exactly_the_d_dimensional_network():
    """A B_relu network (first layer trained) on d = 4 inputs zero-padded to 8 and scaled by
    sqrt(8 / 4), from the same initial weights on the first 4 coordinates, trains exactly as the
    4-dimensional network: equal curves and weights (to float32 rounding: the padded matmul sums
    the same products plus zeros in another order), and the padded rows of the first layer get no
    gradient, so they end bit-identical to their initial values."""
    layers = sep.network("B_relu")[0]
    d, d_pad, width = 4, 8, 16
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, d))
    y = (np.linalg.norm(x, axis=-1) <= 2.0).astype(np.float32)
    xt = rng.standard_normal((1, 32, d))
    yt = (np.linalg.norm(xt, axis=-1) <= 2.0).astype(np.float32)
    big = init(layers, d_pad, key=jax.random.PRNGKey(3), width=width)
    (w0, b0), act, readout = big
    small = ((w0[:d], b0), act, readout)
    train = training.TrainSpec(optimizer="adam", learning_rate=0.03, steps=40, eval_every=10,
                               patience=0, width=width)

    def run(params, dim, xs, xts):
        return training.train_sweep(
            layers, xs.astype(np.float32), y, xs.astype(np.float32), y, xts.astype(np.float32),
            yt, sizes=[64], train=train, key=jax.random.PRNGKey(0), return_params=True,
            init_params=training.ravel_params(params)[None])

    padded = run(big, d_pad, sep.embed(x, d_pad), sep.embed(xt, d_pad))
    plain = run(small, d, x, xt)
    np.testing.assert_allclose(padded.test_curve, plain.test_curve, rtol=1e-5)
    (wp, bp), _, (vp, cp) = training.unravel_params(layers, d_pad, width, padded.params[0, 0])
    (ws, bs), _, (vs, cs) = training.unravel_params(layers, d, width, plain.params[0, 0])
    np.testing.assert_array_equal(np.asarray(wp[d:]), np.asarray(w0[d:]))
    assert not np.array_equal(np.asarray(wp[:d]), np.asarray(w0[:d]))
    for a, b in ((wp[:d], ws), (bp, bs), (vp, vs), (cp, cs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_embed_scales_and_pads():
    x = np.array([[1.0, 2.0]])
    np.testing.assert_allclose(sep.embed(x, 8), [[2.0, 4.0, 0, 0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="Cannot embed"):
        sep.embed(np.ones((1, 4)), 2)


def test_width_view_shapes():
    spec = sep.WidthSpec(d=4, widths=(8,), n_train=128, steps=40, seeds=2)
    view = sep.width_sweep(spec)
    assert view.models == tuple(sep.MODELS)
    np.testing.assert_array_equal(view.widths, [8])
    assert view.test_mse.shape == (4, 1, 2) and view.test_curve.shape == (4, 1, 2, 21)
    assert view.output_mean.shape == (4, 1, 2, sep.PROBE_NORMS)
    assert np.isfinite(view.test_mse).all()
    np.testing.assert_array_equal(view.parameters[:, 0], [9, 8 * 5 + 8 * 9 + 9, 8 * 5 + 9,
                                                          8 * 5 + 9])


def test_width_views_are_normalised():
    spec = sep.normalise_width(sep.WidthSpec(widths=(64, 4, 64), learning_rate=1))
    assert spec.widths == (4, 64) and spec.learning_rate == 1.0


@pytest.mark.parametrize("change, message", [
    ({"law": "gaussian"}, "Unknown radial law"),
    ({"radius": 0.0}, "radius"),
    ({"ratio": 1.0}, "ratio"),
    ({"d_min": 12}, "power of two"),
    ({"d_min": 16, "d_max": 8}, "at least `d_min`"),
    ({"d_max": 256}, "d_max"),
    ({"width": 1}, "width"),
    ({"features": 10000}, "features"),
    ({"n_train": 10}, "n_train"),
    ({"steps": 2.5}, "steps"),
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"seeds": 0}, "seeds"),
    ({"d_max": 128, "features": 4096, "n_train": 16384, "steps": 5000, "seeds": 8}, "minutes"),
])
def test_impossible_dimension_views_are_refused_before_any_work(change, message, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("trained before refusing")

    monkeypatch.setattr(training, "train_sweep", no_work)
    with pytest.raises(ValueError, match=message):
        sep.dimension_sweep(dataclasses.replace(sep.DimensionSpec(), **change))


@pytest.mark.parametrize("change, message", [
    ({"widths": ()}, "widths"),
    ({"widths": (4, 1)}, "widths"),
    ({"d": 1}, "`d`"),
    ({"law": "shell ", "d": 8}, "Unknown radial law"),
    ({"widths": (2048,), "n_train": 16384, "steps": 5000, "seeds": 8}, "minutes"),
])
def test_impossible_width_views_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        sep.width_sweep.lookup(dataclasses.replace(sep.WidthSpec(), **change))


def test_estimates_grow_with_the_work_and_defaults_fit_the_budget():
    base = sep.dimension_seconds(sep.DEFAULT_DIMENSION)
    assert 0 < base < 20
    for change in ({"d_max": 64}, {"features": 2048}, {"steps": 1000}, {"seeds": 4}):
        assert sep.dimension_seconds(dataclasses.replace(sep.DEFAULT_DIMENSION, **change)) > base
    assert sep.width_seconds(dataclasses.replace(sep.DEFAULT_WIDTH, widths=(4, 16))) < \
        sep.width_seconds(sep.DEFAULT_WIDTH)
    for fn, spec in sep.WARM:
        assert fn.estimate_seconds(spec) <= sep.TIME_BUDGET_S


def test_networks_are_the_documented_models():
    for model in sep.MODELS:
        layers, frozen, output = sep.network(model)
        assert layers[-1]["layer"] == "dense"
        assert output == ("sigmoid" if model.startswith("A") else "linear")
        assert frozen == ((0,) if model == "A" else ())
    assert [l["layer"] for l in sep.network("B_relu")[0]] == ["dense", "relu", "dense"]
    with pytest.raises(ValueError, match="Unknown model"):
        sep.network("C")
    assert sep.model_width("A", 32, 1024) == 1024 and sep.model_width("A_full", 32, 1) == (32, 32)


def test_probe_norms_follow_the_law():
    norms = sep.probe_norms(sep.DimensionSpec(law="shell"))
    assert norms[0] == pytest.approx(0.75 + 0.5 * 0.01) and norms[-1] == pytest.approx(1.245)
    heavy = sep.probe_norms(sep.DimensionSpec(law="heavy_tailed"))
    assert heavy[0] < 0.3 and heavy[-1] > 3


def test_the_views_are_warmed():
    from engine.experiments import warm_list

    names = {fn.name for fn, _ in warm_list()}
    assert {"separation.dimension", "separation.width"} <= names
    assert (sep.dimension_sweep, sep.DEFAULT_DIMENSION) in sep.WARM
    assert (sep.width_sweep, sep.DEFAULT_WIDTH) in sep.WARM
    assert math.isclose(sep.DEFAULT_DIMENSION.learning_rate, 0.03)
