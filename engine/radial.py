"""Radially symmetric inputs and the ball indicator (Safran & Lee 2022, reconstructed).

An input is `x = rho * u` in R^d, with `u` uniform on the unit sphere S^{d-1} (a standard Gaussian
vector divided by its norm) and `rho >= 0` independent of `u`, drawn from a radial law. The target
is the indicator of the ball of radius `r`,

    f(x) = 1{||x|| <= r},

a function of the norm alone. Every law below is written for `t = rho / r` through its CDF `G(t)`,
and each puts half its mass on each side of the edge, `G(1) = 1/2`, with a `spread` `s`:

* `near_edge`: `log t ~ N(0, s^2)` (log-normal, default `s = 0.1`): `G(t) = Phi(log(t) / s)`.
  Most of the mass lies within a few per cent of the edge, where a predictor must resolve
  `||x||` finely.
* `shell`: `t ~ U[1 - s, 1 + s]` (default `s = 0.25`, `s < 1`): `G(t) = (t - 1 + s) / (2 s)`
  on the shell, a flat density across the edge.
* `heavy_tailed`: `log t ~ Laplace(0, s)` (default `s = 1/3`), two Pareto tails of index
  `alpha = 1 / s` on both sides of `r`:

      G(t) = t^alpha / 2 for t <= 1,   G(t) = 1 - t^(-alpha) / 2 for t >= 1,

  so `P(rho > tau r) = P(rho < r / tau) = tau^(-alpha) / 2`: mass on every scale, a density that
  peaks at the edge (a cusp), and (with `alpha = 3`) norms up to about `n^(1/3) r` among `n`
  draws. We chose it in the spirit of the lower-bound constructions for one layer of
  non-linearities (reconstructed; PAPERS.md section 4): an approximation of the indicator by
  sums of ridge functions must be right near the edge and also at norms spread over many scales,
  each ridge function `g(w . x) = g(rho |w| cos(angle))` seeing the norm only mixed with a random
  direction. Log-Laplace keeps the CDF in closed form and is scale-free on both sides, which a
  one-sided Pareto is not.

The class ratio `p` (the fraction inside the ball) is honoured by drawing `rho` from the law
conditioned on the inside, `t <= 1`, with probability `p`, and on the outside with probability
`1 - p` (`p = 1/2` is the law itself). The CDF of `||x||` is then, with `t = rho / r`,

    F(rho) = p * min(G(t) / G(1), 1) + (1 - p) * max((G(t) - G(1)) / (1 - G(1)), 0),

and `sample` draws it by inversion: inside `t = G^-1(V G(1))`, outside
`t = G^-1(1 - V (1 - G(1)))` with `V` uniform on `(0, 1]`, so `t` stays finite and positive.

>>> x = sample("near_edge", 8, 1000, radius=2.0, ratio=0.3, seed=0)
>>> x.shape, x.dtype
((1000, 8), dtype('float64'))
>>> y = ball_indicator(x, 2.0)
>>> bool(0.25 < y.mean() < 0.35)
True
>>> float(radial_cdf("near_edge", 2.0, radius=2.0, ratio=0.3))
0.3

References:
    Safran & Lee (2022), "Optimization-Based Separations for Neural Networks", COLT,
    arXiv:2112.02393.
    Eldan & Shamir (2016), "The Power of Depth for Feedforward Neural Networks", COLT (radial
    functions and depth).
    Muller (1959), "A note on a method for generating points uniformly on n-dimensional spheres",
    Communications of the ACM (normalised Gaussian vectors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from engine import guard

__all__ = ["RADIAL_LAWS", "SPREADS", "ball_indicator", "radial_cdf", "radial_quantile", "sample"]

RADIAL_LAWS = {
    "near_edge": "concentrated near the edge (log-normal, ρ = r·e^{sZ})",
    "shell": "uniform in a shell r(1 ± s)",
    "heavy_tailed": "heavy-tailed on both sides (log-Laplace: Pareto tails, mass on every scale)",
}
SPREADS = {"near_edge": 0.1, "shell": 0.25, "heavy_tailed": 1 / 3}
"""Default spread `s` of each law (module docstring)."""


_RATIO = "ratio (the fraction of points inside the ball)"


# --- Validation ----------------------------------------------------------------------------------


def _law(law: Any) -> str:
    if not isinstance(law, str) or law not in RADIAL_LAWS:
        raise ValueError(f"Unknown radial law {law!r}; use one of {', '.join(RADIAL_LAWS)}.")
    return law


def _spread(law: str, spread: Any) -> float:
    if spread is None:
        return SPREADS[law]
    s = guard.positive(spread, "spread")
    if law == "shell" and s >= 1:
        raise ValueError(f"The shell's spread must be below 1 (the shell r(1 ± s) must not reach "
                         f"the origin), got {spread!r}.")
    return s


# --- The laws of t = rho / r ---------------------------------------------------------------------


def _cdf_t(law: str, s: float, t: np.ndarray) -> np.ndarray:
    """`G(t)`, the CDF of `t = rho / r` under the law itself (ratio 1/2)."""
    t = np.asarray(t, np.float64)
    positive = np.maximum(t, np.finfo(np.float64).tiny)  # log(0) is -inf: G(0) = 0 below
    if law == "near_edge":
        g = special.ndtr(np.log(positive) / s)
    elif law == "shell":
        g = np.clip((t - (1 - s)) / (2 * s), 0.0, 1.0)
    else:  # heavy_tailed: log t ~ Laplace(0, s)
        z = np.log(positive) / s
        g = np.where(z <= 0, 0.5 * np.exp(np.minimum(z, 0.0)),
                     1 - 0.5 * np.exp(-np.maximum(z, 0.0)))
    return np.where(t <= 0, 0.0, g)


def _quantile_t(law: str, s: float, q: np.ndarray) -> np.ndarray:
    """`G^-1(q)` for `q` in `(0, 1)` (and `q = 1/2` gives exactly 1)."""
    q = np.asarray(q, np.float64)
    if law == "near_edge":
        return np.exp(s * special.ndtri(q))
    if law == "shell":
        return 1 - s + 2 * s * q
    # log-Laplace; both branches computed on safe arguments, one kept
    low = s * np.log(2 * np.minimum(q, 0.5))
    high = -s * np.log(2 * (1 - np.maximum(q, 0.5)))
    return np.exp(np.where(q <= 0.5, low, high))


# --- Public functions ----------------------------------------------------------------------------


def radial_cdf(law: str, rho, *, radius: float = 1.0, ratio: float = 0.5,
               spread: float | None = None) -> np.ndarray:
    """The exact CDF `F(rho) = P(||x|| <= rho)` of `sample`'s inputs (formula in the module
    docstring), elementwise over `rho`, float64.

    >>> float(radial_cdf("shell", 1.0, radius=1.0, ratio=0.8))
    0.8
    """
    law = _law(law)
    r = guard.positive(radius, "radius")
    p = guard.number(ratio, _RATIO, 0, 1)
    s = _spread(law, spread)
    g = _cdf_t(law, s, np.asarray(rho, np.float64) / r)
    inside = np.minimum(g / 0.5, 1.0)
    outside = np.maximum((g - 0.5) / 0.5, 0.0)
    return p * inside + (1 - p) * outside


def radial_quantile(law: str, q, *, radius: float = 1.0, ratio: float = 0.5,
                    spread: float | None = None) -> np.ndarray:
    """The inverse of `radial_cdf` for `q` in `(0, 1)`: the norm below which a fraction `q` of
    the inputs lie (a grid of norms that follows the data, for plotting a learned function against
    `||x||`). With `0 < ratio < 1`, `q = ratio` gives the radius.

    >>> float(radial_quantile("near_edge", 0.3, radius=2.0, ratio=0.3))
    2.0
    """
    law = _law(law)
    r = guard.positive(radius, "radius")
    p = guard.number(ratio, _RATIO, 0, 1)
    s = _spread(law, spread)
    q = np.asarray(q, np.float64)
    if not np.all((q > 0) & (q < 1)):
        raise ValueError("radial_quantile needs probabilities strictly between 0 and 1.")
    # inside part with weight p, outside part with weight 1 - p (module docstring)
    inside = 0.5 * np.clip(q / max(p, 1e-300), 0.0, 1.0)
    outside = 0.5 + 0.5 * np.clip((q - p) / max(1 - p, 1e-300), 0.0, 1.0 - 1e-16)
    u = np.where(q <= p, inside, outside)
    return r * _quantile_t(law, s, np.clip(u, 1e-300, 1.0 - 1e-16))


def sample(law: str, d: int, n: int, *, radius: float = 1.0, ratio: float = 0.5, seed: int = 0,
           leading: tuple = (), spread: float | None = None) -> np.ndarray:
    """Draw `x = rho * u` of shape `(*leading, n, d)`, float64: `u` uniform on S^{d-1} (normalised
    standard Gaussians), `rho = radius * t` with `t` from `law` conditioned on the inside of the
    ball with probability `ratio` and on the outside otherwise (module docstring). One numpy
    PCG64 stream seeded with `seed`.

    Args:
        law: a key of `RADIAL_LAWS`.
        d: the dimension (>= 1).
        n: points per set.
        radius: the ball's radius `r` (> 0).
        ratio: the probability of a point inside the ball, in [0, 1].
        seed: a whole number >= 0.
        leading: extra leading axes (e.g. `(seeds,)` for one set per seed).
        spread: the law's spread `s` (default `SPREADS[law]`; below 1 for `shell`).

    >>> sample("shell", 3, 4, radius=1.0, leading=(2,)).shape
    (2, 4, 3)
    """
    law = _law(law)
    d = guard.whole(d, "d", 1)
    n = guard.whole(n, "n", 0)
    r = guard.positive(radius, "radius")
    p = guard.number(ratio, _RATIO, 0, 1)
    s = _spread(law, spread)
    seed = guard.whole(seed, "seed", 0)
    if isinstance(leading, (str, bytes)) or not isinstance(leading, (tuple, list)):
        raise ValueError(f"leading must be a tuple of axis lengths, e.g. (4,), got {leading!r}.")
    leading = tuple(guard.whole(k, "leading entries", 0) for k in leading)

    rng = np.random.default_rng(seed)
    g = rng.standard_normal((*leading, n, d))
    norm = np.linalg.norm(g, axis=-1, keepdims=True)
    # A zero Gaussian vector has probability 0; guard the division anyway.
    u = g / np.where(norm > 0, norm, 1.0)
    inside = rng.random((*leading, n)) < p
    v = 1.0 - rng.random((*leading, n))  # in (0, 1]: t stays in (0, inf)
    q = np.where(inside, 0.5 * v, 1.0 - 0.5 * v)
    rho = r * _quantile_t(law, s, q)
    return rho[..., None] * u


def ball_indicator(x, radius: float) -> np.ndarray:
    """`1{||x|| <= radius}` over the last axis of `x`, as float64 zeros and ones."""
    r = guard.positive(radius, "radius")
    x = np.asarray(x, np.float64)
    if x.ndim < 1:
        raise ValueError("x must have shape (..., d), got a scalar.")
    return (np.linalg.norm(x, axis=-1) <= r).astype(np.float64)
