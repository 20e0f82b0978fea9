"""Tests for `engine.spectra`: kernel eigenvalues on the hypercube and on the sphere.

Expected values are computed independently of the code under test:

* hypercube: the Gram matrix of every pair of points from `engine.kernels.nngp_ntk` (the kernel
  engine, tested on its own against neural-tangents), divided by `2^d` and diagonalised by
  `numpy.linalg.eigh`; the Walsh transform against `scipy.linalg.hadamard` (scipy 1.17.1) and
  against `(-1)^popcount(S & X)` written out; the trace against the engine's `K(x, x)` at a random
  point; spreads against their definitions evaluated by plain Python loops and by hand.
* sphere: low-order Funk–Hecke eigenvalues of the two-layer ReLU kernels in closed form (derived
  in `_two_layer_closed_form`), higher orders of the depth-2 and depth-3 ReLU kernels written out
  with the arc-cosine formulas and integrated by `scipy.integrate.quad` against scipy's Gegenbauer
  polynomials; the expansion `sum_k mu_k N(d, k) P_k(t)` against the engine's `K(t)`; the parity
  pattern and the decay exponents of Bietti & Bach (2021).

Tolerances are stated where they are used, with what was measured.
"""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.special

from engine import spectra
from engine.kernels import nngp_ntk
from engine.specs import conv_net, mlp, tree_cnn, tree_lcn

INDEX = {"nngp": 0, "ntk": 1}


def _points(d):
    """The hypercube in the contract's bit order, written out without engine.spectra."""
    return np.array([[1.0 - 2.0 * ((x >> i) & 1) for i in range(d)] for x in range(2 ** d)])


def _walsh_matrix(d):
    """`H[S, X] = chi_S(x_X) = (-1)^popcount(S & X)`, written out."""
    n = 2 ** d
    return np.array([[(-1.0) ** bin(s & x).count("1") for x in range(n)] for s in range(n)])


def _mask(*coordinates):
    return sum(1 << i for i in coordinates)


# --- The Walsh basis -----------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_walsh_hadamard_is_the_natural_order_hadamard_matrix(d):
    n = 2 ** d
    hadamard = scipy.linalg.hadamard(n).astype(float)  # Sylvester construction = natural order
    np.testing.assert_array_equal(hadamard, _walsh_matrix(d))
    values = np.random.default_rng(d).normal(size=(n, 3))
    np.testing.assert_allclose(spectra.walsh_hadamard(values), hadamard @ values, rtol=0,
                               atol=1e-13 * n)
    np.testing.assert_allclose(spectra.walsh_hadamard(values[:, 0]), hadamard @ values[:, 0],
                               rtol=0, atol=1e-13 * n)
    # An involution up to the factor 2^d, and it leaves its input alone.
    before = values.copy()
    np.testing.assert_allclose(spectra.walsh_hadamard(spectra.walsh_hadamard(values)) / n, values,
                               atol=1e-13)
    np.testing.assert_array_equal(values, before)


def test_walsh_hadamard_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        spectra.walsh_hadamard(np.ones(6))


def test_points_and_frequency_follow_the_bit_order():
    np.testing.assert_array_equal(spectra.hypercube_points(4), _points(4))
    np.testing.assert_array_equal(spectra.walsh_frequency(9),
                                  [bin(s).count("1") for s in range(2 ** 9)])


# --- The Walsh route against a dense eigendecomposition ------------------------------------------

ARCHITECTURES = {
    "mlp3-relu-bias": (mlp(3, w_std=1.3, b_std=0.4), 6),
    "mlp2-erf-bias": (mlp(2, activation="erf", b_std=0.2), 5),
    "tree-cnn-2": (tree_cnn(8, 2), 8),
    "tree-cnn-2x4-bias": (tree_cnn(8, (2, 4), b_std=0.3), 8),
    "tree-lcn-3": (tree_lcn(9, 3, activation="erf"), 9),
    "overlapping-conv-flatten": (conv_net(2, 3, readout="flatten", b_std=0.2), 6),
    "same-padding-stride-2": ([{"layer": "conv", "filter_size": 3, "stride": 1, "padding": "same"},
                               {"layer": "relu"},
                               {"layer": "conv", "filter_size": 2, "stride": 2},
                               {"layer": "relu"}, {"layer": "flatten"}, {"layer": "dense"}], 6),
    "pooled-tree-lcn": (tree_lcn(8, 2, readout="global_avg_pool"), 8),
    "pooled-local-then-conv": ([{"layer": "local", "filter_size": 3, "stride": 1,
                                 "padding": "circular"}, {"layer": "relu"},
                                {"layer": "conv", "filter_size": 3, "stride": 1,
                                 "padding": "circular"}, {"layer": "relu"},
                                {"layer": "global_avg_pool"}, {"layer": "dense"}], 6),
    # A pool over the single top position reads only the diagonal: Walsh-diagonal too.
    "pooled-tree-cnn": (tree_cnn(8, 2, readout="global_avg_pool"), 8),
}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_walsh_route_equals_dense_eigendecomposition(name):
    layers, d = ARCHITECTURES[name]
    n = 2 ** d
    x = _points(d)
    pair = nngp_ntk(layers, x)
    walsh = _walsh_matrix(d)
    assert spectra.walsh_diagonal(layers, d)
    for kernel in ("ntk", "nngp"):
        operator = pair[INDEX[kernel]] / n
        lam = spectra.hypercube_eigenvalues(layers, d, kernel)
        assert lam.shape == (n,) and lam.dtype == np.float64
        scale = np.abs(lam).max()
        # Same spectrum as eigh of the Gram matrix / 2^d (measured: ~1e-15 relative).
        np.testing.assert_allclose(np.sort(lam), np.linalg.eigvalsh(operator), rtol=0,
                                   atol=1e-10 * scale)
        # Every Walsh monomial is an eigenvector, with the eigenvalue indexed by its mask.
        np.testing.assert_allclose(operator @ walsh.T, walsh.T * lam, rtol=0, atol=1e-10 * scale)
        # lam[S] = E_x[K(x, 1) chi_S(x)], from the engine's own kernel row (point 0 is all ones).
        np.testing.assert_allclose(lam, walsh @ pair[INDEX[kernel]][:, 0] / n, rtol=0,
                                   atol=1e-13 * scale)


@pytest.mark.parametrize("layers, d", [(mlp(2, b_std=0.3), 1), (mlp(2), 12),
                                       (tree_cnn(12, (3, 4), b_std=0.2), 12),
                                       (conv_net(2, 3, readout="flatten"), 10)])
def test_eigenvalues_sum_to_the_kernel_diagonal(layers, d):
    x = np.where(np.random.default_rng(d).random((1, d)) < 0.5, -1.0, 1.0)
    for kernel in ("ntk", "nngp"):
        diagonal = nngp_ntk(layers, x)[INDEX[kernel]][0, 0]
        lam = spectra.hypercube_eigenvalues(layers, d, kernel)
        assert lam.sum() == pytest.approx(diagonal, rel=1e-12)
        assert lam.min() >= -1e-14 * diagonal  # positive semi-definite up to rounding


def test_progress_reports_every_block():
    calls = []
    spectra.hypercube_eigenvalues(tree_cnn(16, 2), 16, progress=lambda done, total: calls.append(
        (done, total)))
    total = calls[-1][1]
    assert total > 1 and calls == [(i, total) for i in range(1, total + 1)]


# --- Frequency and space (Xiao 2022) -------------------------------------------------------------


def test_mlp_eigenvalues_depend_only_on_frequency():
    d = 10
    frequency = np.array([bin(s).count("1") for s in range(2 ** d)])
    for layers in (mlp(1), mlp(3, activation="erf", b_std=0.5)):
        lam = spectra.hypercube_eigenvalues(layers, d, "ntk")
        for k in range(d + 1):
            group = lam[frequency == k]
            assert np.ptp(group) <= 1e-12 * lam.max(), k
        spectrum = spectra.hypercube_spectrum(layers, d, "ntk")
        # Levels with the same frequency (split only by span) share one eigenvalue.
        for k in range(d + 1):
            values = spectrum.levels.eigenvalue[spectrum.levels.frequency == k]
            assert np.ptp(values) <= 1e-12 * lam.max()


def _tree_automorphisms(d, filters):
    """Coordinate permutations of the patch tree: within any block, swap two child blocks."""
    perms, block = [], 1
    for f in filters:
        child, block = block, block * f
        for start in range(0, d, block):
            for a, b in itertools.combinations(range(f), 2):
                perm = list(range(d))
                for j in range(child):
                    i1, i2 = start + a * child + j, start + b * child + j
                    perm[i1], perm[i2] = i2, i1
                perms.append(perm)
    return perms


def test_tree_cnn_splits_frequencies_by_space():
    """Xiao (2022): a hierarchical CNN's eigenvalue depends on the frequency and on where `S` sits
    in the patch tree. What is true here: for a fixed frequency, sets inside a smaller block have
    larger eigenvalues; sets with the same frequency and the same smallest block can still differ
    (the subtree joining {0, 1, 4} has a full 2-patch, {0, 2, 4} does not); the eigenvalue is
    invariant under the tree's automorphisms (permuting the children of any node), while swapping
    coordinates of two different patches changes it."""
    d, filters = 8, (2, 2, 2)
    layers = tree_cnn(d, 2)
    for kernel in ("ntk", "nngp"):
        lam = spectra.hypercube_eigenvalues(layers, d, kernel)
        assert lam[_mask(0, 1)] > lam[_mask(0, 2)] > lam[_mask(0, 4)]
        assert lam[_mask(0, 1, 2)] > lam[_mask(0, 1, 4)] > lam[_mask(0, 2, 4)]
        assert lam[_mask(0, 1, 4)] / lam[_mask(0, 2, 4)] > 1.5
        masks = np.arange(2 ** d)
        for perm in _tree_automorphisms(d, filters):
            moved = sum(((masks >> i) & 1) << perm[i] for i in range(d))
            np.testing.assert_allclose(lam[moved], lam, rtol=1e-12, atol=1e-15)
        # A permutation that is not a tree automorphism changes some eigenvalue.
        swap = list(range(d))
        swap[1], swap[2] = 2, 1
        moved = sum(((masks >> i) & 1) << swap[i] for i in range(d))
        assert np.abs(lam[moved] - lam).max() > 1e-4 * lam.max()

    spectrum = spectra.hypercube_spectrum(layers, d, "ntk")
    levels = spectrum.levels
    two = levels.frequency == 2
    at_two = sorted(zip(levels.spread[two], levels.multiplicity[two]))
    assert at_two == [(2, 4), (4, 8), (8, 16)]
    same_group = (levels.frequency == 3) & (levels.spread == 8)
    assert sorted(levels.multiplicity[same_group]) == [16, 32]


def test_spectrum_levels_account_for_every_eigenvalue():
    layers, d = tree_cnn(12, (3, 4), b_std=0.1), 12
    spectrum = spectra.hypercube_spectrum(layers, d, "nngp")
    lam, levels = spectrum.eigenvalues, spectrum.levels
    np.testing.assert_allclose(lam, spectra.hypercube_eigenvalues(layers, d, "nngp"), rtol=0,
                               atol=0)
    assert levels.multiplicity.sum() == 2 ** d
    assert np.all(np.diff(levels.eigenvalue) <= 0)
    np.testing.assert_allclose(np.repeat(levels.eigenvalue, levels.multiplicity),
                               np.sort(lam)[::-1], rtol=0, atol=1e-9 * lam.max())
    # The example is the smallest mask of its level and carries its frequency, spread and value.
    np.testing.assert_array_equal(spectrum.frequency[levels.example], levels.frequency)
    np.testing.assert_array_equal(spectrum.spread[levels.example], levels.spread)
    np.testing.assert_allclose(lam[levels.example], levels.eigenvalue, rtol=1e-9)
    for j in range(len(levels.eigenvalue)):
        members = np.flatnonzero((spectrum.frequency == levels.frequency[j])
                                 & (spectrum.spread == levels.spread[j])
                                 & (np.abs(lam - levels.eigenvalue[j]) <= 1e-9 * lam.max()))
        assert len(members) == levels.multiplicity[j] and members.min() == levels.example[j]
    x = -np.ones((1, d))
    diagonal = nngp_ntk(layers, x).nngp[0, 0]
    assert spectrum.diagonal == pytest.approx(diagonal, rel=1e-12)
    np.testing.assert_allclose(spectrum.trace_by_frequency,
                               [lam[spectrum.frequency == k].sum() for k in range(d + 1)])
    assert spectrum.trace_by_frequency.sum() == pytest.approx(diagonal, rel=1e-12)
    assert spectrum.spread_kind == "patch-tree block size"


# --- The dense route -----------------------------------------------------------------------------


def test_pooled_conv_needs_the_dense_route():
    layers, d = conv_net(1, 3, b_std=0.2), 6  # circular conv, relu, global_avg_pool, dense
    assert not spectra.walsh_diagonal(layers, d)
    with pytest.raises(ValueError, match="not eigenfunctions.*pooling after a weight-shared conv"):
        spectra.hypercube_eigenvalues(layers, d)
    with pytest.raises(ValueError, match="hypercube_eigensystem_dense"):
        spectra.hypercube_spectrum(conv_net(2, 2), 8)

    x = _points(d)
    gram = nngp_ntk(layers, x).ntk
    dense = spectra.hypercube_eigensystem_dense(layers, d, "ntk")
    np.testing.assert_allclose(dense.eigenvalues, np.sort(np.linalg.eigvalsh(gram / 2 ** d))[::-1],
                               rtol=0, atol=1e-12 * gram.max())
    # The trace: the mean of K(x, x), which varies over the cube for a pooled conv.
    assert np.ptp(np.diag(gram)) > 0.1
    assert dense.eigenvalues.sum() == pytest.approx(np.diag(gram).mean(), rel=1e-12)
    assert dense.diagonal == pytest.approx(np.diag(gram).mean(), rel=1e-12)
    assert dense.multiplicity.sum() == 2 ** d and dense.level_of[-1] == len(dense.multiplicity) - 1
    np.testing.assert_allclose(dense.frequency_profile.sum(1), 1, atol=1e-12)
    np.testing.assert_allclose(dense.spread_profile.sum(1), 1, atol=1e-12)
    assert np.all((dense.purity > 0) & (dense.purity <= 1 + 1e-12))
    assert dense.purity.min() < 0.99  # eigenspaces mixing frequencies
    # Energy per frequency, directly: sum_{|S| = k} <chi_S, T chi_S> with T = Gram / 2^d.
    walsh = _walsh_matrix(d)
    energy = np.einsum("sx,xy,sy->s", walsh, gram / 2 ** d, walsh) / 2 ** d
    frequency = np.array([bin(s).count("1") for s in range(2 ** d)])
    np.testing.assert_allclose(dense.trace_by_frequency,
                               [energy[frequency == k].sum() for k in range(d + 1)],
                               rtol=0, atol=1e-12 * gram.max())


@pytest.mark.parametrize("name", ["tree-cnn-2", "mlp3-relu-bias", "overlapping-conv-flatten"])
def test_dense_route_agrees_with_the_walsh_route(name):
    """Where monomials are eigenfunctions, each eigenspace sits at the frequencies and spreads of
    the monomials it holds, and the trace per frequency is the same by both routes."""
    layers, d = ARCHITECTURES[name]  # already compiled by the test above
    dense = spectra.hypercube_eigensystem_dense(layers, d, "nngp")
    walsh = spectra.hypercube_spectrum(layers, d, "nngp")
    np.testing.assert_allclose(dense.eigenvalues, np.sort(walsh.eigenvalues)[::-1], rtol=0,
                               atol=1e-10 * walsh.eigenvalues.max())
    np.testing.assert_allclose(dense.trace_by_frequency, walsh.trace_by_frequency, rtol=0,
                               atol=1e-12 * walsh.diagonal)
    assert dense.diagonal == pytest.approx(walsh.diagonal, rel=1e-12)
    assert dense.spread_kind == walsh.spread_kind
    scale = walsh.eigenvalues.max()
    for j, value in enumerate(dense.level_eigenvalue):
        if value < 1e-6 * scale:
            continue  # tiny eigenspaces blur together at eigh's resolution
        members = np.abs(walsh.eigenvalues - value) <= 1e-9 * scale
        assert members.sum() == dense.multiplicity[j]
        expected = np.bincount(walsh.frequency[members], minlength=d + 1) / members.sum()
        np.testing.assert_allclose(dense.frequency_profile[j], expected, atol=1e-8)
        assert dense.mean_frequency[j] == pytest.approx(walsh.frequency[members].mean(), abs=1e-8)
        assert dense.dominant_spread[j] in set(walsh.spread[members].tolist())
    if layers[0]["layer"] == "dense":  # an MLP: one frequency per eigenspace
        big = dense.level_eigenvalue > 1e-6 * scale
        np.testing.assert_allclose(dense.purity[big], 1, atol=1e-8)


# --- Spread ---------------------------------------------------------------------------------------


def _span(s, d, cyclic):
    """The definitions, element by element: max - min, or d minus the largest cyclic gap."""
    members = [i for i in range(d) if s >> i & 1]
    if len(members) <= 1:
        return 0
    if not cyclic:
        return members[-1] - members[0]
    gaps = [b - a for a, b in zip(members, members[1:])] + [members[0] + d - members[-1]]
    return d - max(gaps)


def test_spread_definitions_by_hand():
    tree = spectra.spatial_spread(tree_cnn(4, 2), 4)
    assert tree[[0, 1, 2, 0b0011, 0b1100, 0b0110, 0b1001, 0b0111, 0b1111]].tolist() == \
        [0, 1, 1, 2, 2, 4, 4, 4, 4]
    tree = spectra.spatial_spread(tree_cnn(20, (4, 5)), 20)
    assert tree[[_mask(7), _mask(0, 3), _mask(4, 7), _mask(3, 4), _mask(0, 19), _mask(5, 9, 13),
                 _mask(16, 17, 18, 19), _mask(0, 4, 8, 12, 16)]].tolist() == \
        [1, 4, 4, 20, 20, 20, 4, 20]
    one_patch = [{"layer": "local", "filter_size": 5}, {"layer": "relu"}, {"layer": "flatten"},
                 {"layer": "dense"}]  # a single layer of non-overlapping patches, read out
    assert spectra.spatial_spread(one_patch, 20)[[_mask(0, 4), _mask(5, 9), _mask(4, 5)]].tolist() \
        == [5, 5, 20]
    span = spectra.spatial_spread(mlp(2), 8)
    assert span[[0, _mask(5), _mask(0, 7), _mask(2, 3, 6), _mask(1, 2)]].tolist() == [0, 0, 7, 4, 1]
    cyclic = spectra.spatial_spread(conv_net(2, 3), 8)
    assert cyclic[[0, _mask(5), _mask(0, 7), _mask(0, 1, 7), _mask(0, 4), _mask(1, 2, 6),
                   _mask(0, 2, 4, 6)]].tolist() == [0, 0, 1, 2, 4, 4, 6]
    assert spectra.spatial_spread(mlp(1), 1).tolist() == [0, 0]


@pytest.mark.parametrize("d", [1, 2, 7, 10])
def test_spans_match_their_definitions(d):
    masks = range(2 ** d)
    linear = [_span(s, d, cyclic=False) for s in masks]
    cyclic = [_span(s, d, cyclic=True) for s in masks]
    np.testing.assert_array_equal(spectra.spatial_spread(mlp(1), d), linear)
    layers = [{"layer": "conv", "filter_size": 1, "padding": "circular"}, {"layer": "relu"},
              {"layer": "flatten"}, {"layer": "dense"}]
    if d > 1:  # filter 2 with stride 1 overlaps: not a tree
        layers[0].update(filter_size=2, stride=1)
        assert spectra.spread_kind(layers, d) == "cyclic span"
        np.testing.assert_array_equal(spectra.spatial_spread(layers, d), cyclic)
    # The cyclic span is invariant under cyclic shifts of S.
    full = 2 ** d - 1
    shifted = [((s << 1) | (s >> (d - 1))) & full for s in masks]
    np.testing.assert_array_equal(np.array(cyclic)[shifted], cyclic)


def test_spread_kind_names():
    assert spectra.spread_kind(mlp(3), 8) == "span"
    assert spectra.spread_kind(tree_lcn(9, 3), 9) == "patch-tree block size"
    assert spectra.spread_kind(conv_net(2, 3, padding="same"), 8) == "span"
    assert spectra.spread_kind(conv_net(2, 3, padding="circular"), 8) == "cyclic span"


# --- Sphere ---------------------------------------------------------------------------------------


def _arccos_kernels(t):
    """`kappa0(t) = (pi - arccos t) / pi` and `kappa1(t) = (sqrt(1 - t^2) + t (pi - arccos t)) / pi`
    (Cho & Saul 2009): `E[relu'(u) relu'(v)] = kappa0 / 2` and `E[relu(u) relu(v)] = kappa1 / 2` for
    unit-variance Gaussians with correlation t."""
    theta = np.arccos(np.clip(t, -1, 1))
    return (np.pi - theta) / np.pi, (np.sin(theta) + (np.pi - theta) * t) / np.pi


def _relu_kernel(t, hidden, kernel, w=1.0):
    """The ReLU MLP kernel with `hidden` layers and no bias, on the sphere of radius sqrt(d),
    written out layer by layer: a relu halves the variance (E[relu(u)^2] = q / 2)."""
    q, nngp, ntk = w * w, w * w * t, w * w * t
    for _ in range(hidden):
        rho = nngp / q
        k0, k1 = _arccos_kernels(rho)
        nngp, dot, q = q * k1 / 2, k0 / 2, q / 2
        nngp, q = w * w * nngp, w * w * q
        ntk = w * w * ntk * dot + nngp
    return nngp if kernel == "nngp" else ntk


def _sphere_integral(f, d):
    """`E_t[f(t)]` under the density proportional to `(1 - t^2)^((d - 3) / 2)`, by adaptive
    quadrature in the angle."""
    num = scipy.integrate.quad(lambda th: f(np.cos(th)) * np.sin(th) ** (d - 2), 0, np.pi,
                               epsabs=1e-15, epsrel=1e-13, limit=400)[0]
    den = math.sqrt(math.pi) * math.gamma((d - 1) / 2) / math.gamma(d / 2)
    return num / den


def _gegenbauer(k, d, t):
    """`P_k^{(d)}(t)` with `P_k(1) = 1`: scipy's Gegenbauer polynomials, alpha = (d - 2) / 2."""
    alpha = (d - 2) / 2
    return scipy.special.eval_gegenbauer(k, alpha, t) / scipy.special.eval_gegenbauer(k, alpha, 1.0)


def _two_layer_closed_form(d, w):
    """Funk–Hecke eigenvalues mu_0, mu_1, mu_2 of `mlp(1, w_std=w)` ReLU kernels, by hand.

    With `t = cos th` and `E[g] = int_0^pi g sin^m / I_m`, `m = d - 2`, `I_n = int_0^pi sin^n =
    sqrt(pi) Gamma((n + 1)/2) / Gamma(n/2 + 1)`: NNGP `= w^4 kappa1 / 2`, NTK
    `= w^4 (kappa1 + t kappa0) / 2`. By the symmetry th -> pi - th, `E[th f(cos^2)] = pi/2 E[f]`;
    integrating by parts, `E[th cos th] = -I_{m+1} / ((m+1) I_m)` and
    `E[th cos^3 th] = -(I_{m+1}/(m+1) - I_{m+3}/(m+3)) / I_m`. So
    `E[kappa1] = I_{m+1} (m+2) / (pi (m+1) I_m)`, `E[t kappa0] = I_{m+1} / (pi (m+1) I_m)`,
    `E[t kappa1] = E[t^2 kappa0] = E[t^2] / 2 = 1 / (2d)`,
    `E[t^2 kappa1] = ((I_{m+1} - I_{m+3}) + c) / (pi I_m)`, `E[t^3 kappa0] = c / (pi I_m)` with
    `c = I_{m+1}/(m+1) - I_{m+3}/(m+3)`, and `P_2 = (d t^2 - 1) / (d - 1)`.
    """
    m = d - 2
    i = {n: math.sqrt(math.pi) * math.gamma((n + 1) / 2) / math.gamma(n / 2 + 1)
         for n in (m, m + 1, m + 3)}
    c = i[m + 1] / (m + 1) - i[m + 3] / (m + 3)
    k1 = [i[m + 1] * (m + 2) / (math.pi * (m + 1) * i[m]), 1 / (2 * d),
          (i[m + 1] - i[m + 3] + c) / (math.pi * i[m])]  # E[t^j kappa1], j = 0, 1, 2
    # E[t^(j + 1) kappa0], j = 0, 1, 2
    tk0 = [i[m + 1] / (math.pi * (m + 1) * i[m]), 1 / (2 * d), c / (math.pi * i[m])]
    out = {}
    for kernel, moments in (("nngp", k1), ("ntk", [a + b for a, b in zip(k1, tk0)])):
        e = [w ** 4 / 2 * v for v in moments]
        out[kernel] = [e[0], e[1], (d * e[2] - e[0]) / (d - 1)]
    return out


@pytest.mark.parametrize("d", [2, 3, 5, 10])
def test_two_layer_low_orders_match_closed_form(d):
    w = 1.3
    expected = _two_layer_closed_form(d, w)
    for kernel in ("ntk", "nngp"):
        mu = spectra.sphere_eigenvalues(mlp(1, w_std=w), d, 4, kernel)
        # Measured: ~1e-15 relative.
        np.testing.assert_allclose(mu[:3], expected[kernel], rtol=1e-10)


@pytest.mark.parametrize("hidden", [1, 2])
def test_higher_orders_match_adaptive_quadrature(hidden):
    """The kernel written out by hand and integrated by scipy's adaptive quadrature against scipy's
    Gegenbauer polynomials: independent of the engine's kernel and of the recurrence here."""
    d, k_max = 4, 12
    for kernel in ("ntk", "nngp"):
        mu = spectra.sphere_eigenvalues(mlp(hidden), d, k_max, kernel)
        expected = [_sphere_integral(
            lambda t: _relu_kernel(t, hidden, kernel) * _gegenbauer(k, d, t), d)
            for k in range(k_max + 1)]
        np.testing.assert_allclose(mu, expected, rtol=1e-9, atol=1e-14 * mu[0])


@pytest.mark.parametrize("d", [3, 5, 10])
def test_doubling_the_nodes_changes_nothing(d):
    """Measured: eigenvalues down to 1e-10 of mu_0 agree to 1.4e-6 at worst (rounding in the kernel
    values, ~1e-16 mu_0 absolute); required, 1e-5."""
    k_max = 200 if d == 3 else 100
    for hidden in (1, 2, 3, 4):
        nodes = spectra.default_sphere_nodes(d, k_max)
        for kernel in ("ntk", "nngp"):
            mu = spectra.sphere_eigenvalues(mlp(hidden), d, k_max, kernel)
            twice = spectra.sphere_eigenvalues(mlp(hidden), d, k_max, kernel, nodes=2 * nodes)
            big = np.abs(twice) >= 1e-10 * twice[0]
            assert big.sum() >= min(k_max, 10)
            np.testing.assert_allclose(mu[big], twice[big], rtol=1e-5)


@pytest.mark.parametrize("d", [3, 5])
def test_funk_hecke_expansion_rebuilds_a_smooth_kernel(d):
    """`K(t) = sum_k mu_k N(d, k) P_k(t)`: for erf the terms fall geometrically, so 60 degrees
    rebuild the kernel to rounding (measured ~1e-15 of K(1))."""
    layers, k_max = mlp(2, activation="erf", b_std=0.3, w_std=1.2), 60
    t = np.array([-1.0, -0.7, -0.2, 0.0, 0.3, 0.8, 0.99, 1.0])
    for kernel in ("ntk", "nngp"):
        mu = spectra.sphere_eigenvalues(layers, d, k_max, kernel)
        terms = [mu[k] * spectra.harmonic_dimension(d, k) * _gegenbauer(k, d, t)
                 for k in range(k_max + 1)]
        x1 = np.zeros((1, d))
        x1[0, 0] = math.sqrt(d)
        x2 = np.zeros((len(t), d))
        x2[:, 0], x2[:, 1] = math.sqrt(d) * t, math.sqrt(d) * np.sqrt(1 - t * t)
        direct = nngp_ntk(layers, x1, x2)[INDEX[kernel]][0]
        np.testing.assert_allclose(np.sum(terms, axis=0), direct, rtol=0, atol=1e-10 * direct.max())


@pytest.mark.parametrize("d", [3, 4])
def test_odd_degrees_vanish_for_two_layers_only(d):
    """Bietti & Bach (2021): without bias a two-layer ReLU kernel is a linear term plus an even
    function, so mu_k = 0 at odd k >= 3; from three layers on both parities are non-zero."""
    k_max = 41
    odd = np.arange(3, k_max + 1, 2)
    even = np.arange(0, k_max + 1, 2)
    for kernel in ("ntk", "nngp"):
        mu = spectra.sphere_eigenvalues(mlp(1), d, k_max, kernel)
        assert np.abs(mu[odd]).max() <= 1e-14 * mu[0]
        assert mu[1] > 0 and np.all(mu[even] > 1e-9 * mu[0])
        deep = spectra.sphere_eigenvalues(mlp(2), d, k_max, kernel)
        assert np.all(deep > 1e-12 * deep[0])
        # Not a rounding artefact: odd degrees are comparable to their even neighbours (measured
        # ratios 0.09 at k = 3 rising to 0.5-0.66 at k = 41).
        assert np.all(deep[odd] > 0.05 * deep[odd - 1])


@pytest.mark.parametrize("d", [3, 4])
@pytest.mark.parametrize("kernel", ["ntk", "nngp"])
def test_decay_exponents_approach_bietti_bach(d, kernel):
    """Deep equals shallow: at every depth (2..5 layers) the fitted exponent over a window of k
    approaches -d (NTK) or -(d + 2) (NNGP) as the window moves out. Measured: the error roughly
    halves at each doubling of k (a 1/k correction), and over [64, 128] it is +0.012..0.015 (NTK)
    and +0.022..0.027 (NNGP) at d = 3, +0.038..0.041 and +0.060..0.064 at d = 4. The tolerances
    below leave ~20% room. (Beyond k ~ 250 at d = 3, and ~130 at d = 4, the NNGP's mu_k falls
    under the quadrature's rounding floor and fits go wrong.)"""
    predicted = spectra.predicted_exponent(kernel, d)
    assert predicted == (-d if kernel == "ntk" else -(d + 2))
    tolerance = {(3, "ntk"): 0.018, (3, "nngp"): 0.033, (4, "ntk"): 0.05, (4, "nngp"): 0.077}
    k = np.arange(129)
    for hidden in (1, 2, 3, 4):
        mu = spectra.sphere_eigenvalues(mlp(hidden), d, 128, kernel)
        errors = [abs(spectra.decay_exponent(k, mu, lo, 2 * lo) - predicted) for lo in (16, 32, 64)]
        assert errors[0] > errors[1] > errors[2], errors
        assert errors[2] <= tolerance[d, kernel], (hidden, errors)


def test_harmonic_dimension():
    assert [spectra.harmonic_dimension(3, k) for k in range(5)] == [1, 3, 5, 7, 9]
    assert [spectra.harmonic_dimension(2, k) for k in range(4)] == [1, 2, 2, 2]
    for d in (2, 4, 7, 12):
        for k in range(0, 30):
            # Harmonics of degree <= k span the polynomials of degree <= k on the sphere:
            # C(k + d - 1, d - 1) + C(k + d - 2, d - 1) of them.
            total = sum(spectra.harmonic_dimension(d, j) for j in range(k + 1))
            assert total == math.comb(k + d - 1, d - 1) + math.comb(k + d - 2, d - 1)
    spectrum = spectra.sphere_spectrum(mlp(1), 5, 6, "nngp")
    assert spectrum.multiplicity.tolist() == [spectra.harmonic_dimension(5, k) for k in range(7)]
    assert np.sum(spectrum.multiplicity * spectrum.mu) < spectrum.diagonal
    assert spectrum.diagonal == pytest.approx(_relu_kernel(1.0, 1, "nngp"), rel=1e-12)


def test_decay_exponent_fits_and_skips():
    k = np.arange(0, 101.0)
    mu = np.zeros_like(k)
    mu[1:] = 2.0 * k[1:] ** -3.5
    assert spectra.decay_exponent(k, mu, 10, 100) == pytest.approx(-3.5, abs=1e-12)
    holes = mu.copy()
    holes[3::2] = 0.0  # exact zeros (two-layer kernels at odd k)
    holes[4] = -1e-20  # rounding noise of either sign
    holes[6] = 1e-16 * holes[1]
    assert spectra.decay_exponent(k, holes, 1, 100) == pytest.approx(-3.5, abs=1e-12)
    assert math.isnan(spectra.decay_exponent(k, mu, 50.5, 51.5))
    with pytest.raises(ValueError, match="same length"):
        spectra.decay_exponent(k, mu[:-1], 1, 10)
    with pytest.raises(ValueError, match="empty"):
        spectra.decay_exponent(k, mu, 10, 5)


# --- Bad input -----------------------------------------------------------------------------------


def test_bad_input_says_what_to_change():
    with pytest.raises(ValueError, match=r"d = 30 gives 2\^30 eigenvalues.*choose d <= 24"):
        spectra.hypercube_eigenvalues(mlp(1), 30)
    with pytest.raises(ValueError, match="choose d <= 24"):
        spectra.hypercube_spectrum(mlp(1), 25)
    with pytest.raises(ValueError, match="at least 1"):
        spectra.hypercube_eigenvalues(mlp(1), 0)
    with pytest.raises(ValueError, match="whole number"):
        spectra.hypercube_eigenvalues(mlp(1), 2.5)
    with pytest.raises(ValueError, match="kernel must be 'ntk' or 'nngp'"):
        spectra.hypercube_eigenvalues(mlp(1), 4, kernel="cntk")
    with pytest.raises(ValueError, match="kernel must be 'ntk' or 'nngp'"):
        spectra.sphere_eigenvalues(mlp(1), 3, 4, kernel="NTK")
    with pytest.raises(ValueError, match="choose d <= 12"):
        spectra.hypercube_eigensystem_dense(conv_net(1, 3), 13)
    with pytest.raises(ValueError, match="not on x.y alone"):
        spectra.sphere_eigenvalues(tree_cnn(4, 2), 4, 10)
    with pytest.raises(ValueError, match="k_max must be >= 0"):
        spectra.sphere_eigenvalues(mlp(1), 3, -1)
    with pytest.raises(ValueError, match="d >= 2"):
        spectra.sphere_eigenvalues(mlp(1), 1, 3)
    with pytest.raises(ValueError, match="nodes must be a positive"):
        spectra.sphere_eigenvalues(mlp(1), 3, 3, nodes=0)
    with pytest.raises(ValueError, match="k must be >= 0"):
        spectra.harmonic_dimension(3, -2)
    with pytest.raises(ValueError, match="filter_size"):
        spectra.spatial_spread(tree_cnn(8, 2), 4)  # the architecture does not fit d


def test_docstring_examples():
    result = doctest.testmod(spectra, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 10
