"""Kernel (ridge) regression's learning curve predicted from the kernel's spectrum: eigenlearning.

For a kernel with eigenvalues `lam_i >= 0` (entry `i` repeated `m_i` times) under the input
distribution taken as a probability measure, ridge `delta >= 0` added to the Gram matrix and `n`
i.i.d. training samples, the theory of Bordelon, Canatar & Pehlevan (2020) and Simon et al. (2023)
finds the effective regularisation `kappa > 0` from

    sum_i m_i lam_i / (lam_i + kappa) + delta / kappa = n,                              (1)

and with it the learnability of each eigenmode, the overfitting factor and the test and train MSE:

    L_i = lam_i / (lam_i + kappa),          E_0 = n / (n - sum_i m_i L_i^2),
    test MSE  = E_0 (sum_i (1 - L_i)^2 v_i^2 + eps^2),
    train MSE = (delta / (n kappa))^2 test MSE.

`v_i^2` is the target's squared coefficient mass on entry `i` (summed over its `m_i` modes) and
`eps^2` the label-noise variance. The test MSE is measured against noisy test labels
`y = f*(x) + noise`, as in Simon et al.; the error against the clean target `f*` is
`test MSE - eps^2`. Learnabilities are the fraction of each eigenmode the predictor learns on
average (`E f_hat = sum_i L_i v_i phi_i`), and at `delta = 0` they sum to `n` exactly: the
conservation law that `tests/test_eigenlearning.py` checks. The train MSE formula is checked
there against simulations with Gaussian features, the setting the theory is derived in.

Numerics. The left side of (1) falls monotonically in `t = log kappa` from `rank` (the number of
modes with `lam_i > 0`) plus `delta / kappa` down to 0, so it has one root when `delta > 0` or
`n < rank`. We solve `g(t) = log(sum_i m_i s(log lam_i - t) + delta e^-t) - log n = 0` (`s` the
logistic sigmoid) by Newton's method safeguarded by bisection inside a bracket known in closed form
(`s(a) <= e^a` and `s(a) >= 1 - e^-a`). Working in logs makes every quantity finite for spectra
from 1e-300 to 1e300, and `g` is nearly linear in `t` far from the root (`delta e^-t` or
`e^-t trace` dominates there), where Newton is nearly exact. Cancellation is avoided everywhere:
`1 - L_i = s(t - log lam_i)` and, at the root, `n - sum m_i L_i^2 = sum m_i L_i (1 - L_i) + delta /
kappa`. The sums over modes are taken bin by bin in `log lam` by Taylor series exact to rounding
(notes at the solver below), so a Newton step costs O(bins) whatever the number of modes: a million
distinct eigenvalues at 50 sizes take ~0.3 s, most of it binning them once (bench/theory.py).

The interpolation limit. At `delta = 0` and `n >= rank` equation (1) has no positive root: this
module returns `kappa = 0` (the limit `delta -> 0+`), where every mode with `lam_i > 0` is learned
(`L_i = 1`, modes with `lam_i = 0` never are), `delta / kappa -> n - rank`, and `E_0 = n / (n -
rank)`, infinite at `n = rank`: the interpolation (double-descent) peak of ridgeless regression.
There `test MSE = inf` unless the target has no mass on unlearnable modes and no noise, where it is
0 (the limit of `E_0 x 0` as `n -> rank` from either side). Beyond it, with noise, the test MSE
falls as `n / (n - rank) eps^2` and the train MSE is `(1 - rank / n) eps^2` (least squares with
`rank` parameters), both the `delta -> 0+` limits of the formulas above.

References:
    Bordelon, Canatar & Pehlevan, "Spectrum Dependent Learning Curves in Kernel Regression and Wide
        Neural Networks", ICML 2020, arXiv:2002.02561.
    Canatar, Bordelon & Pehlevan, "Spectral bias and task-model alignment explain generalization in
        kernel regression and infinitely wide neural networks", Nature Communications 12, 2021.
    Simon, Dickens, Karkada & DeWeese, "The Eigenlearning Framework: A Conservation Law Perspective
        on Kernel Regression and Wide Neural Networks", TMLR 2023, arXiv:2110.03922.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

MAX_ITERATIONS = 200
"""Newton-bisection steps at most; a bracket of width 1400 in `log kappa` (1e-300 to 1e300) is
halved to float64 resolution in ~60 bisections, and Newton usually needs fewer than 10."""


@dataclasses.dataclass(frozen=True)
class TheoryCurve:
    """The eigenlearning prediction at each size and ridge (`predict`). Every array has the
    broadcast shape of `sizes` and `ridge`; float64.

    `kappa` is the effective regularisation (0 in the interpolation limit, see the module
    docstring) and `log_kappa` its logarithm (`-inf` there), which keeps full precision where
    `kappa` itself would underflow; `learned = sum_i m_i L_i` (equal to `n` at ridge 0 below the
    interpolation limit) and `ridge_ratio = delta / kappa = n - learned`; `e0` the overfitting
    factor; `test_mse` against noisy labels (`test_mse - noise` against the clean target) and
    `train_mse`; `rank` the number of modes with `lam > 0`.
    """

    sizes: np.ndarray
    ridge: np.ndarray
    kappa: np.ndarray
    log_kappa: np.ndarray
    learned: np.ndarray
    ridge_ratio: np.ndarray
    e0: np.ndarray
    test_mse: np.ndarray
    train_mse: np.ndarray
    noise: float
    rank: float


# --- Validation ----------------------------------------------------------------------------------


def _spectrum(eigenvalues, multiplicity, target_power=None):
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lam.ndim != 1:
        raise ValueError(f"eigenvalues must be a 1-D array, got shape {lam.shape}.")
    if not np.all(np.isfinite(lam)):
        raise ValueError("eigenvalues must be finite numbers; found NaN or infinity.")
    if np.any(lam < 0):
        raise ValueError(f"eigenvalues must be >= 0, found {lam.min():.3g}. A spectrum computed "
                         "in floating point has rounding noise around its zeros: set entries below "
                         "a tolerance to 0 first (clip_rounding).")
    if multiplicity is None:
        m = np.ones_like(lam)
    else:
        m = np.asarray(multiplicity, dtype=np.float64)
        if m.shape != lam.shape:
            raise ValueError(f"multiplicity must have the shape of eigenvalues {lam.shape}, got "
                             f"{m.shape}.")
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError("multiplicity must hold finite numbers >= 0.")
    if target_power is None:
        v2 = np.zeros_like(lam)
    else:
        v2 = np.asarray(target_power, dtype=np.float64)
        if v2.shape != lam.shape:
            raise ValueError(f"target_power (the target's squared coefficient mass on each entry) "
                             f"must have the shape of eigenvalues {lam.shape}, got {v2.shape}.")
        if not np.all(np.isfinite(v2)) or np.any(v2 < 0):
            raise ValueError("target_power must hold finite numbers >= 0 (squared coefficients).")
    return lam, m, v2


def _sizes_and_ridge(sizes, ridge):
    n = np.asarray(sizes, dtype=np.float64)
    delta = np.asarray(ridge, dtype=np.float64)
    if not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ValueError("sizes (numbers of training samples n) must be finite and > 0.")
    if not np.all(np.isfinite(delta)) or np.any(delta < 0):
        raise ValueError("The ridge must be a finite number >= 0.")
    shape = np.broadcast_shapes(n.shape, delta.shape)
    return np.broadcast_to(n, shape), np.broadcast_to(delta, shape)


def clip_rounding(eigenvalues, rtol: float = 1e-12) -> np.ndarray:
    """A copy of `eigenvalues` with entries of magnitude at most `rtol` times the largest set to 0.

    Spectra computed in float64 (a Walsh–Hadamard transform of one kernel row) carry rounding
    noise of either sign, ~1e-16 of the largest eigenvalue, where the exact value is 0; the theory
    needs `lam >= 0`, and kernel regression in float64 cannot resolve modes that small anyway.

    >>> clip_rounding([1.0, 1e-17, -2e-17, 1e-3]).tolist()
    [1.0, 0.0, 0.0, 0.001]
    """
    lam = np.array(eigenvalues, dtype=np.float64)
    scale = float(np.max(np.abs(lam))) if lam.size else 0.0
    lam[np.abs(lam) <= rtol * scale] = 0.0
    return lam


# --- The solver ----------------------------------------------------------------------------------
#
# Every sum the theory needs is `sum_i w_i phi(log lam_i - t)` for three functions of `y = a - t`:
# the learnability `sigma(y) = 1 / (1 + e^-y)`, its derivative `u = sigma (1 - sigma)` (for Newton
# and E_0) and the missed fraction squared `q^2 = (1 - sigma)^2` (for the test error). All three are
# analytic in the strip |Im y| < pi. The modes are binned by `a = log lam` into bins of width
# BIN_WIDTH and each bin is replaced by its moments `mu_k = sum_i w_i (a_i - c)^k / k!` about its
# centre `c`; then `sum_bin w phi(a - t) = sum_k phi^(k)(c - t) mu_k`, a Taylor series whose terms
# fall like `(BIN_WIDTH / 2 / pi)^k`: TAYLOR_ORDER terms are exact to rounding. A million
# eigenvalues spread over 1e-10..1 fill ~100 bins, so each Newton step costs O(bins), not O(modes).
#
# The derivatives are kept in forms that stay accurate in relative terms far in the tails, where the
# answer can be a tiny number (the error of a well-learned target): with `p = sigma(y)`,
# `q = sigma(-y)`, `u = p q` and `s = q - p` (all computed from one `e^-|y|`, none as 1 minus
# another),
#
#     sigma^(k) = u (A_k(u) + s B_k(u))   (k >= 1),      (q^2)^(k) = q^2 (E_k(u) + s F_k(u)),
#
# with polynomials from `u' = u s`, `s' = -2 u`, `s^2 = 1 - 4 u`:
#
#     A_1 = 1, B_1 = 0;   A_{k+1} = (1 - 6u) B_k + u (1 - 4u) B_k',   B_{k+1} = A_k + u A_k';
#     E_0 = 1, F_0 = 0;   E_{k+1} = -E_k + (1 - 6u) F_k + u (1 - 4u) F_k',
#                         F_{k+1} = E_k - F_k + u E_k'.
#
# As `u -> 0` the brackets tend to +-1 (sigma) and (-2)^k (q^2, at y -> +inf), so nothing cancels.

BIN_WIDTH = 0.5
"""Width of the bins in `log lam` whose members are summed by a Taylor series about the centre."""
TAYLOR_ORDER = 16
"""Terms kept: the remainder is below `(BIN_WIDTH / 2 / 2.5)^17 ~ 1e-17` of a bin's weight."""
EXACT_BELOW = 4096
"""Spectra with at most this many distinct live entries are summed term by term instead."""


def _polynomials(order: int):
    """`(A, B, E, F)`: lists of coefficient arrays (lowest degree first) of the brackets above,
    `A[k], B[k]` for `sigma^(k)` (`k = 1 .. order + 1`, index 0 unused) and `E[k], F[k]` for
    `(q^2)^(k)` (`k = 0 .. order`)."""
    from numpy.polynomial import polynomial as P

    def der(c):
        return P.polyder(c) if len(c) > 1 else np.zeros(1)

    def step_a(a, b):
        return (P.polyadd(P.polymul([1.0, -6.0], b), P.polymul([0.0, 1.0, -4.0], der(b))),
                P.polyadd(a, P.polymul([0.0, 1.0], der(a))))

    def step_e(e, f):
        return (P.polyadd(P.polyadd(-e, P.polymul([1.0, -6.0], f)),
                          P.polymul([0.0, 1.0, -4.0], der(f))),
                P.polyadd(P.polysub(e, f), P.polymul([0.0, 1.0], der(e))))

    a, b = [np.zeros(1), np.ones(1)], [np.zeros(1), np.zeros(1)]
    for _ in range(order):
        na, nb = step_a(a[-1], b[-1])
        a.append(na)
        b.append(nb)
    e, f = [np.ones(1)], [np.zeros(1)]
    for _ in range(order):
        ne, nf = step_e(e[-1], f[-1])
        e.append(ne)
        f.append(nf)
    return a, b, e, f


_POLY = _polynomials(TAYLOR_ORDER)


def _horner(coefficients: np.ndarray, u: np.ndarray) -> np.ndarray:
    out = np.full_like(u, coefficients[-1])
    for c in coefficients[-2::-1]:
        out *= u
        out += c
    return out


@dataclasses.dataclass(frozen=True)
class _Nodes:
    """Bin centres `c` (log eigenvalues) and scaled moments `mu[k, j] = sum w (a - c_j)^k / k!` of
    the multiplicities (`mu`) and of the target power (`nu`); `order` Taylor terms beyond the 0th
    (0 when every node is an entry itself)."""
    c: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    order: int


def _nodes(a: np.ndarray, m: np.ndarray, v2: np.ndarray) -> _Nodes:
    if len(a) <= EXACT_BELOW:
        return _Nodes(a, m[None, :], v2[None, :], 0)
    index = np.floor(a / BIN_WIDTH)
    low = index.min()
    index = (index - low).astype(np.int64)
    used, index = np.unique(index, return_inverse=True)
    c = (used + low + 0.5) * BIN_WIDTH
    delta = a - c[index]
    count = len(used)
    mu = np.empty((TAYLOR_ORDER + 1, count))
    nu = np.empty((TAYLOR_ORDER + 1, count))
    has_target = bool(np.any(v2))
    wm, wv = m.copy(), v2.copy()
    for k in range(TAYLOR_ORDER + 1):
        if k:
            wm *= delta / k
            if has_target:
                wv *= delta / k
        mu[k] = np.bincount(index, weights=wm, minlength=count)
        nu[k] = np.bincount(index, weights=wv, minlength=count) if has_target else 0.0
    return _Nodes(c, mu, nu, TAYLOR_ORDER)


def _parts(y: np.ndarray):
    """`(p, q, u, s)` at `y`, each to full relative precision (see the notes above)."""
    e = np.exp(-np.abs(y))
    inv = 1.0 / (1.0 + e)
    positive = y >= 0
    small = e * inv
    p = np.where(positive, inv, small)
    q = np.where(positive, small, inv)
    u = small * inv
    tanh = (1.0 - e) * inv
    s = np.where(positive, -tanh, tanh)
    return p, q, u, s


def _sums(nodes: _Nodes, t: np.ndarray, *, missed: bool = False):
    """`(F, D[, G])` for every `t` (shape (N,)): `F = sum m sigma(a - t)`,
    `D = sum m sigma'(a - t)` and `G = sum v^2 (1 - sigma(a - t))^2`."""
    y = nodes.c[None, :] - t[:, None]
    with np.errstate(over="ignore", under="ignore"):
        p, q, u, s = _parts(y)
    a_poly, b_poly, e_poly, f_poly = _POLY
    f = p @ nodes.mu[0]
    d = u @ nodes.mu[0]
    for k in range(1, nodes.order + 1):
        d += (u * (_horner(a_poly[k + 1], u) + s * _horner(b_poly[k + 1], u))) @ nodes.mu[k]
        f += (u * (_horner(a_poly[k], u) + s * _horner(b_poly[k], u))) @ nodes.mu[k]
    if not missed:
        return f, d
    q2 = q * q
    g = q2 @ nodes.nu[0]
    for k in range(1, nodes.order + 1):
        g += (q2 * (_horner(e_poly[k], u) + s * _horner(f_poly[k], u))) @ nodes.nu[k]
    return f, d, g


def _logsumexp(x: np.ndarray) -> float:
    if not x.size:
        return -math.inf
    top = float(x.max())
    return top + math.log(float(np.sum(np.exp(x - top))))


def _newton(nodes: _Nodes, n, log_delta, t_lo, t_hi) -> np.ndarray:
    """Safeguarded Newton on `g(t) = log(F(t) + delta e^-t) - log n` from `t_hi`, every problem
    at once (only the unfinished ones are evaluated). Returns `t` (N,)."""
    t, lo, hi = t_hi.copy(), t_lo.copy(), t_hi.copy()
    log_n = np.log(n)
    active = np.arange(len(t))
    for _ in range(MAX_ITERATIONS):
        if not len(active):
            break
        ta = t[active]
        f, d = _sums(nodes, ta)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            r = np.exp(log_delta[active] - ta)  # delta = 0: log_delta = -inf, r = 0
            g = np.log(f + r) - log_n[active]
            # The left side falls in t: above n, the root lies to the right.
            lo[active] = np.where(g > 0, ta, lo[active])
            hi[active] = np.where(g <= 0, ta, hi[active])
            step = ta + g * (f + r) / (d + r)
        la, ha = lo[active], hi[active]
        inside = np.isfinite(step) & (step > la) & (step < ha)
        step = np.where(inside, step, 0.5 * (la + ha))
        resolution = 4e-16 * np.maximum(1.0, np.abs(ta))
        done = (np.abs(g) <= 2e-16) | (ha - la <= resolution) | (np.abs(step - ta) <= resolution)
        t[active] = np.where(done, ta, step)
        active = active[~done]
    return t


def _solve(lam, m, v2, n, delta):
    """`(t, learned, spread, missed, rank, solvable)` flat over problems: `t = log kappa` (`-inf`
    in the interpolation limit), `learned = sum m L`, `spread = sum m L (1 - L)`,
    `missed = sum v^2 (1 - L)^2` (their limits there)."""
    live = (lam > 0) & (m > 0)
    a, mm, vv = np.log(lam[live]), m[live], v2[live]
    rank = float(mm.sum())
    null_power = float(v2[~live].sum())
    nodes = _nodes(a, mm, vv)

    log_m = np.log(mm)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_delta = np.log(delta)
        log_n = np.log(n)
        # Upper bracket: sigma(a - t) <= e^(a - t), so the left side is <= e^-t (trace + delta),
        # which is n at t_hi.
        t_hi = np.logaddexp(_logsumexp(a + log_m), log_delta) - log_n
        # Lower bracket: delta e^-t >= n, or sigma(a - t) >= 1 - e^(t - a), so the left side is
        # >= rank - e^t sum m / lam, which is n at `gap`.
        gap = np.where(rank > n, np.log(np.maximum(rank - n, 0.0)) - _logsumexp(log_m - a),
                       -np.inf)
        t_lo = np.minimum(np.maximum(log_delta - log_n, gap), t_hi)
    solvable = (delta > 0) | (n < rank)

    t = np.full(len(n), -np.inf)
    learned, spread = np.full(len(n), rank), np.zeros(len(n))
    missed = np.full(len(n), null_power)
    if np.any(solvable):
        ts = _newton(nodes, n[solvable], log_delta[solvable], t_lo[solvable], t_hi[solvable])
        t[solvable] = ts
        learned[solvable], spread[solvable], g = _sums(nodes, ts, missed=True)
        missed[solvable] += g
    return t, learned, spread, missed, rank, solvable


# --- Public API ----------------------------------------------------------------------------------


def solve_kappa(eigenvalues, sizes, *, ridge=0.0, multiplicity=None) -> np.ndarray:
    """The effective regularisation `kappa` solving `sum_i m_i lam_i / (lam_i + kappa) + ridge /
    kappa = n` for every `n` in `sizes` (broadcast against `ridge`); 0 where `ridge = 0` and
    `n >= rank` (no positive root: the interpolation limit, see the module docstring). `kappa`
    below ~1e-308 underflows: use `predict(...).log_kappa` for spectra that small.

    >>> round(float(solve_kappa([1.0] * 4, 2)), 12)   # 4 / (1 + kappa) = 2
    1.0
    """
    return predict(eigenvalues, sizes, ridge=ridge, multiplicity=multiplicity).kappa


def learnability(eigenvalues, kappa=None, *, log_kappa=None) -> np.ndarray:
    """`L = lam / (lam + kappa)` for every eigenvalue (last axis) at every `kappa` (leading axes):
    shape `kappa.shape + (len(eigenvalues),)`. Give `log_kappa` instead of `kappa` to keep precision
    where `kappa` underflows; `kappa = 0` (`log_kappa = -inf`) learns every `lam > 0` fully and
    `lam = 0` not at all.

    >>> learnability([3.0, 1.0, 0.0], 1.0).tolist()
    [0.75, 0.5, 0.0]
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if (kappa is None) == (log_kappa is None):
        raise ValueError("Give exactly one of kappa and log_kappa.")
    if log_kappa is None:
        with np.errstate(divide="ignore"):
            log_kappa = np.log(np.asarray(kappa, dtype=np.float64))
    t = np.asarray(log_kappa, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        x = np.log(lam) - t  # lam = 0: -inf (L = 0); kappa = 0: +inf (L = 1); both: NaN
        e = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return np.where(lam > 0, np.where(np.isnan(x), 1.0, out), 0.0)


def predict(eigenvalues, sizes, *, ridge=0.0, multiplicity=None, target_power=None,
            noise: float = 0.0) -> TheoryCurve:
    """Eigenlearning's prediction of kernel ridge regression at every size `n` and ridge.

        sum_i m_i lam_i / (lam_i + kappa) + ridge / kappa = n,   L_i = lam_i / (lam_i + kappa),
        E_0 = n / (n - sum_i m_i L_i^2),
        test MSE = E_0 (sum_i (1 - L_i)^2 v_i^2 + noise),
        train MSE = (ridge / (n kappa))^2 test MSE.

    Args:
        eigenvalues: `lam_i >= 0`, shape `(M,)`, of the kernel's integral operator under the input
            distribution (a probability measure), any order and dynamic range (1e-300 to 1e300).
            Negative entries raise `ValueError` (clip rounding noise first: `clip_rounding`).
        sizes: numbers of training samples `n > 0`, any shape (need not be whole).
        ridge: `delta >= 0` added to the Gram matrix `K(X, X)` (not to `K / n`), broadcast against
            `sizes`.
        multiplicity: `m_i >= 0`, how many modes share eigenvalue `lam_i` (default 1 each).
        target_power: `v_i^2`, the target's squared coefficient mass on entry `i`, summed over its
            `m_i` modes (default 0: the test MSE is then the noise term alone).
        noise: label-noise variance `eps^2 >= 0`, on training and test labels.

    Returns:
        `TheoryCurve`, arrays shaped like `broadcast(sizes, ridge)`.

    Example:
        >>> curve = predict([1.0, 0.5, 0.25, 0.0], [1, 2, 3, 4], target_power=[0, 0, 0.5, 0.5])
        >>> np.round(curve.learned, 12).tolist(), curve.rank
        ([1.0, 2.0, 3.0, 3.0], 3.0)
        >>> float(curve.test_mse[3]), float(curve.e0[3])   # 4 samples, 3 modes: E_0 = 4 / (4 - 3)
        (2.0, 4.0)

    References: Simon et al. 2023 (the eigenlearning equations, train MSE included); Bordelon
    et al. 2020 (module docstring).
    """
    lam, m, v2 = _spectrum(eigenvalues, multiplicity, target_power)
    n, delta = _sizes_and_ridge(sizes, ridge)
    if not (isinstance(noise, (int, float, np.floating)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise is the label-noise variance and must be a number >= 0, got "
                         f"{noise!r}.")
    shape = n.shape
    t, learned, spread, missed, rank, solvable = _solve(lam, m, v2, n.ravel().copy(),
                                                        delta.ravel().copy())
    n, delta = n.ravel(), delta.ravel()
    # delta / kappa without forming kappa (which can underflow); its limit n - rank where kappa = 0.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratio = np.where(delta > 0, np.exp(np.log(delta) - t),
                         np.where(solvable, 0.0, np.maximum(n - rank, 0.0)))
        denominator = spread + ratio  # = n - sum m L^2 at the root, with no cancellation
        e0 = np.where(denominator > 0, n / denominator, np.inf)
        bracket = missed + noise
        test = np.where(bracket > 0, e0 * bracket, 0.0)
        # (delta / (n kappa))^2 E_0 (...) = ratio * (ratio / denominator) * bracket / n; at
        # ratio = 0 (ridgeless, below the limit) it is 0 whatever E_0.
        share = np.where(ratio > 0, ratio / np.where(denominator > 0, denominator, 1.0), 0.0)
        train = ratio * share * bracket / n
    with np.errstate(under="ignore"):
        kappa = np.exp(t)
    out = {name: value.reshape(shape) for name, value in dict(
        kappa=kappa, log_kappa=t, learned=learned, ridge_ratio=ratio, e0=e0, test_mse=test,
        train_mse=train).items()}
    return TheoryCurve(sizes=n.reshape(shape).copy(), ridge=delta.reshape(shape).copy(),
                       noise=float(noise), rank=rank, **out)
