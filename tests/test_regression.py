"""Kernel ridge regression: against a direct solve and the pseudo-inverse; the exact hypercube
route against brute force (the engine's `nngp_ntk` Gram matrix over the cube, gathered on the
sampled points, `kernel_ridge`, and the population error by enumerating all 2^d test points)."""

import doctest

import numpy as np
import pytest

from engine import regression, spectra
from engine.kernels import nngp_ntk
from engine.specs import mlp, tree_cnn, tree_lcn


def _gram(rng, n, rank=None):
    features = rng.standard_normal((n, rank or n + 3))
    return features @ features.T, features


def test_kernel_ridge_matches_a_direct_solve():
    rng = np.random.default_rng(0)
    k, _ = _gram(rng, 30)
    kx = rng.standard_normal((7, 30))
    y = rng.standard_normal(30)
    for ridge in (0.0, 1e-3, 2.5):
        expected = kx @ np.linalg.solve(k + ridge * np.eye(30), y)
        np.testing.assert_allclose(regression.kernel_ridge(k, y, kx, ridge), expected, rtol=1e-9)
    # Several label columns and a batch axis.
    ys = rng.standard_normal((2, 30, 3))
    out = regression.kernel_ridge(np.stack([k, 2 * k]), ys, kx, 0.1)
    assert out.shape == (2, 7, 3)
    np.testing.assert_allclose(out[1], kx @ np.linalg.solve(2 * k + 0.1 * np.eye(30), ys[1]),
                               rtol=1e-9)


def test_ridgeless_fallback_is_the_pseudo_inverse_on_a_rank_deficient_gram():
    rng = np.random.default_rng(1)
    k, features = _gram(rng, 40, rank=12)  # rank 12: Cholesky fails or is useless
    kx = rng.standard_normal((5, 12)) @ features.T
    y = rng.standard_normal(40)
    pinv = kx @ np.linalg.pinv(k, rcond=1e-10, hermitian=True) @ y
    out = regression.kernel_ridge(k, y, kx)
    np.testing.assert_allclose(out, pinv, rtol=1e-7, atol=1e-9)
    # ... which is the limit of a vanishing ridge (that solve is itself ill-conditioned: ~1e-6).
    small = regression.kernel_ridge(k, y, kx, 1e-6)
    np.testing.assert_allclose(out, small, rtol=0, atol=1e-5 * np.abs(out).max())
    # The minimum-norm coefficients lie in the range of K.
    alpha = regression.kernel_ridge_coefficients(k, y)
    null = np.linalg.eigh(k)[1][:, :28]
    assert np.abs(null.T @ alpha).max() < 1e-8 * np.abs(alpha).max()


def test_repeated_inputs_get_the_mean_of_their_labels():
    x = np.array([[1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    k = nngp_ntk(mlp(1, b_std=0.5), x)[1]
    pred = regression.kernel_ridge(k, [1.0, 3.0, -1.0], k)
    np.testing.assert_allclose(pred, [2.0, 2.0, -1.0], rtol=1e-9)


def test_kernel_ridge_refuses_bad_input():
    with pytest.raises(ValueError, match="ridge"):
        regression.kernel_ridge(np.eye(2), [1.0, 2.0], np.eye(2), -1.0)
    with pytest.raises(ValueError, match="Shapes do not fit"):
        regression.kernel_ridge(np.eye(2), [1.0, 2.0, 3.0], np.eye(2))
    with pytest.raises(ValueError, match="Shapes do not fit"):
        regression.kernel_ridge(np.eye(2), [1.0, 2.0], np.ones((3, 4)))


def test_kernel_row_is_the_whole_kernel():
    layers, d = tree_cnn(8, 2, b_std=0.3), 8
    row = spectra.hypercube_kernel_row(layers, d, "nngp")
    gram = nngp_ntk(layers, spectra.hypercube_points(d))[0]
    index = np.arange(2 ** d)
    np.testing.assert_allclose(gram, row[index[:, None] ^ index[None, :]], rtol=1e-12)
    with pytest.raises(ValueError, match="not eigenfunctions"):
        spectra.hypercube_kernel_row(
            [{"layer": "conv", "filter_size": 3, "stride": 1, "padding": "circular"},
             {"layer": "relu"}, {"layer": "global_avg_pool"}, {"layer": "dense"}], 6)


def _brute_force(layers, d, kernel, v, sizes, seeds, ridge, noise, seed):
    """The same training sets, solved by `kernel_ridge` on the engine's Gram matrix of the drawn
    points (repeats included) and scored on all 2^d points."""
    which = 1 if kernel == "ntk" else 0
    points = spectra.hypercube_points(d)
    every = nngp_ntk(layers, points)[which]  # one Gram matrix over the cube, gathered per set
    target = spectra.walsh_hadamard(v)
    drawn, xi = regression.hypercube_training_draws(d, max(sizes), seeds=seeds, seed=seed)
    test, train = np.empty((seeds, len(sizes))), np.empty((seeds, len(sizes)))
    for s in range(seeds):
        for j, n in enumerate(sizes):
            index = drawn[s, :n]
            y = target[index] + np.sqrt(noise) * xi[s, :n]
            gram, cross = every[np.ix_(index, index)], every[:, index]
            test[s, j] = np.mean((regression.kernel_ridge(gram, y, cross, ridge) - target) ** 2)
            train[s, j] = np.mean((regression.kernel_ridge(gram, y, gram, ridge) - y) ** 2)
    return test + noise, train


@pytest.mark.parametrize("layers,d,kernel,ridge,noise", [
    (mlp(2, b_std=0.5), 7, "ntk", 0.0, 0.0),
    (mlp(2, b_std=0.5), 7, "ntk", 0.05, 0.3),
    (mlp(1, b_std=0.2, activation="erf"), 6, "nngp", 1e-3, 0.1),
    (tree_cnn(8, 2, b_std=0.2), 8, "ntk", 0.0, 0.2),
    (tree_lcn(8, 2), 8, "nngp", 0.01, 0.0),
], ids=["mlp", "mlp-ridge-noise", "erf-nngp", "tree-cnn-noise", "tree-lcn-nngp"])
def test_exact_hypercube_route_equals_brute_force(layers, d, kernel, ridge, noise):
    rng = np.random.default_rng(d)
    v = rng.standard_normal(2 ** d) * (rng.random(2 ** d) < 0.1)
    v /= np.linalg.norm(v)
    sizes, seeds = [2, 9, 40, 150], 2  # 150 draws on 2^7 points repeat many
    row = spectra.hypercube_kernel_row(layers, d, kernel)
    curve = regression.hypercube_learning_curve(row, d, v, sizes, seeds=seeds, ridge=ridge,
                                                noise=noise, seed=3)
    test, train = _brute_force(layers, d, kernel, v, sizes, seeds, ridge, noise, 3)
    np.testing.assert_allclose(curve.test_mse, test, rtol=1e-9)
    np.testing.assert_allclose(curve.train_mse, train, rtol=1e-9, atol=1e-12)
    assert np.all(curve.distinct <= np.array(sizes)) and curve.distinct[0, -1] < 150


def test_ridgeless_fit_on_a_kernel_with_zero_eigenvalues_is_least_squares():
    """A two-layer ReLU NTK without bias has no odd frequencies >= 3: a cubic parity is never
    learned, and with more distinct points than the rank the fit cannot interpolate."""
    d = 6
    v = np.zeros(2 ** d)
    v[0b111] = 1.0
    row = spectra.hypercube_kernel_row(mlp(1), d)
    curve = regression.hypercube_learning_curve(row, d, v, [5, 64, 400], seeds=2, seed=1)
    assert np.all(curve.train_mse[:, -1] > 0.1) and np.all(curve.test_mse[:, -1] >= 1.0)
    test, train = _brute_force(mlp(1), d, "ntk", v, [5, 64, 400], 2, 0.0, 0.0, 1)
    np.testing.assert_allclose(curve.test_mse, test, rtol=1e-8)
    np.testing.assert_allclose(curve.train_mse, train, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("kwargs,message", [
    (dict(coefficients=np.zeros(8)), "coefficients"),
    (dict(sizes=[0, 3]), "sizes"),
    (dict(sizes=[2.5]), "sizes"),
    (dict(seeds=0), "seeds"),
    (dict(ridge=-1.0), "ridge"),
    (dict(noise=float("nan")), "noise"),
    (dict(row=np.ones(8)), "shape"),
    (dict(row="row"), "shape"),
])
def test_hypercube_curve_refuses_bad_input(kwargs, message):
    args = dict(row=spectra.hypercube_kernel_row(mlp(1), 4), d=4, coefficients=np.zeros(16),
                sizes=[2, 4])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        regression.hypercube_learning_curve(**args)


def test_docstring_examples():
    result = doctest.testmod(regression, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 3
