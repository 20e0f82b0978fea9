"""Regression targets on Gaussian inputs for the Universality page (Wang & Wu 2023, reconstructed).

Inputs are `x ~ N(0, I_d)`. Every target is scaled to unit variance, so a test MSE is also the
error relative to predicting zero:

* `sparse_product`: `y = x_0 x_{d-1}`, a sparse interaction of the two coordinates furthest apart.
  A tree CNN must carry it through every level of its patch tree (Wang & Wu: Õ(log² d) samples).
* `quadratic`: `y = (sum_{i < h} (x_i^2 - 1) - sum_{i >= h} (x_i^2 - 1)) / sqrt(2 d)`, `h = floor(d/2)`,
  the separation task
  of Li, Zhang & Arora (2021): rotation-equivariant learners (an FCN trained from a Gaussian init)
  need ~d² samples, locally connected ones ~d.
* `cross_halves`: `y = (sum_{i < h} x_i)(sum_{i >= h} x_i) / sqrt(h (d - h))`, which depends on every
  coordinate and has no part that is a sum of functions of blocks smaller than the whole input:
  a tree CNN whose receptive field does not cover the input cannot fit any of it.

References:
    Wang & Wu, "Theoretical Analysis of Inductive Biases in Deep Convolutional Networks",
    NeurIPS 2023, arXiv:2305.08404.
    Li, Zhang & Arora, "Why Are Convolutional Nets More Sample-Efficient than Fully-Connected
    Nets?", ICLR 2021, arXiv:2010.08515.
"""

from __future__ import annotations

import numpy as np

TARGETS = {
    "sparse_product": "x₀ · x_last: sparse, far apart",
    "quadratic": "‖left half‖² − ‖right half‖²",
    "cross_halves": "(Σ left half) · (Σ right half)",
}
"""Target -> its label on the page: short enough for the sidebar at 1280 px, in plain symbols
(the formulas are in the module docstring and beside the charts)."""


def target(name: str, x: np.ndarray) -> np.ndarray:
    """The target `name` (see the module docstring) at inputs `x` of shape `(..., d)`, unit
    variance under `x ~ N(0, I)`."""
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    if d < 2:
        raise ValueError(f"The targets need d >= 2, got d = {d}.")
    h = d // 2
    if name == "sparse_product":
        return x[..., 0] * x[..., d - 1]
    if name == "quadratic":
        centred = x ** 2 - 1
        return (centred[..., :h].sum(-1) - centred[..., h:].sum(-1)) / np.sqrt(2 * d)
    if name == "cross_halves":
        return x[..., :h].sum(-1) * x[..., h:].sum(-1) / np.sqrt(h * (d - h))
    raise ValueError(f"Unknown target {name!r}; choose one of {', '.join(TARGETS)}.")


def gaussian_dataset(name: str, d: int, n: int, *, seed: int, leading: tuple = ()) -> tuple:
    """`(x, y)` with `x` of shape `(*leading, n, d)` drawn from `N(0, I)` by numpy's PCG64 seeded
    with `seed`, and `y = target(name, x)`; float32, as training uses."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*leading, n, d))
    return x.astype(np.float32), target(name, x).astype(np.float32)
