"""Kernel (ridge) regression in float64.

Given a kernel's Gram matrix on the training inputs `K = K(X, X)` (n x n), its values between test
and training inputs `K_* = K(X_*, X)` and the labels `y`, the predictor is

    f(x_*) = K(x_*, X) (K + delta I)^{-1} y,

the posterior mean of the Gaussian process with covariance `K` and noise variance `delta` (NNGP),
or the function a wide network trained to convergence by gradient flow on the square loss computes
from a zero-output initialisation (NTK, `delta = 0`). `delta` is the ridge of the eigenlearning /
Bordelon-Canatar-Pehlevan theory (`engine.eigenlearning`), with the kernel's eigenvalues taken
under the input distribution as a probability measure.

References:
    Rasmussen & Williams, "Gaussian Processes for Machine Learning", MIT Press 2006, ch. 2.
    Jacot, Gabriel & Hongler, "Neural Tangent Kernel", NeurIPS 2018.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def kernel_ridge(k_train, y_train, k_cross, ridge: float = 0.0) -> np.ndarray:
    """Predictions `K_* (K + ridge I)^{-1} y` at the test inputs, float64.

    `k_train` is `(..., n, n)`, `y_train` `(..., n)` or `(..., n, c)`, `k_cross` `(..., m, n)`;
    leading axes are batched. The solve is a Cholesky factorisation; a Gram matrix that is singular
    to float64 precision at `ridge = 0` (repeated inputs, a kernel of low rank) falls back to the
    minimum-norm least-squares solution by a symmetric eigendecomposition, which is the ridgeless
    limit `ridge -> 0+` of the predictor.
    """
    k = np.asarray(k_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    kx = np.asarray(k_cross, dtype=np.float64)
    if ridge < 0 or not np.isfinite(ridge):
        raise ValueError(f"The ridge must be a finite number >= 0, got {ridge!r}.")
    vector = y.ndim == k.ndim - 1
    if vector:
        y = y[..., None]
    if k.shape[-1] != k.shape[-2] or y.shape[-2] != k.shape[-1] or kx.shape[-1] != k.shape[-1]:
        raise ValueError(f"Shapes do not fit: K {k.shape}, y {y.shape}, K_* {kx.shape}.")
    batch = np.broadcast_shapes(k.shape[:-2], y.shape[:-2], kx.shape[:-2])
    k = np.broadcast_to(k, batch + k.shape[-2:])
    y = np.broadcast_to(y, batch + y.shape[-2:])
    alpha = np.empty(batch + y.shape[-2:])
    eye = ridge * np.eye(k.shape[-1])
    for index in np.ndindex(*batch):
        alpha[index] = _solve(k[index] + eye, y[index])
    out = kx @ alpha
    return out[..., 0] if vector else out


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
