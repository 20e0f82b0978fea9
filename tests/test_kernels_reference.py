"""`engine.kernels.nngp_ntk` against neural-tangents 0.6.5 on stored reference kernels.

The references in `tests/data/nt_reference.{json,npz}` were computed by neural-tangents' `stax`
(float64, NTK parameterisation) with `tools/make_reference.py` in a throwaway environment
(`tools/make_nt_venv.sh`); neural-tangents is not a dependency of the project. See
`tests/data/README.md`.

Group "exact": closed-form kernels (relu, erf, gelu, identity) on both sides. The contract says
the engine agrees with neural-tangents to 1e-9 relative; the inputs are quantised to multiples of
1/16 so that the input Gram matrix is exact and both libraries see rho = 1 exactly on the diagonal,
where the arc-cosine map would otherwise amplify a one-ulp difference to ~1e-9.

Group "quadrature": tanh and sigmoid, numerical on both sides (the reference is neural-tangents'
Gauss-Hermite layer at a high degree, its own error stored per case); compared at the tolerances
justified below.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from engine.kernels import nngp_ntk

DATA = Path(__file__).parent / "data"
with open(DATA / "nt_reference.json") as _fh:
    META = json.load(_fh)
with np.load(DATA / "nt_reference.npz") as _npz:
    ARRAYS = {key: _npz[key] for key in _npz.files}
CASES = {case["name"]: case for case in META["cases"]}

EXACT_RTOL = 1e-9
"""ENGINE_CONTRACT.md: within 1e-9 relative of neural-tangents 0.6.5 (closed forms on both sides)."""

QUADRATURE_RTOL = 1e-9
"""tanh and sigmoid, compared at the same 1e-9 as the closed forms. Measured: the engine at its
default quadrature (96-point trapezoid per dimension) agrees with the reference to at most 4.7e-13
(max error / max |ref| over the seven cases, nngp and ntk, x2=None and given), and to at most 6.2e-13
at degree 256, so both quadratures have converged. The reference's own error is bounded by its
stored `reference_error` (degree 192 or 120-128 against degree 256 or 160), at most 7e-11; 1e-9 is
more than ten times that bound (checked per case below) and 2000 times the measured agreement."""

QUADRATURE_HIGH_DEGREE = 256
"""The largest degree `nngp_ntk` accepts."""

QUADRATURE_LOW_DEGREE = 16
"""A degree too low for these activations (measured: errors 1e-5 to 0.1 at 16 points), to show that
the quadrature cases exercise the engine's numerical path and that the tolerance can catch an
inaccurate rule."""


def _names(group):
    return [name for name, case in CASES.items() if case["group"] == group]


def _max_rel(ours, ref):
    """Largest absolute difference relative to the largest reference entry."""
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def _compare(ours, ref, rtol, what):
    __tracebackhide__ = True
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.abs(ref).max(),
                               err_msg=f"{what}: max error / max |ref| = {_max_rel(ours, ref):.3g}")


def _ours(case, pair, **kwargs):
    x1 = ARRAYS[f"{case['name']}/x1"]
    x2 = None if pair == "11" else ARRAYS[f"{case['name']}/x2"]
    result = nngp_ntk(case["layers"], x1, x2, **kwargs)
    nngp, ntk = result
    n2 = len(x1) if x2 is None else len(x2)
    for name, k in (("nngp", nngp), ("ntk", ntk)):
        assert isinstance(k, np.ndarray), f"{name} is a {type(k).__name__}, not a numpy array"
        assert k.dtype == np.float64, f"{name} has dtype {k.dtype}"
        assert k.shape == (len(x1), n2), f"{name} has shape {k.shape}, expected {(len(x1), n2)}"
    return nngp, ntk


def _check(case, pair, rtol, **kwargs):
    nngp, ntk = _ours(case, pair, **kwargs)
    for name, ours in (("nngp", nngp), ("ntk", ntk)):
        ref = ARRAYS[f"{case['name']}/{name}_{pair}"]
        _compare(ours, ref, rtol, f"{case['name']} {name}_{pair}")


# --- The data are what they say ----------------------------------------------------------------


def test_reference_data_cover_the_architectures():
    """An empty or truncated data file would make the parametrised tests below vacuous."""
    assert META["neural_tangents"] == "0.6.5"
    assert META["jax_enable_x64"] is True
    assert len(_names("exact")) >= 60 and len(_names("quadrature")) >= 6
    layer_names = {layer["layer"] for case in CASES.values() for layer in case["layers"]}
    assert layer_names >= {"dense", "conv", "local", "relu", "erf", "gelu", "tanh", "sigmoid",
                           "identity", "flatten", "global_avg_pool"}
    paddings = {layer.get("padding", "valid") for case in CASES.values() for layer in case["layers"]
                if layer["layer"] in ("conv", "local")}
    assert paddings == {"valid", "same", "circular"}
    for name, case in CASES.items():
        x1, x2 = ARRAYS[f"{name}/x1"], ARRAYS[f"{name}/x2"]
        assert x1.shape == (META["n1"], case["d"]) and x2.shape == (META["n2"], case["d"])
        assert np.array_equal(np.round(x1 * 16) / 16, x1), "inputs must be multiples of 1/16"
        for key in ("nngp_11", "ntk_11", "nngp_12", "ntk_12"):
            k = ARRAYS[f"{name}/{key}"]
            assert k.dtype == np.float64 and np.all(np.isfinite(k)) and np.abs(k).max() > 0
        if case["group"] == "quadrature":
            assert 10 * case["reference_error"] < QUADRATURE_RTOL, "reference not accurate enough"
        # NTK dominates NNGP on the diagonal (the NTK adds positive gradient terms).
        assert np.all(np.diag(ARRAYS[f"{name}/ntk_11"]) >= np.diag(ARRAYS[f"{name}/nngp_11"]))


# --- The engine against neural-tangents ----------------------------------------------------------


@pytest.mark.parametrize("pair", ["11", "12"], ids=["x2_none", "x2_given"])
@pytest.mark.parametrize("name", _names("exact"))
def test_exact_kernels_match_neural_tangents(name, pair):
    _check(CASES[name], pair, EXACT_RTOL)


@pytest.mark.parametrize("pair", ["11", "12"], ids=["x2_none", "x2_given"])
@pytest.mark.parametrize("name", _names("quadrature"))
def test_quadrature_kernels_match_neural_tangents(name, pair):
    _check(CASES[name], pair, QUADRATURE_RTOL)


@pytest.mark.parametrize("name", _names("quadrature"))
def test_quadrature_kernels_match_at_the_highest_degree(name):
    """Raising the degree does not move the engine away from the reference: both have converged."""
    _check(CASES[name], "12", QUADRATURE_RTOL, quadrature_degree=QUADRATURE_HIGH_DEGREE)


@pytest.mark.parametrize("name", _names("quadrature"))
def test_quadrature_kernels_fail_at_a_low_degree(name):
    """The quadrature cases really go through the engine's numerical integration, and the tolerance
    catches an inaccurate rule."""
    with pytest.raises(AssertionError):
        _check(CASES[name], "12", QUADRATURE_RTOL, quadrature_degree=QUADRATURE_LOW_DEGREE)


# --- The comparison can fail ---------------------------------------------------------------------


def _perturbed_w_std(layers, change=1e-6):
    """The first weight layer's w_std times (1 + change). With 1e-6 the entries of relu, erf and
    tanh kernels move by 1e-7 to 2e-6 relative (measured), 100 to 2000 times the tolerance."""
    layers = copy.deepcopy(layers)
    first = next(layer for layer in layers if layer["layer"] in ("dense", "conv", "local"))
    first["w_std"] = first.get("w_std", 1.0) * (1 + change)
    return layers


def _swap(layers, key, old, new):
    """Every layer with `key == old` gets `new` instead."""
    layers = [dict(layer, **{key: new}) if layer.get(key) == old else layer for layer in layers]
    assert any(layer.get(key) == new for layer in layers), f"no layer with {key}={old!r}"
    return layers


def _readout_swapped(layers):
    layers = copy.deepcopy(layers)
    for layer in layers:
        if layer["layer"] in ("flatten", "global_avg_pool"):
            layer["layer"] = "global_avg_pool" if layer["layer"] == "flatten" else "flatten"
            return layers
    raise AssertionError("no readout to swap")


WRONG_KERNELS = [
    ("mlp_relu_L3_w1.5_b0.1", _perturbed_w_std),
    ("mlp_erf_L2_w1_b0", _perturbed_w_std),
    ("tree_lcn_s3_d27_flatten", _perturbed_w_std),
    ("cnn_f3_s1_circular_gap", _perturbed_w_std),
    ("cnn_f3_s1_same_gap", lambda layers: _swap(layers, "padding", "same", "circular")),
    ("lcn_f3_s1_same_gap", lambda layers: [dict(layer, layer="conv") if layer["layer"] == "local"
                                           else layer for layer in layers]),  # share weights
    ("tree_cnn_s2_d16_gap", _readout_swapped),
    ("mlp_gelu_L2_w1.5_b0.1", _perturbed_w_std),
    ("dense_between_convs_gap", _perturbed_w_std),
    ("mlp_tanh_L2_w1_b0", _perturbed_w_std),
    # A sigmoid kernel barely feels the first layer (sigmoid's mean 1/2 dominates it): there a 1e-6
    # change of w_std moves the kernel by only 1e-9 (measured), a 1e-4 change by 1e-7.
    ("tree_lcn_sigmoid_s2_d16_gap", lambda layers: _perturbed_w_std(layers, 1e-4)),
    ("cnn_f3_s2_circular_gap", lambda layers: _swap(layers, "padding", "circular", "same")),
]
# (Not in the list: local -> conv under a `flatten` readout, which leaves the kernel unchanged;
# weight sharing only shows through pooling, Novak et al. 2019.)


@pytest.mark.parametrize("name,wrong", WRONG_KERNELS, ids=[name for name, _ in WRONG_KERNELS])
def test_a_wrong_kernel_fails_the_comparison(name, wrong):
    """A 1e-6 change of one w_std (or a padding, weight sharing or readout change) must be caught:
    otherwise the tolerances above could not catch a convention mistake. The unchanged case itself
    is checked by the tests above."""
    case = dict(CASES[name], layers=wrong(CASES[name]["layers"]))
    rtol = EXACT_RTOL if CASES[name]["group"] == "exact" else QUADRATURE_RTOL
    with pytest.raises(AssertionError):
        _check(case, "12", rtol)
