"""Exact eigenvalues of infinite-width kernels on the hypercube and on the sphere.

Hypercube `{-1, +1}^d`, uniform measure (Xiao 2022; Yang & Salman 2019). A kernel that depends on
its inputs only through the products `x_i y_i` (MLPs; conv/local stacks read out by `flatten`;
anything whose first pooling comes after a `local` layer) is diagonalised by the Walsh monomials
`chi_S(x) = prod_{i in S} x_i`:

    E_y[K(x, y) chi_S(y)] = lam[S] chi_S(x),      lam[S] = E_x[K(x, 1) chi_S(x)],

because `K(x, y) = g(x * y)` and `x * y` is again uniform on the cube. So one kernel row `K(x, 1)`
over all `2^d` points and a fast Walsh–Hadamard transform give all `2^d` eigenvalues in
O(d 2^d) (`hypercube_eigenvalues`). Indices are bit masks: bit `i` of `S` set means `i in S`, and
point `X` has `x_i = -1` exactly where bit `i` of `X` is set, so `chi_S(x_X) = (-1)^popcount(S & X)`
and the transform is the natural-order (Sylvester) Hadamard matrix. The eigenvalues sum to the
kernel's constant diagonal `K(x, x)` (the operator's trace). `hypercube_spectrum` groups them by
frequency `|S|` and by the spatial spread of `S` into levels (value, multiplicity, an example `S`).
Where pooling follows a weight-shared conv the kernel mixes positions, Walsh monomials are not
eigenfunctions, and `hypercube_eigensystem_dense` diagonalises the full `2^d x 2^d` matrix on small
`d`, labelling every eigenspace by the Walsh frequencies and spreads its energy sits at.

Sphere of radius `sqrt(d)` in R^d, uniform probability measure (Bietti & Bach 2021). A dot-product
kernel `K(x, y) = K(t)`, `t = x.y / d`, is diagonalised by spherical harmonics; the degree-`k`
eigenvalue (multiplicity `N(d, k)`, `harmonic_dimension`) is the Funk–Hecke integral

    mu[k] = E_t[K(t) P_k(t)],   t with density proportional to (1 - t^2)^((d - 3) / 2),

with `P_k` the Gegenbauer (Legendre in d dimensions) polynomial normalised to `P_k(1) = 1`, so that
`K(t) = sum_k mu[k] N(d, k) P_k(t)` (`sphere_eigenvalues`). Deep ReLU kernels decay like
`mu_k ~ C k^-d` (NTK) and `k^-(d+2)` (NNGP) at every depth (`predicted_exponent`,
`decay_exponent`).

References:
    Xiao, "Eigenspace Restructuring: a Principle of Space and Frequency in Neural Networks",
        COLT 2022, arXiv:2112.05611.
    Bietti & Bach, "Deep Equals Shallow for ReLU Networks in Kernel Regimes", ICLR 2021,
        arXiv:2009.14397.
    Yang & Salman, "A Fine-Grained Spectral Perspective on Neural Networks", arXiv:1907.10599, 2019
        (NTK/NNGP eigenvalues on the boolean cube from one kernel row).
    O'Donnell, "Analysis of Boolean Functions", Cambridge University Press, 2014 (Walsh basis).
    Atkinson & Han, "Spherical Harmonics and Approximations on the Unit Sphere", Springer LNM 2044,
        2012 (Funk–Hecke formula, Gegenbauer recurrence, dimension of harmonics).
    Bach, "Breaking the Curse of Dimensionality with Convex Neural Networks", JMLR 2017 (decay of
        arc-cosine kernel eigenvalues).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Callable, Optional

import jax.numpy as jnp
import numpy as np

from engine import kernels
from engine.guard import shown, whole
from engine.kernels import FULL, kernel_plan, nngp_ntk
from engine.specs import Architecture, Conv, GlobalAvgPool, parse_layers
from engine.walsh import (  # noqa: F401 (the Walsh basis, re-exported for the spectra's users)
    MAX_D, check_cube_d, hypercube_points, point_rows, walsh_frequency, walsh_hadamard,
    walsh_hadamard_inplace)

KERNELS = ("ntk", "nngp")
MAX_DENSE_D = 12
"""Largest `d` on the dense route: a 4096 x 4096 eigendecomposition."""
LEVEL_RTOL = 1e-9
"""Eigenvalues closer than this times the largest one are one level (one eigenspace)."""
SLOPE_FLOOR = 1e-13
"""`decay_exponent` ignores eigenvalues below this times the largest: they are rounding noise
(the quadrature's floor is ~1e-16 of `mu_0`) or exact zeros such as odd `k >= 3` of two-layer
kernels."""

SPREAD_TREE = "patch-tree block size"
SPREAD_SPAN = "span"
SPREAD_CYCLIC = "cyclic span"

ROUTE_WALSH = "Walsh–Hadamard transform of one kernel row"
ROUTE_DENSE = "dense eigendecomposition of the 2^d x 2^d kernel matrix"

Progress = Optional[Callable[[int, int], None]]


# --- Validation ----------------------------------------------------------------------------------


def _check_kernel(kernel) -> int:
    """Index of `kernel` in a `KernelPair` (`nngp` 0, `ntk` 1)."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be 'ntk' or 'nngp', got {shown(kernel)}.")
    return 0 if kernel == "nngp" else 1


# --- Spatial spread of a set of coordinates ------------------------------------------------------


def _tree_blocks(arch: Architecture, d: int) -> Optional[tuple]:
    """Block sizes `(1, s_1, s_1 s_2, ...)` of the patch tree when every conv/local layer has
    `stride == filter_size` (non-overlapping patches; `signal_lengths` has made sure the stride
    divides the positions, so no padding is added whatever the `padding` says), else `None`."""
    convs = [layer for layer in arch if isinstance(layer, Conv)]
    if not convs or any(layer.stride != layer.filter_size for layer in convs):
        return None
    blocks, size = [1], 1
    for layer in convs:
        size *= layer.filter_size
        if size != blocks[-1]:
            blocks.append(size)
    return tuple(b for b in blocks if b < d) or (1,)


def _first_conv(arch: Architecture) -> Optional[Conv]:
    return next((layer for layer in arch if isinstance(layer, Conv)), None)


def spread_kind(layers, d: int) -> str:
    """How `spatial_spread` measures the spread of a set `S` for this architecture:
    `"patch-tree block size"` when every conv/local layer has `stride == filter_size` (a tree of
    non-overlapping patches), `"cyclic span"` when the first conv/local layer pads circularly, and
    `"span"` otherwise (MLPs included, where the eigenvalues ignore it).

    >>> from engine.specs import mlp, tree_cnn, conv_net
    >>> spread_kind(mlp(2), 8), spread_kind(tree_cnn(8, 2), 8), spread_kind(conv_net(2, 3), 8)
    ('span', 'patch-tree block size', 'cyclic span')
    """
    arch = parse_layers(layers)
    d = check_cube_d(d)
    arch.lengths(d)
    if _tree_blocks(arch, d) is not None:
        return SPREAD_TREE
    first = _first_conv(arch)
    return SPREAD_CYCLIC if first is not None and first.padding == "circular" else SPREAD_SPAN


def _highest_bit(masks: np.ndarray) -> np.ndarray:
    """`floor(log2(S))` for `S >= 1` (`-1` for 0); float32 is exact below 2^24."""
    return np.frexp(masks.astype(np.float32))[1] - 1


def _linear_span(masks: np.ndarray) -> np.ndarray:
    """`max(S) - min(S)` (0 for the empty set and single coordinates)."""
    return _highest_bit(masks) - _highest_bit(masks & -masks)


def spatial_spread(layers, d: int) -> np.ndarray:
    """The spatial spread of every set `S = 0 .. 2^d - 1` (bit masks), `int8` (see `spread_kind`):

    * patch tree (every conv/local layer has `stride == filter_size`; Xiao 2022's hierarchical
      networks): level `l` of the tree cuts the input into consecutive blocks of
      `b_l = s_1 s_2 ... s_l` coordinates (`b_0 = 1`); the spread is the size `b_l` of the smallest
      block that contains all of `S`, and `d` when no block short of the whole input does (the
      readout joins everything). So a single coordinate has spread 1.
    * `span` (MLPs, overlapping convs): `max(S) - min(S)`, the distance between the outermost
      coordinates; a single coordinate has span 0.
    * `cyclic span` (the first conv/local layer pads circularly, so position 0 neighbours d - 1):
      the shortest arc of the cycle `0, 1, .., d - 1` that contains `S`, measured like the span:
      `d - G` with `G` the largest gap `s_{j+1} - s_j` between cyclically consecutive elements
      (the wrap-around gap is `s_1 + d - s_m`). It equals the smallest linear span over all cyclic
      shifts of `S`, so it is invariant under them; a single coordinate has cyclic span 0.

    The empty set has spread 0 in every case.

    >>> from engine.specs import mlp, tree_cnn, conv_net
    >>> S = [0b0000, 0b0001, 0b0011, 0b0101, 0b1001, 0b1111]
    >>> spatial_spread(tree_cnn(4, 2), 4)[S]
    array([0, 1, 2, 4, 4, 4], dtype=int8)
    >>> spatial_spread(mlp(1), 4)[S], spatial_spread(conv_net(1, 3), 4)[S]
    (array([0, 0, 1, 2, 3, 3], dtype=int8), array([0, 0, 1, 2, 1, 3], dtype=int8))
    """
    arch = parse_layers(layers)
    d = check_cube_d(d)
    arch.lengths(d)
    masks = np.arange(2 ** d, dtype=np.int64)
    kind = spread_kind(arch, d)
    if kind == SPREAD_TREE:
        high, low = _highest_bit(masks), _highest_bit(masks & -masks)
        spread = np.full(masks.shape, d, dtype=np.int8)
        for block in reversed(_tree_blocks(arch, d)):  # the smallest block that holds S wins
            spread[(high // block) == (low // block)] = block
    elif kind == SPREAD_CYCLIC:
        spread = _linear_span(masks)
        full = 2 ** d - 1
        for r in range(1, d):
            rotated = ((masks << r) | (masks >> (d - r))) & full
            np.minimum(spread, _linear_span(rotated), out=spread)
        spread = spread.astype(np.int8)
    else:
        spread = _linear_span(masks).astype(np.int8)
    spread[0] = 0
    return spread


# --- Hypercube: the Walsh route ------------------------------------------------------------------


def _mixes_positions(plan) -> bool:
    """True when the kernel depends on products `x_p y_q` of different positions: the input's
    covariance is kept in full (a `global_avg_pool` with no `local` layer between it and the
    input) and the pool averages more than one position. A pool over a single position (a tree
    whose top patch is the whole input) only ever reads the diagonal."""
    if plan.modes[0] != FULL:
        return False
    pool = next(i for i, layer in enumerate(plan.arch) if isinstance(layer, GlobalAvgPool))
    return plan.lengths[pool] > 1


def walsh_diagonal(layers, d: int) -> bool:
    """Whether Walsh monomials are eigenfunctions of this architecture's kernels on `{-1, 1}^d`,
    i.e. whether `hypercube_eigenvalues` applies. False exactly when pooling over more than one
    position follows weight-shared convs with no `local` layer in between (the kernel then mixes
    positions); MLPs, `flatten` readouts and pooled LCNs are True.

    >>> from engine.specs import mlp, conv_net, tree_lcn
    >>> walsh_diagonal(mlp(2), 6), walsh_diagonal(conv_net(1, 3), 6), walsh_diagonal(
    ...     tree_lcn(8, 2, readout="global_avg_pool"), 8)
    (True, False, True)
    """
    d = check_cube_d(d)
    return not _mixes_positions(kernel_plan(layers, d, 1, 1))


def _kernel_row(plan, which: int, progress: Progress) -> np.ndarray:
    """`K(x_X, 1)` for every point `X = 0 .. 2^d - 1`, blocks of points built on the fly.

    This runs `engine.kernels.kernel_blocks` directly rather than `nngp_ntk`: `nngp_ntk` finds rows
    equal to `x2` by sorting all 2^d rows, whereas here the only point equal to the all-ones input
    is `X = 0`, by construction. Everything else (the plan, blocks, compiled programs, rho = 1
    pinned on identical inputs) is the engine's own.
    """
    d, n = plan.d, plan.n1
    block = plan.block[0]
    ones = jnp.ones((1, d))
    distinct = jnp.zeros((block, 1), dtype=bool)
    starts = range(0, n, block)
    row = np.empty(n)

    def inputs(start):
        # The last block runs past 2^d; its extra indices wrap to valid points and are dropped.
        index = np.arange(start, start + block)
        identical = jnp.asarray((index == 0)[:, None]) if start == 0 else distinct
        return jnp.asarray(point_rows(index, d)), ones, identical

    for done, (start, blocks) in enumerate(kernels.kernel_blocks(plan, starts, inputs), 1):
        stop = min(start + block, n)
        row[start:stop] = blocks[which][:stop - start, 0]
        if progress is not None:
            progress(done, len(starts))
    return row


def hypercube_eigenvalues(layers, d: int, kernel: str = "ntk", *,
                          progress: Progress = None) -> np.ndarray:
    """All `2^d` eigenvalues of the kernel's integral operator on `{-1, +1}^d` (uniform measure).

        lam[S] = E_x[K(x, 1) chi_S(x)] = 2^-d sum_X K(x_X, 1) (-1)^popcount(S & X),

    `S` a bit mask (bit `i` set: `i in S`), eigenfunction `chi_S(x) = prod_{i in S} x_i`; point
    `X` has `x_i = -1` where bit `i` of `X` is set. One kernel row over the `2^d` points, then
    `walsh_hadamard` in O(d 2^d): d = 20 (a million eigenvalues) takes ~1 s cold, 0.2 s warm
    (bench/spectra.py). The
    eigenvalues sum to `K(x, x)` (constant on the cube); rounding leaves entries of order
    `1e-16 K(x, x)` where the exact value is 0, of either sign.

    Args:
        layers: layer dicts (`engine.specs`); Walsh monomials must be eigenfunctions
            (`walsh_diagonal`), else `ValueError`.
        d: input dimension, 1 to 24.
        kernel: `"ntk"` or `"nngp"`.
        progress: called as `progress(done, total)` after each block of kernel evaluations.

    Returns:
        float64 array of shape `(2^d,)`, indexed by the bit mask `S`.

    Example:
        >>> from engine.specs import mlp
        >>> lam = hypercube_eigenvalues(mlp(1), 3)
        >>> lam.shape, bool(np.allclose(lam[[1, 2, 4]], lam[1]))
        ((8,), True)

    References: Xiao 2022, Sec. 2; Yang & Salman 2019 (see the module docstring).
    """
    return _walsh_eigenvalues(layers, d, kernel, progress)[0]


def hypercube_kernel_row(layers, d: int, kernel: str = "ntk", *,
                         progress: Progress = None) -> np.ndarray:
    """`row[X] = K(x_X, 1)` for every point `X = 0 .. 2^d - 1` of `{-1, +1}^d` (bit order as in
    `hypercube_points`), float64 of shape `(2^d,)`.

    For a kernel that depends on its inputs only through the products `x_i y_i` (`walsh_diagonal`;
    else `ValueError`), this one row is the whole kernel: `K(x_X, x_Y) = row[X ^ Y]` (XOR of the
    bit masks), so a Gram matrix on any points is a gather, and `walsh_hadamard(row) / 2^d` is the
    spectrum (`hypercube_eigenvalues`). `row[0] = K(x, x)`.

    >>> from engine.specs import mlp
    >>> from engine.kernels import nngp_ntk
    >>> row = hypercube_kernel_row(mlp(2), 3)
    >>> x = hypercube_points(3)
    >>> bool(np.allclose(nngp_ntk(mlp(2), x)[1], row[np.arange(8)[:, None] ^ np.arange(8)]))
    True
    """
    return _walsh_row(layers, d, kernel, progress)


def _walsh_row(layers, d, kernel, progress) -> np.ndarray:
    d = check_cube_d(d)
    which = _check_kernel(kernel)
    plan = kernel_plan(layers, d, 2 ** d, 1)
    if _mixes_positions(plan):
        raise ValueError("Walsh monomials are not eigenfunctions of this kernel: pooling after a "
                         "weight-shared conv mixes positions (the kernel depends on products "
                         "x_p y_q of different positions, not only on x_i y_i). Use "
                         f"hypercube_eigensystem_dense on d <= {MAX_DENSE_D} instead, or a "
                         "flatten readout.")
    return _kernel_row(plan, which, progress)


def _walsh_eigenvalues(layers, d, kernel, progress) -> tuple:
    """`(lam, K(1, 1))` for `hypercube_eigenvalues` and `hypercube_spectrum`."""
    d = check_cube_d(d)
    row = _walsh_row(layers, d, kernel, progress)
    diagonal = float(row[0])  # point 0 is the all-ones input: K(1, 1) = K(x, x) for every x
    lam = walsh_hadamard_inplace(row)
    lam /= 2 ** d
    return lam, diagonal


@dataclasses.dataclass(frozen=True)
class SpectrumLevels:
    """Distinct eigenvalues of a hypercube spectrum, grouped by frequency and spread, as parallel
    arrays sorted by eigenvalue (descending): level `j` is `multiplicity[j]` monomials `chi_S`
    with `|S| = frequency[j]`, spread `spread[j]` and eigenvalue `eigenvalue[j]`; `example[j]` is
    the smallest such bit mask."""

    eigenvalue: np.ndarray  # float64 (L,)
    frequency: np.ndarray  # int8 (L,)
    spread: np.ndarray  # int8 (L,)
    multiplicity: np.ndarray  # int64 (L,)
    example: np.ndarray  # int64 (L,)


@dataclasses.dataclass(frozen=True)
class HypercubeSpectrum:
    """The Walsh-route spectrum of one kernel on `{-1, +1}^d` (`hypercube_spectrum`).

    `eigenvalues[S]`, `frequency[S] = |S|` and `spread[S]` are indexed by the bit mask `S`;
    `levels` groups them; `trace_by_frequency[k]` is the sum of the eigenvalues of frequency `k`
    (with multiplicity, `k = 0 .. d`); `diagonal` is the kernel's `K(x, x)`, which their total
    equals.
    """

    d: int
    kernel: str
    eigenvalues: np.ndarray
    frequency: np.ndarray
    spread: np.ndarray
    spread_kind: str
    levels: SpectrumLevels
    trace_by_frequency: np.ndarray
    diagonal: float
    route: str = ROUTE_WALSH


def _group(keys: tuple, values: np.ndarray, tol: float):
    """Sort by `keys` (each an int array) then `values` descending, and cut into runs of equal keys
    whose consecutive values differ by at most `tol`. Returns `(order, starts)`."""
    order = np.lexsort((-values, *reversed(keys)))
    v = values[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = v[:-1] - v[1:] > tol
    for key in keys:
        k = key[order]
        new[1:] |= k[1:] != k[:-1]
    return order, np.flatnonzero(new)


def hypercube_spectrum(layers, d: int, kernel: str = "ntk", *,
                       progress: Progress = None) -> HypercubeSpectrum:
    """`hypercube_eigenvalues` with each `S`'s frequency and spread, grouped into levels.

    A level is a set of monomials with one frequency `|S|`, one spread (`spatial_spread`) and one
    eigenvalue: within a (frequency, spread) group, eigenvalues sorted in order belong to one level
    while consecutive ones differ by at most `LEVEL_RTOL = 1e-9` times the largest eigenvalue
    (rounding leaves ~1e-16). A level's eigenvalue is the mean of its members. An MLP has one level
    per frequency (Xiao 2022: eigenvalues depend on frequency only); a tree CNN splits a frequency
    by spread, and one (frequency, spread) can still hold several levels, since the eigenvalue
    depends on the whole shape of the subtree joining `S` (how many coordinates share each patch),
    not only on the size of its top block. (For an MLP, where the spread is the span, levels of
    one frequency and different spans share one eigenvalue.)

    Example:
        >>> from engine.specs import tree_cnn
        >>> spec = hypercube_spectrum(tree_cnn(4, 2), 4)
        >>> spec.spread_kind, spec.levels.multiplicity.tolist()
        ('patch-tree block size', [1, 4, 2, 4, 4, 1])
        >>> spec.levels.frequency.tolist(), spec.levels.spread.tolist()
        ([0, 1, 2, 2, 3, 4], [0, 1, 2, 4, 4, 4])
        >>> bool(np.isclose(spec.trace_by_frequency.sum(), spec.diagonal))
        True

    References: Xiao 2022 (frequency and space); see the module docstring.
    """
    arch = parse_layers(layers)
    d = check_cube_d(d)
    lam, diagonal = _walsh_eigenvalues(arch, d, kernel, progress)
    frequency = walsh_frequency(d)
    spread = spatial_spread(arch, d)
    kind = spread_kind(arch, d)

    tol = LEVEL_RTOL * max(float(np.abs(lam).max()), np.finfo(float).tiny)
    order, starts = _group((frequency, spread), lam, tol)
    multiplicity = np.diff(np.append(starts, len(order)))
    value = np.add.reduceat(lam[order], starts) / multiplicity
    example = np.minimum.reduceat(order, starts)
    f, s = frequency[order[starts]], spread[order[starts]]
    by_value = np.lexsort((s, f, -value))
    levels = SpectrumLevels(eigenvalue=value[by_value], frequency=f[by_value],
                            spread=s[by_value], multiplicity=multiplicity[by_value],
                            example=example[by_value].astype(np.int64))
    trace = np.bincount(frequency, weights=lam, minlength=d + 1)
    return HypercubeSpectrum(d=d, kernel=kernel, eigenvalues=lam, frequency=frequency,
                             spread=spread, spread_kind=kind, levels=levels,
                             trace_by_frequency=trace, diagonal=diagonal)


# --- Hypercube: the dense route ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DenseHypercubeSpectrum:
    """The dense-route spectrum of one kernel on `{-1, +1}^d` (`hypercube_eigensystem_dense`).

    `eigenvalues` (2^d,) sorted descending; they form levels (eigenspaces) `j` with value
    `level_eigenvalue[j]` and `multiplicity[j]`, and `level_of[i]` is the level of eigenvalue `i`.
    Per level: `frequency_profile[j, k]` the share of the eigenspace's energy at Walsh frequency
    `k` (rows sum to 1), `mean_frequency`, `dominant_frequency` (the argmax) and `purity` (the
    share at the dominant frequency; 1 where the eigenspace is spanned by monomials of one
    frequency); likewise per spread: `spread_profile[j, m]` over the values `spread_values[m]`,
    `mean_spread`, `dominant_spread`. `trace_by_frequency[k] = sum_j multiplicity_j
    level_eigenvalue_j frequency_profile[j, k] = sum_{|S| = k} <chi_S, T chi_S>`, whose total is
    the trace `diagonal = E_x K(x, x)` (for a pooled conv `K(x, x)` varies with `x`).
    """

    d: int
    kernel: str
    eigenvalues: np.ndarray
    level_of: np.ndarray
    level_eigenvalue: np.ndarray
    multiplicity: np.ndarray
    frequency_profile: np.ndarray
    mean_frequency: np.ndarray
    dominant_frequency: np.ndarray
    purity: np.ndarray
    spread_values: np.ndarray
    spread_profile: np.ndarray
    mean_spread: np.ndarray
    dominant_spread: np.ndarray
    spread_kind: str
    trace_by_frequency: np.ndarray
    diagonal: float
    route: str = ROUTE_DENSE


def _profile(groups: np.ndarray, energy: np.ndarray, count: int) -> np.ndarray:
    """`out[g, j] = sum_{S: groups[S] = g} energy[S, j]`."""
    onehot = np.zeros((count, len(groups)))
    onehot[groups, np.arange(len(groups))] = 1.0
    return onehot @ energy


def hypercube_eigensystem_dense(layers, d: int, kernel: str = "ntk", *,
                                degeneracy_rtol: float = LEVEL_RTOL,
                                progress: Progress = None) -> DenseHypercubeSpectrum:
    """Eigenvalues of the kernel's integral operator on `{-1, +1}^d` by brute force, for any
    architecture (pooled CNNs included), with each eigenspace's Walsh frequency and spread profile.

    The Gram matrix over all `N = 2^d` points divided by `N` is the operator in the point basis;
    `numpy.linalg.eigh` gives eigenpairs `(lam_i, v_i)`. The Walsh coefficients of `v_i` are
    `c_i[S] = N^(-1/2) sum_X v_i[X] chi_S(x_X)` (an orthonormal change of basis, `walsh_hadamard`),
    and `|c_i[S]|^2` is the share of `v_i`'s energy at `S`. Eigenvalues closer than
    `degeneracy_rtol` times the largest (consecutive in sorted order) form one eigenspace, whose
    profile is the mean of its vectors' profiles, `trace(P H_k) / m` with `P` the eigenspace's
    projector and `H_k` the projector on frequency `k`: it does not depend on which basis of the
    eigenspace `eigh` returned. Where Walsh monomials are eigenfunctions every profile is a single
    frequency and spread and the eigenvalues equal `hypercube_eigenvalues`.

    Cost: `4^d / 2` kernel evaluations and an `N x N` eigendecomposition: measured on two shared
    CPU cores, ~2 s at d = 10 and 10-20 s at d = 12 (peak memory ~1 GiB); `ValueError` for
    d > 12. `progress(done, total)` is called
    after each block of kernel evaluations.

    References: Xiao 2022 (frequency and space of eigenfunctions); see the module docstring.
    """
    arch = parse_layers(layers)
    d = check_cube_d(d, MAX_DENSE_D, "the dense route")
    which = _check_kernel(kernel)
    if not (isinstance(degeneracy_rtol, numbers.Real) and 0 <= degeneracy_rtol < 1):
        raise ValueError(f"degeneracy_rtol must be a number in [0, 1), got {degeneracy_rtol!r}.")
    n = 2 ** d
    gram = nngp_ntk(arch, hypercube_points(d), progress=progress)[which]
    diagonal = float(np.mean(np.diag(gram)))
    gram /= n
    lam, vectors = np.linalg.eigh(gram)
    del gram
    lam, vectors = lam[::-1].copy(), np.ascontiguousarray(vectors[:, ::-1])
    energy = walsh_hadamard_inplace(vectors)
    energy **= 2
    energy /= n  # columns: energy of eigenvector i on each chi_S, summing to 1

    tol = degeneracy_rtol * max(float(np.abs(lam).max()), np.finfo(float).tiny)
    new = np.ones(n, dtype=bool)
    new[1:] = lam[:-1] - lam[1:] > tol
    starts = np.flatnonzero(new)
    multiplicity = np.diff(np.append(starts, n))
    level_of = np.cumsum(new) - 1
    level_value = np.add.reduceat(lam, starts) / multiplicity

    frequency = walsh_frequency(d)
    spread = spatial_spread(arch, d)
    spread_values, spread_index = np.unique(spread, return_inverse=True)
    # Per eigenvector, then per eigenspace: the mean of its vectors' profiles (trace(P H_k) / m).
    freq_profile = np.add.reduceat(_profile(frequency.astype(np.int64), energy, d + 1), starts,
                                   axis=1) / multiplicity
    spread_profile = np.add.reduceat(_profile(spread_index.ravel(), energy, len(spread_values)),
                                     starts, axis=1) / multiplicity
    freq_profile, spread_profile = freq_profile.T, spread_profile.T
    dominant = np.argmax(freq_profile, axis=1)
    return DenseHypercubeSpectrum(
        d=d, kernel=kernel, eigenvalues=lam, level_of=level_of, level_eigenvalue=level_value,
        multiplicity=multiplicity, frequency_profile=freq_profile,
        mean_frequency=freq_profile @ np.arange(d + 1.0), dominant_frequency=dominant,
        purity=freq_profile[np.arange(len(starts)), dominant],
        spread_values=spread_values.astype(np.int64), spread_profile=spread_profile,
        mean_spread=spread_profile @ spread_values.astype(float),
        dominant_spread=spread_values[np.argmax(spread_profile, axis=1)].astype(np.int64),
        spread_kind=spread_kind(arch, d),
        trace_by_frequency=(level_value * multiplicity) @ freq_profile, diagonal=diagonal)


# --- Sphere --------------------------------------------------------------------------------------

_PANEL_POINTS = 32
"""Gauss–Legendre points per panel of the composite rule in the angle."""
_PANEL_RULE = np.polynomial.legendre.leggauss(_PANEL_POINTS)


def harmonic_dimension(d: int, k: int) -> float:
    """`N(d, k)`, the dimension of the spherical harmonics of degree `k` on `S^{d-1}` in R^d:

        N(d, k) = C(k + d - 1, d - 1) - C(k + d - 3, d - 1) = (2k + d - 2)/k C(k + d - 3, d - 2),

    computed exactly in integers and returned as a float. `N(3, k) = 2k + 1`; `N(2, k) = 2`.

    >>> harmonic_dimension(3, 4), harmonic_dimension(2, 5), harmonic_dimension(10, 0)
    (9.0, 2.0, 1.0)
    """
    d, k = whole(d, "d"), whole(k, "k")
    if d < 2:
        raise ValueError(f"Spherical harmonics need d >= 2 (the sphere S^(d-1) in R^d), got "
                         f"d = {d}.")
    if k < 0:
        raise ValueError(f"The degree k must be >= 0, got {k}.")
    if k == 0:
        return 1.0
    return float(math.comb(k + d - 1, d - 1) - math.comb(k + d - 3, d - 1))


def default_sphere_nodes(d: int, k_max: int) -> int:
    """Quadrature nodes `sphere_eigenvalues` uses by default: `4 (k_max + d) + 64`, rounded up to
    whole panels of 32, about twice what the integrands need. Measured for ReLU kernels with and
    without bias, depths 1 to 3, d = 2 to 30, k_max up to 1000: with half these nodes, eigenvalues
    above 1e-10 `mu_0` still agree with four times as many to the rounding floor (~1e-6 relative
    at 1e-10 `mu_0`); with a third, errors reach 1e-3 at k ~ 1000."""
    nodes = 4 * (k_max + d) + 64
    return _PANEL_POINTS * -(-nodes // _PANEL_POINTS)


@functools.lru_cache(maxsize=32)
def _angle_rule(panels: int) -> tuple:
    """Composite Gauss–Legendre rule on `[0, pi]`: `panels` equal panels of 32 points."""
    x, w = _PANEL_RULE
    edges = np.linspace(0.0, np.pi, panels + 1)
    half = (edges[1:] - edges[:-1])[:, None] / 2
    theta = ((edges[1:] + edges[:-1])[:, None] / 2 + half * x).ravel()
    return theta, (half * w).ravel()


def _check_dot_product(arch: Architecture) -> None:
    if arch.spatial:
        raise ValueError("The sphere eigenvalues need a dot-product kernel (dense layers and "
                         "activations only): a conv/local kernel depends on the products x_p y_q "
                         "of positions, not on x.y alone, so spherical harmonics are not its "
                         "eigenfunctions. Use an MLP, or hypercube_eigenvalues for conv/local "
                         "stacks.")


SPHERE_WORK_MAX = 2 * 10**9
"""Most multiply-adds `sphere_eigenvalues` may take, `nodes (k_max + 1)` for the Gegenbauer
recurrence (about 10 s of NumPy here); beyond it a request is refused before any work."""


def _refuse_large_sphere(d: int, k_max: int, nodes: int) -> None:
    """`ValueError` before any allocation when the quadrature's points (`nodes x d` float64, three
    copies: the points, the kernel's inputs, its layers' covariances) exceed the memory budget
    (`engine.guard.memory_budget`) or the recurrence exceeds `SPHERE_WORK_MAX`."""
    from engine import guard

    nbytes, work = 3 * 8 * nodes * d, nodes * (k_max + 1)
    if nbytes > guard.memory_budget() or work > SPHERE_WORK_MAX:
        raise ValueError(f"d = {d} and k_max = {k_max} need {nodes:,} quadrature points in R^{d} "
                         f"({nbytes / 2**30:,.1f} GiB) and {work:.1e} steps of the recurrence; the "
                         f"limits are {guard.memory_budget() / 2**30:.1f} GiB "
                         f"({guard.MEMORY_BUDGET_ENV} sets it) and {SPHERE_WORK_MAX:.0e} steps: "
                         "choose a smaller d or k_max (the page allows d <= 12, k_max <= 400).")


def sphere_eigenvalues(layers, d: int, k_max: int, kernel: str = "ntk", *,
                       nodes: Optional[int] = None) -> np.ndarray:
    """Funk–Hecke eigenvalues `mu[k]`, `k = 0 .. k_max`, of a dot-product kernel on the sphere of
    radius `sqrt(d)` in R^d with the uniform probability measure:

        mu[k] = E_t[K(t) P_k(t)] = int_0^pi K(cos th) P_k(cos th) sin^(d-2) th dth
                                   / int_0^pi sin^(d-2) th dth,

    `t = x.y / d = cos th`; `P_k` the Gegenbauer polynomial with `P_k(1) = 1`, by the recurrence
    `P_0 = 1`, `P_1 = t`, `P_{k+1} = ((2k + d - 2) t P_k - k P_{k-1}) / (k + d - 2)`. Each
    eigenvalue has multiplicity `harmonic_dimension(d, k)` and
    `K(t) = sum_k mu[k] N(d, k) P_k(t)`.

    Numerics: the integral is taken in the angle with a composite Gauss–Legendre rule (`nodes`
    points in panels of 32 on `[0, pi]`; default `default_sphere_nodes`). ReLU kernels behave like
    `(1 - t)^(1/2)` at `t = 1` but are analytic in `th` (`arccos(cos th) = th`), so the rule
    converges exponentially, where Gauss–Jacobi in `t` would converge algebraically; `sin^(d-2)`
    and `P_k(cos th)` are trigonometric polynomials of degree `d - 2` and `k`. The kernel is
    evaluated by the engine at `x1 = sqrt(d) e_1`, `x2 = sqrt(d) (cos th e_1 + sin th e_2)`.
    Measured accuracy (tests/test_spectra.py): eigenvalues down to 1e-10 of `mu_0` agree with
    twice the nodes to 1.4e-6 relative at worst (ReLU NTK and NNGP, 2 to 5 layers, d = 3, 5, 10):
    rounding in the kernel values sets a floor of ~1e-16 `mu_0` in absolute terms. Two-layer
    `mu_0..mu_2` match closed forms to 5e-14, and `mu_0..mu_12` of 2- and 3-layer kernels match
    adaptive quadrature to 2e-16 `mu_0`.

    Args:
        layers: an MLP's layer dicts (dense layers and activations); conv/local: `ValueError`.
        d: dimension of the ambient space, >= 2.
        k_max: highest degree, >= 0.
        kernel: `"ntk"` or `"nngp"`.
        nodes: quadrature points (rounded up to a multiple of 32).

    Returns:
        float64 array of shape `(k_max + 1,)`.

    Example:
        >>> from engine.specs import mlp
        >>> mu = sphere_eigenvalues(mlp(1), 3, 5)   # two-layer ReLU NTK: odd k >= 3 vanish
        >>> bool(abs(mu[3]) < 1e-14 * mu[0] and abs(mu[5]) < 1e-14 * mu[0])
        True

    References: Bietti & Bach 2021, Sec. 2 (Funk–Hecke normalisation); Atkinson & Han 2012.
    """
    arch = parse_layers(layers)
    _check_dot_product(arch)
    d = whole(d, "d")
    if d < 2:
        raise ValueError(f"The sphere needs d >= 2 (S^(d-1) in R^d), got d = {d}.")
    k_max = whole(k_max, "k_max")
    if k_max < 0:
        raise ValueError(f"k_max must be >= 0 (the highest degree of harmonics), got {k_max}.")
    which = _check_kernel(kernel)
    if nodes is None:
        nodes = default_sphere_nodes(d, k_max)
    nodes = whole(nodes, "nodes")
    if nodes < 1:
        raise ValueError(f"nodes must be a positive number of quadrature points, got {nodes}.")
    _refuse_large_sphere(d, k_max, nodes)
    theta, weight = _angle_rule(-(-nodes // _PANEL_POINTS))

    x2 = np.zeros((len(theta), d))
    x2[:, 0], x2[:, 1] = np.sqrt(d) * np.cos(theta), np.sqrt(d) * np.sin(theta)
    x1 = np.zeros((1, d))
    x1[0, 0] = np.sqrt(d)
    values = nngp_ntk(arch, x1, x2)[which][0]

    # The normaliser int sin^(d-2) by the same rule, so a constant kernel gives mu = (c, 0, ...).
    density = weight * np.sin(theta) ** (d - 2)
    density /= density.sum()
    g = density * values
    t = np.cos(theta)
    mu = np.empty(k_max + 1)
    previous, current = np.zeros_like(t), np.ones_like(t)
    mu[0] = g.sum()
    for k in range(k_max):
        if k == 0:
            previous, current = current, t
        else:
            previous, current = current, (((2 * k + d - 2) * t * current - k * previous)
                                          / (k + d - 2))
        mu[k + 1] = g @ current
    return mu


@dataclasses.dataclass(frozen=True)
class SphereSpectrum:
    """`mu[k]` for `k = 0 .. k_max` (`sphere_eigenvalues`) with `multiplicity[k] = N(d, k)`;
    `diagonal = K(1)`, the kernel on the diagonal, which `sum_k multiplicity[k] mu[k]` approaches
    as `k_max` grows (slowly for ReLU: the tail beyond `k` falls like `k^-1` for the NTK)."""

    d: int
    kernel: str
    k: np.ndarray
    mu: np.ndarray
    multiplicity: np.ndarray
    diagonal: float


def sphere_spectrum(layers, d: int, k_max: int, kernel: str = "ntk", *,
                    nodes: Optional[int] = None) -> SphereSpectrum:
    """`sphere_eigenvalues` with the degrees, their multiplicities and `K(1)`.

    >>> from engine.specs import mlp
    >>> s = sphere_spectrum(mlp(1), 3, 4)
    >>> s.multiplicity.tolist()
    [1.0, 3.0, 5.0, 7.0, 9.0]
    """
    mu = sphere_eigenvalues(layers, d, k_max, kernel, nodes=nodes)
    d = whole(d, "d")
    x = np.zeros((1, d))
    x[0, 0] = np.sqrt(d)
    diagonal = float(nngp_ntk(layers, x)[_check_kernel(kernel)][0, 0])
    k = np.arange(len(mu))
    return SphereSpectrum(d=d, kernel=kernel, k=k, mu=mu,
                          multiplicity=np.array([harmonic_dimension(d, int(j)) for j in k]),
                          diagonal=diagonal)


def decay_exponent(k, mu, k_min: float, k_max: float, *, floor: float = SLOPE_FLOOR) -> float:
    """Least-squares slope of `log mu` against `log k` over `k_min <= k <= k_max`: the exponent
    `a` in `mu_k ~ C k^a`.

    Entries with `k <= 0`, or `mu <= floor * max|mu|` (zero, negative, or rounding noise: two-layer
    ReLU kernels vanish at odd `k >= 3`) are left out; NaN when fewer than three remain. Pass a
    window where `mu` is well above the quadrature's floor (~1e-16 `mu_0`): Bietti & Bach's rates
    are asymptotic, and the fitted slope approaches them like `1/k` (about +0.03 at k ~ 100 for
    d = 3, see tests/test_spectra.py).

    >>> k = np.arange(1, 50.0)
    >>> round(decay_exponent(k, 3 * k ** -4.0, 10, 40), 12)
    -4.0
    """
    k, mu = np.asarray(k, dtype=np.float64), np.asarray(mu, dtype=np.float64)
    if k.ndim != 1 or k.shape != mu.shape:
        raise ValueError(f"k and mu must be 1-D arrays of the same length, got shapes {k.shape} "
                         f"and {mu.shape}.")
    if not k_min <= k_max:
        raise ValueError(f"The window is empty: k_min = {k_min} > k_max = {k_max}.")
    if not len(mu):
        return float("nan")
    scale = float(np.nanmax(np.abs(mu)))
    use = (k >= k_min) & (k <= k_max) & (k > 0) & (mu > floor * scale)
    if np.count_nonzero(use) < 3:
        return float("nan")
    return float(np.polyfit(np.log(k[use]), np.log(mu[use]), 1)[0])


def predicted_exponent(kernel: str, d: int) -> float:
    """Bietti & Bach's (2021, Thm. 1 and Cor. 3) decay exponent of deep ReLU kernels on
    `S^{d-1}`: `mu_k ~ C k^-d` for the NTK and `k^-(d+2)` for the NNGP (random-features) kernel,
    at every depth (the constant changes; for two-layer kernels only along even `k` plus `k = 1`).
    Scope: ReLU networks; smooth activations (erf, gelu) decay faster than any power.

    >>> predicted_exponent("ntk", 3), predicted_exponent("nngp", 3)
    (-3.0, -5.0)
    """
    _check_kernel(kernel)
    d = whole(d, "d")
    if d < 2:
        raise ValueError(f"The sphere needs d >= 2, got d = {d}.")
    return float(-d if kernel == "ntk" else -(d + 2))
