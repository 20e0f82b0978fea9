"""Kernel (ridge) regression in float64.

Given a kernel's Gram matrix on the training inputs `K = K(X, X)` (n x n), its values between test
and training inputs `K_* = K(X_*, X)` and the labels `y`, the predictor is

    f(x_*) = K(x_*, X) (K + delta I)^{-1} y,

the posterior mean of the Gaussian process with covariance `K` and noise variance `delta` (NNGP),
or the function a wide network trained to convergence by gradient flow on the square loss computes
from a zero-output initialisation (NTK, `delta = 0`). `delta` is the ridge of the eigenlearning /
Bordelon-Canatar-Pehlevan theory (`engine.eigenlearning`), with the kernel's eigenvalues taken
under the input distribution as a probability measure.

On the hypercube `{-1, +1}^d` with uniform inputs, `hypercube_learning_curve` runs kernel
regression exactly and fast for every kernel that depends on its inputs only through the products
`x_i y_i` (`engine.spectra.walsh_diagonal`: MLPs, conv/local stacks read out by `flatten`). Such a
kernel is one row, `K(x_X, x_Y) = row[X ^ Y]` (bit masks, XOR), so

* the Gram matrix on the training points is a gather from the row;
* the predictor `f = sum_j alpha_j K(., x_j)` is the XOR convolution `row * a`, with
  `a[X] = sum_{j: x_j = X} alpha_j`, whose Walsh coefficients are `c_S = lam_S WHT(a)[S]`
  (`lam_S = WHT(row)[S] / 2^d`, the kernel's eigenvalues);
* the population test error needs no test set: by Parseval on the Walsh basis
  `E_x (f(x) - f*(x))^2 = sum_S (c_S - v_S)^2` for a target with coefficients `v_S`.

The test MSE it reports is against noisy test labels, `sum_S (c_S - v_S)^2 + noise`, the
convention of `engine.eigenlearning` (subtract `noise` for the error against the clean target).

References:
    Rasmussen & Williams, "Gaussian Processes for Machine Learning", MIT Press 2006, ch. 2.
    Jacot, Gabriel & Hongler, "Neural Tangent Kernel", NeurIPS 2018.
    O'Donnell, "Analysis of Boolean Functions", Cambridge University Press 2014, ch. 1 (Walsh
        basis, Parseval, convolution on the cube).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Callable, Optional

import numpy as np
import scipy.linalg

from engine import guard
from engine.walsh import walsh_hadamard


def kernel_ridge(k_train, y_train, k_cross, ridge: float = 0.0) -> np.ndarray:
    """Predictions `K_* (K + ridge I)^{-1} y` at the test inputs, float64.

    `k_train` is `(..., n, n)`, `y_train` `(..., n)` or `(..., n, c)`, `k_cross` `(..., m, n)`;
    leading axes are batched. The solve is a Cholesky factorisation; a Gram matrix that is singular
    to float64 precision at `ridge = 0` (repeated inputs, a kernel of low rank) falls back to the
    minimum-norm least-squares solution by a symmetric eigendecomposition, which is the ridgeless
    limit `ridge -> 0+` of the predictor (`kernel_ridge_coefficients`).
    """
    kx = np.asarray(k_cross, dtype=np.float64)
    k = np.asarray(k_train, dtype=np.float64)
    if kx.shape[-1:] != k.shape[-1:]:
        raise ValueError(f"Shapes do not fit: K {k.shape}, K_* {kx.shape}.")
    alpha = kernel_ridge_coefficients(k_train, y_train, ridge)
    vector = alpha.ndim == k.ndim - 1
    out = kx @ (alpha[..., None] if vector else alpha)
    return out[..., 0] if vector else out


def kernel_ridge_coefficients(k_train, y_train, ridge: float = 0.0) -> np.ndarray:
    """The dual coefficients `alpha = (K + ridge I)^{-1} y` of kernel ridge regression, so that
    the predictor is `f(x) = sum_j alpha_j K(x, x_j)`; float64 of the shape of `y_train`.

    `k_train` is `(..., n, n)`, `y_train` `(..., n)` or `(..., n, c)`, leading axes batched. The
    solve is a Cholesky factorisation; where `K + ridge I` is singular to float64 precision (at
    `ridge = 0`: repeated inputs, a kernel of low rank) it is the minimum-norm least-squares
    solution instead, from a symmetric eigendecomposition that drops eigenvalues below
    `n eps` times the largest: the limit `ridge -> 0+`, whose predictor interpolates wherever it
    can and fits the labels in least squares elsewhere (repeated inputs get the mean of their
    labels).

    >>> np.round(kernel_ridge_coefficients([[2.0, 0.0], [0.0, 6.0]], [1.0, 1.0], 2.0), 12).tolist()
    [0.25, 0.125]
    >>> np.round(kernel_ridge_coefficients([[1.0, 1.0], [1.0, 1.0]], [0.0, 2.0]), 12).tolist()
    [0.5, 0.5]
    """
    k = np.asarray(k_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    if not isinstance(ridge, numbers.Real) or ridge < 0 or not math.isfinite(ridge):
        raise ValueError(f"The ridge must be a finite number >= 0, got {ridge!r}.")
    if k.ndim < 2:
        raise ValueError(f"The Gram matrix must have two axes (n, n), got shape {k.shape}.")
    vector = y.ndim == k.ndim - 1
    if vector:
        y = y[..., None]
    if k.shape[-1] != k.shape[-2] or y.ndim < 2 or y.shape[-2] != k.shape[-1]:
        raise ValueError(f"Shapes do not fit: K {k.shape}, y {np.shape(y_train)}.")
    batch = np.broadcast_shapes(k.shape[:-2], y.shape[:-2])
    k = np.broadcast_to(k, batch + k.shape[-2:])
    y = np.broadcast_to(y, batch + y.shape[-2:])
    alpha = np.empty(batch + y.shape[-2:])
    eye = ridge * np.eye(k.shape[-1])
    for index in np.ndindex(*batch):
        alpha[index] = _solve(k[index] + eye, y[index])
    return alpha[..., 0] if vector else alpha


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        factor = scipy.linalg.cho_factor(a, lower=True, check_finite=False)
        x = scipy.linalg.cho_solve(factor, b, check_finite=False)
        if np.all(np.isfinite(x)) and _well_conditioned(factor[0]):
            return x
    except np.linalg.LinAlgError:
        pass
    w, v = np.linalg.eigh(a)
    keep = w > w[-1] * a.shape[-1] * np.finfo(np.float64).eps
    return v[:, keep] @ ((v[:, keep].T @ b) / w[keep, None])


def _well_conditioned(lower: np.ndarray) -> bool:
    diag = np.abs(np.diag(lower))
    return diag.min() > diag.max() * np.sqrt(lower.shape[0] * np.finfo(np.float64).eps)


# --- Exact kernel regression on the hypercube ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HypercubeCurve:
    """Measured learning curves of kernel regression on `{-1, +1}^d` (`hypercube_learning_curve`).

    `test_mse[s, j]` is the population test MSE of seed `s` at `n = sizes[j]` training samples,
    against noisy test labels (`sum_S (c_S - v_S)^2 + noise`); `train_mse[s, j]` the mean squared
    residual on the training labels; `distinct[s, j]` how many different points the `n` draws hit
    (draws are with replacement, so it falls short of `n` as `n` approaches `2^d`).
    """

    d: int
    sizes: np.ndarray  # int64 (N,)
    test_mse: np.ndarray  # float64 (seeds, N)
    train_mse: np.ndarray  # float64 (seeds, N)
    distinct: np.ndarray  # int64 (seeds, N)
    ridge: float
    noise: float


def hypercube_training_draws(d: int, n: int, *, seeds: int, seed: int = 0) -> tuple:
    """The training sets `hypercube_learning_curve` uses: `(points, noise)`, both of shape
    `(seeds, n)`: point indices (bit masks, `engine.walsh.hypercube_points` order) drawn
    i.i.d. uniformly with replacement, and standard normal label noise, from numpy's PCG64 seeded
    with `seed` (points first, then noise). A curve uses the first `n_j` of each row for size `n_j`,
    so the training sets of one seed are nested."""
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 2 ** d, size=(seeds, n))
    return points, rng.standard_normal((seeds, n))


def expected_distinct(sizes, d: int) -> np.ndarray:
    """The expected number of distinct points among `n` uniform draws with replacement from the
    `2^d` points of the cube, `2^d (1 - (1 - 2^-d)^n)`, for every `n` in `sizes` (float64). Without
    label noise a repeated draw adds nothing, and the theory of `engine.eigenlearning` evaluated at
    this many samples predicts the measured curves even where draws repeat often.

    >>> expected_distinct([1, 2, 4], 1).tolist()
    [1.0, 1.5, 1.875]
    """
    points = 2.0 ** d
    return points * -np.expm1(np.asarray(sizes, dtype=np.float64) * np.log1p(-1.0 / points))


def _hypercube_row(row, d: int) -> np.ndarray:
    try:
        row = np.asarray(row, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"The kernel row must be an array of shape (2^d,) = ({2 ** d},) (as "
                         "engine.spectra.hypercube_kernel_row gives).") from None
    if row.shape != (2 ** d,):
        raise ValueError(f"The kernel row must have shape (2^d,) = ({2 ** d},), got {row.shape}.")
    return row


def hypercube_learning_curve(row, d: int, coefficients, sizes, *, seeds: int = 1,
                             ridge: float = 0.0, noise: float = 0.0, seed: int = 0,
                             progress: Optional[Callable[[int, int], None]] = None
                             ) -> HypercubeCurve:
    """Kernel (ridge) regression on `{-1, +1}^d`, exact, at every training-set size and seed.

    Training inputs are drawn i.i.d. uniformly with replacement (`hypercube_training_draws`; the
    assumption of `engine.eigenlearning`), labels are `y = f*(x) + sqrt(noise) xi` with
    `f* = sum_S v_S chi_S`, and the predictor is `K(., X) (K(X, X) + ridge I)^{-1} y`. Repeated
    draws are merged exactly: with distinct points `U`, counts `c` and mean labels `y_bar`, the
    same predictor is `K(., U) beta` with `(K_UU + ridge C^-1) beta = y_bar`, solved in the
    symmetric form `C^1/2 K_UU C^1/2 + ridge I` by `kernel_ridge_coefficients` (at `ridge = 0`
    the minimum-norm weighted least-squares fit where `K_UU` is singular, the limit
    `ridge -> 0+` of the duplicated problem). The population error then follows from the Walsh
    coefficients of the predictor (module docstring) with no test set. Cost per (seed, n): a
    Cholesky factorisation on the distinct points and one Walsh–Hadamard transform of length
    `2^d`.

    Args:
        row: the kernel row `K(x_X, 1)` over all `2^d` points (as
            `engine.spectra.hypercube_kernel_row` gives it).
        d: input dimension.
        coefficients: the target's Walsh coefficients `v_S`, shape `(2^d,)` (bit masks).
        sizes: training-set sizes (whole numbers >= 1).
        seeds: independent training sets per size.
        ridge: `delta >= 0` added to the Gram matrix.
        noise: label-noise variance `eps^2 >= 0` (training and test labels).
        seed: seeds numpy's PCG64 for the draws.
        progress: called as `progress(done, total)` after each (seed, size).

    Returns:
        `HypercubeCurve` with arrays of shape `(seeds, len(sizes))`.

    Example:
        >>> from engine.specs import mlp
        >>> from engine.spectra import hypercube_kernel_row
        >>> v = np.zeros(2 ** 6); v[0b11] = 1.0      # target x_0 x_1
        >>> row = hypercube_kernel_row(mlp(2, b_std=0.5), 6)
        >>> curve = hypercube_learning_curve(row, 6, v, [4, 64], seeds=3)
        >>> curve.test_mse.shape, bool(np.all(curve.test_mse[:, 1] < curve.test_mse[:, 0]))
        ((3, 2), True)
    """
    d = guard.whole(d, "d", 1)
    row = _hypercube_row(row, d)
    v = np.asarray(coefficients, dtype=np.float64)
    if v.shape != (2 ** d,):
        raise ValueError(f"coefficients must hold one Walsh coefficient per set S, shape "
                         f"({2 ** d},), got {v.shape}.")
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or not sizes.size or not np.all(sizes == np.round(sizes)) or sizes.min() < 1:
        raise ValueError("sizes must be a non-empty list of whole numbers >= 1.")
    sizes = sizes.astype(np.int64)
    seeds = guard.whole(seeds, "seeds", 1)
    for name, value in (("ridge", ridge), ("noise", noise)):
        if not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")

    lam = walsh_hadamard(row) / 2.0 ** d
    target = walsh_hadamard(v)  # f*(x_X) = sum_S v_S chi_S(x_X)
    points, xi = hypercube_training_draws(d, int(sizes.max()), seeds=seeds, seed=seed)
    labels = target[points] + math.sqrt(noise) * xi
    shape = (seeds, len(sizes))
    test, train = np.empty(shape), np.empty(shape)
    distinct = np.empty(shape, dtype=np.int64)
    for s in range(seeds):
        for j, n in enumerate(sizes):
            test[s, j], train[s, j], distinct[s, j] = _fit_on_cube(
                row, lam, v, points[s, :n], labels[s, :n], float(ridge))
            if progress is not None:
                progress(s * len(sizes) + j + 1, seeds * len(sizes))
    return HypercubeCurve(d=d, sizes=sizes, test_mse=test + noise, train_mse=train,
                          distinct=distinct, ridge=float(ridge), noise=float(noise))


def _fit_on_cube(row, lam, v, points, labels, ridge) -> tuple:
    """`(population error against f*, train MSE, distinct points)` of one training set."""
    unique, inverse, counts = np.unique(points, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=labels) / counts
    gram = row[unique[:, None] ^ unique[None, :]]
    root = np.sqrt(counts)
    gamma = kernel_ridge_coefficients(root[:, None] * gram * root[None, :], root * mean, ridge)
    beta = root * gamma
    a = np.zeros(len(row))
    a[unique] = beta
    c = lam * walsh_hadamard(a)
    fitted = gram @ beta
    residual = counts @ (fitted - mean) ** 2 + np.sum((labels - mean[inverse]) ** 2)
    return float(np.sum((c - v) ** 2)), float(residual / len(points)), len(unique)
