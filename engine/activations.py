"""Dual kernels of activations: how an elementwise non-linearity maps Gaussian covariances.

For a centred Gaussian pair `(u, v)` with `E[u^2] = q1`, `E[v^2] = q2`, `E[u v] = c`, an activation
`phi` has the dual kernel and derivative dual kernel

    T(c, q1, q2)    = E[phi(u) phi(v)]          (the next NNGP)
    Tdot(c, q1, q2) = E[phi'(u) phi'(v)]        (the factor that multiplies the NTK)

so a layer maps `(nngp, ntk) -> (T(nngp), ntk * Tdot(nngp))` (Jacot et al. 2018; Lee et al. 2019).

Closed forms (derived below, written the way neural-tangents 0.6.5 evaluates them so that rounding
agrees):

* `relu` (arc-cosine kernel of degree 1, Cho & Saul 2009). With `theta = arccos(c / sqrt(q1 q2))`,
  `T = sqrt(q1 q2) (sin theta + (pi - theta) cos theta) / (2 pi)` and `Tdot = (pi - theta) / (2 pi)`.
  Writing `s = sqrt(q1 q2 - c^2) = sqrt(q1 q2) sin theta` gives `theta = atan2(s, c)` and
  `T = s / (2 pi) + Tdot * c`, which needs no division and stays accurate as `theta -> 0`.
* `erf` (Williams 1997): `T = (2/pi) arcsin(2c / sqrt((1 + 2 q1)(1 + 2 q2)))`,
  `Tdot = (4/pi) / sqrt((1 + 2 q1)(1 + 2 q2) - 4 c^2)`; with `r = sqrt((1+2q1)(1+2q2) - 4c^2) > 0`,
  `arcsin(2c / sqrt(r^2 + 4c^2)) = atan2(2c, r)`.
* `gelu` (`x Phi(x)`, Tsuchida, Pearce & Gallagher 2021). With `P = q1 q2`, `P1 = (1 + q1)(1 + q2)`,
  `delta = sqrt(P1 - c^2)` and `a = atan2(c, delta)`:
  `T = c / 4 + (c a + (c^2 + P delta^2) / (P1 delta)) / (2 pi)`,
  `Tdot = 1/4 + a / (2 pi) + c / (2 pi delta) (1 / delta^2 + (1 - P) / P1 + 1)`.
* `identity`: `T = c`, `Tdot = 1`.

`tanh` and `sigmoid` (and every activation, for checking the closed forms) go through
two-dimensional quadrature. Writing `u = sqrt(q1) z1`, `v = sqrt(q2) (rho z1 + sqrt(1 - rho^2) z2)`
with `rho = c / sqrt(q1 q2)` and `z1, z2` independent standard normals,

    E[f(u) g(v)] ~= sum_{i,j} w_i w_j f(sqrt(q1) x_i) g(sqrt(q2) (rho x_i + sqrt(1 - rho^2) x_j)),

with `(x_i, w_i)` a rule for the standard normal:

* `gauss_hermite`: the `degree`-point Gauss-Hermite rule, exact for polynomials of degree
  < 2 * degree. Its error is set by how well a polynomial follows `phi(sigma z)`, and a saturating
  activation at `sigma > 1` is nearly a step: measured against a 400-point reference, tanh at
  variance 2.5 is off by 1e-5 with 96 points and by 2e-3 at variance 6.
* `trapezoid` (the default): `degree` equally spaced nodes on `[-9, 9]` with weights
  proportional to the normal density. For an integrand analytic in a strip `|Im z| < a` the error
  falls like `exp(-2 pi a / h)` with spacing `h`, whatever the polynomial degree (Trefethen &
  Weideman 2014); at 96 points the same checks give 1e-10 and 2e-5, and sigmoid and gelu reach
  1e-13 up to variance 6 (tests/test_activations.py measures these).

References:
    Cho & Saul, "Kernel Methods for Deep Learning", NeurIPS 2009.
    Tsuchida, Pearce & Gallagher, "Avoiding Kernel Fixed Points: Computing with ELU and GELU
        Infinite Networks", AAAI 2021.
    Trefethen & Weideman, "The Exponentially Convergent Trapezoidal Rule", SIAM Review 2014.
    Williams, "Computing with Infinite Networks", NeurIPS 1997.
    Novak et al., "Neural Tangents: Fast and Easy Infinite Neural Networks in Python", ICLR 2020.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

CLOSED_FORM = ("relu", "erf", "gelu", "identity")
QUADRATURE_RULES = ("trapezoid", "gauss_hermite")
DEFAULT_QUADRATURE_RULE = "trapezoid"
DEFAULT_QUADRATURE_DEGREE = 96
MAX_QUADRATURE_DEGREE = 256

# --- Arctangent ------------------------------------------------------------------------------------
# XLA's float64 atan2 on the CPU costs ~11 ns an element and dominated the MLP recursion. This
# branch-free version costs one division: for t = m / big in [0, 1], pick the nearest of
# tan(k pi / 12), k = 0..3 (compare m against tan((2k+1) pi / 24) big, no division), reduce with
# atan(t) = k pi / 12 + atan(x), x = (m - T big) / (big + T m), |x| <= tan(pi / 24) = 0.1317, and
# sum the Taylor series of atan(x) to x^19 (the first omitted term is below 2e-19 |x|). Tests check
# `angle` and `_atan2_signed` against numpy's atan2 to 2 ulp over 40 orders of magnitude.
_TAN = tuple(float(np.tan(k * np.pi / 12)) for k in range(4))
_BOUNDS = tuple(float(np.tan((2 * k + 1) * np.pi / 24)) for k in range(3))
_OFFSET = tuple(k * np.pi / 12 for k in range(4))
_TAYLOR = tuple((-1) ** k / (2 * k + 1) for k in range(10))


def _atan_reduced(m, big):
    """`arctan(m / big)` for `0 <= m <= big`, one division; `big = 0` gives 0."""
    k1, k2, k3 = (m > b * big for b in _BOUNDS)
    tan_k = jnp.where(k3, _TAN[3], jnp.where(k2, _TAN[2], jnp.where(k1, _TAN[1], 0.0)))
    offset = jnp.where(k3, _OFFSET[3], jnp.where(k2, _OFFSET[2], jnp.where(k1, _OFFSET[1], 0.0)))
    den = big + tan_k * m
    x = (m - tan_k * big) / jnp.where(den > 0, den, 1.0)
    z = x * x
    series = _TAYLOR[-1]
    for coefficient in _TAYLOR[-2::-1]:
        series = series * z + coefficient
    return offset + x * series


def angle(s, c):
    """`atan2(s, c)` for `s >= 0`, in `[0, pi]`; `pi / 2` where `s = c = 0` (neural-tangents'
    convention for a zero-norm input)."""
    a = jnp.abs(c)
    theta = _atan_reduced(jnp.minimum(s, a), jnp.maximum(s, a))
    theta = jnp.where(s > a, np.pi / 2 - theta, theta)  # atan(t) = pi/2 - atan(1/t)
    theta = jnp.where(c < 0, np.pi - theta, theta)
    return jnp.where((s == 0) & (c == 0), np.pi / 2, theta)


def _atan2_signed(y, x):
    """`atan2(y, x)` for `x > 0`, in `(-pi/2, pi/2)`."""
    a = jnp.abs(y)
    theta = _atan_reduced(jnp.minimum(a, x), jnp.maximum(a, x))
    theta = jnp.where(a > x, np.pi / 2 - theta, theta)
    return jnp.sign(y) * theta


# --- Activations and their derivatives ------------------------------------------------------------
_SQRT_2PI = float(np.sqrt(2 * np.pi))


def _phi(fn: str):
    """`(phi, phi')` as jnp functions."""
    if fn == "relu":
        return (lambda x: jnp.maximum(x, 0.0)), (lambda x: (x > 0).astype(x.dtype))
    if fn == "erf":
        return jax.scipy.special.erf, (lambda x: (2 / np.sqrt(np.pi)) * jnp.exp(-x * x))
    if fn == "tanh":
        return jnp.tanh, (lambda x: 1.0 - jnp.tanh(x) ** 2)
    if fn == "sigmoid":
        return jax.nn.sigmoid, (lambda x: jax.nn.sigmoid(x) * (1.0 - jax.nn.sigmoid(x)))
    if fn == "gelu":  # exact (erf) gelu: x Phi(x); derivative Phi(x) + x N(x)
        cdf = lambda x: 0.5 * (1.0 + jax.scipy.special.erf(x / np.sqrt(2.0)))  # noqa: E731
        return (lambda x: x * cdf(x)), (lambda x: cdf(x) + x * jnp.exp(-0.5 * x * x) / _SQRT_2PI)
    if fn == "identity":
        return (lambda x: x), (lambda x: jnp.ones_like(x))
    raise ValueError(f"Unknown activation {fn!r}.")


def activation_fn(fn: str):
    """The activation `phi` itself, for finite networks."""
    return _phi(fn)[0]


@functools.lru_cache(maxsize=None)
def quadrature_rule(rule: str, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) of a `degree`-point rule for `E[f(z)]`, `z ~ N(0, 1)`."""
    # numpy's hermegauss overflows to NaN weights between 350 and 400 points.
    most = MAX_QUADRATURE_DEGREE if rule == "gauss_hermite" else 4 * MAX_QUADRATURE_DEGREE
    if isinstance(degree, bool) or not isinstance(degree, int) or not 2 <= degree <= most:
        raise ValueError(f"The {rule} quadrature degree must be a whole number from 2 to {most}, "
                         f"got {degree!r}.")
    if rule == "gauss_hermite":
        nodes, weights = np.polynomial.hermite_e.hermegauss(degree)
    elif rule == "trapezoid":
        # [-9, 9]: the normal density there is 2.6e-18, below float64 resolution of the sum.
        nodes = np.linspace(-9.0, 9.0, degree)
        weights = np.exp(-0.5 * nodes * nodes)
    else:
        raise ValueError(f"Unknown quadrature rule {rule!r}; use one of {', '.join(QUADRATURE_RULES)}.")
    return nodes, weights / weights.sum()


# --- Dual kernels -----------------------------------------------------------------------------------


def dual(fn: str, c, q1, q2, *, degree: int = DEFAULT_QUADRATURE_DEGREE,
         rule: str = DEFAULT_QUADRATURE_RULE, quadrature: bool = False, identical=False):
    """`(T(c, q1, q2), Tdot(c, q1, q2))` elementwise; `q1`, `q2` broadcast against `c`.

    Closed form for `relu`, `erf`, `gelu`, `identity` unless `quadrature=True`; otherwise the
    two-dimensional `rule` with `degree` points per dimension. `identical` (broadcastable bool)
    marks entries that pair a pre-activation with itself, where rho = 1 exactly: the arc-cosine
    map has a square-root singularity there (`Tdot = 1/2 - theta / (2 pi)`, `theta ~ sqrt(2(1 -
    rho))`), so a one-ulp rounding gap between `c` and `sqrt(q1 q2)` would cost 1e-8 relative. The
    smooth maps (erf, gelu, quadrature) need no such help.
    """
    if quadrature or fn not in CLOSED_FORM:
        return _dual_quadrature(fn, c, q1, q2, degree, rule)
    if fn == "relu":
        # s^2 = q1 q2 - c^2, factored as (g - c)(g + c) with g = sqrt(q1 q2): no fused
        # multiply-add can leave a residue of q1 q2 - c c, and the conditioning is the same.
        g = jnp.sqrt(q1 * q2)
        s = jnp.where(identical, 0.0, jnp.sqrt(jnp.maximum((g - c) * (g + c), 0.0)))
        tdot = 0.5 - angle(s, c) / (2 * np.pi)
        return s / (2 * np.pi) + tdot * c, tdot
    if fn == "erf":
        r = jnp.sqrt(jnp.maximum((1 + 2 * q1) * (1 + 2 * q2) - 4 * c * c, 0.0))
        return (2 / np.pi) * _atan2_signed(2 * c, r), (4 / np.pi) / r
    if fn == "gelu":
        prod, prod1 = q1 * q2, (1 + q1) * (1 + q2)
        delta2 = prod1 - c * c  # >= 1 + q1 + q2 > 0: no cancellation to guard
        delta = jnp.sqrt(delta2)
        a = _atan2_signed(c, delta)
        t = 0.25 * c + (c * a + (c * c + prod * delta2) / (prod1 * delta)) / (2 * np.pi)
        tdot = 0.25 + a / (2 * np.pi) + c / (2 * np.pi * delta) * (1 / delta2 + (1 - prod) / prod1 + 1)
        return t, tdot
    return c, jnp.ones_like(c)  # identity


def dual_variance(fn: str, q, *, degree: int = DEFAULT_QUADRATURE_DEGREE,
                  rule: str = DEFAULT_QUADRATURE_RULE, quadrature: bool = False):
    """`T(q, q, q) = E[phi(u)^2]`, `u ~ N(0, q)`: the variance after the activation."""
    if quadrature or fn not in CLOSED_FORM:
        nodes, weights = map(jnp.asarray, quadrature_rule(rule, degree))
        phi, _ = _phi(fn)
        sigma = jnp.sqrt(jnp.maximum(q, 0.0))

        def body(i, acc):
            return acc + weights[i] * phi(sigma * nodes[i]) ** 2

        return lax.fori_loop(0, degree, body, jnp.zeros_like(q))
    if fn == "relu":
        return 0.5 * q
    if fn == "erf":  # (2/pi) arcsin(2q / (1 + 2q)) = (2/pi) atan2(q, sqrt(q + 1/4))
        return (2 / np.pi) * _atan2_signed(q, jnp.sqrt(q + 0.25))
    if fn == "gelu":  # the formula above at c = q1 = q2 = q, delta = sqrt(1 + 2q)
        root = jnp.sqrt(1 + 2 * q)
        return q * (0.25 + (q / ((q + 1) * root) + 0.5 * _atan2_signed(q, root)) / np.pi)
    return q


def _dual_quadrature(fn: str, c, q1, q2, degree: int, rule: str):
    """Two-dimensional quadrature of `E[phi(u) phi(v)]` and `E[phi'(u) phi'(v)]`.

    Loops over the `degree**2` node pairs with only the two accumulators live, so memory stays at a
    few arrays the size of `c` whatever the degree.
    """
    nodes, weights = map(jnp.asarray, quadrature_rule(rule, degree))
    phi, dphi = _phi(fn)
    shape = jnp.broadcast_shapes(jnp.shape(c), jnp.shape(q1), jnp.shape(q2))
    c = jnp.broadcast_to(c, shape)
    sigma1 = jnp.broadcast_to(jnp.sqrt(jnp.maximum(q1, 0.0)), shape)
    sigma2 = jnp.broadcast_to(jnp.sqrt(jnp.maximum(q2, 0.0)), shape)
    scale = sigma1 * sigma2
    # clip: rounding can push |rho| past 1 and sqrt(1 - rho^2) would be NaN.
    rho = jnp.clip(c / jnp.where(scale > 0, scale, 1.0), -1.0, 1.0)
    rho = jnp.where(scale > 0, rho, 0.0)
    rho_perp = jnp.sqrt(1.0 - rho * rho)

    def outer(i, acc):
        u = sigma1 * nodes[i]
        f_u, df_u = weights[i] * phi(u), weights[i] * dphi(u)
        mean_v = sigma2 * rho * nodes[i]
        spread_v = sigma2 * rho_perp

        def inner(j, acc):
            v = mean_v + spread_v * nodes[j]
            return acc[0] + weights[j] * f_u * phi(v), acc[1] + weights[j] * df_u * dphi(v)

        return lax.fori_loop(0, degree, inner, acc)

    zeros = jnp.zeros(shape, c.dtype)
    return lax.fori_loop(0, degree, outer, (zeros, zeros))
