"""`engine.kernels.nngp_ntk` against neural-tangents 0.6.5 on stored reference kernels.

The references in `tests/data/nt_reference.{json,npz}` were computed by neural-tangents' `stax`
(float64, NTK parameterisation) with `tools/make_reference.py` in a throwaway environment
(`tools/make_nt_venv.sh`); neural-tangents is not a dependency of the project. See
`tests/data/README.md`.

Group "exact": closed-form kernels (relu, erf, identity) on both sides. The contract says the engine
agrees with neural-tangents to 1e-9 relative; the inputs are quantised to multiples of 1/16 so that
the input Gram matrix is exact and both libraries see rho = 1 exactly on the diagonal, where the
arc-cosine map would otherwise amplify a one-ulp difference to ~1e-9.

Group "quadrature": gelu, where neural-tangents has a closed form and the engine uses Gauss-Hermite
quadrature; compared at the tolerance `QUADRATURE_RTOL` justified below.
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

QUADRATURE_RTOL = 1e-6
"""gelu: neural-tangents' closed form against the engine's Gauss-Hermite rule at its default degree.
Measured with the engine of this commit: the largest error relative to the largest entry, over the
four gelu cases, nngp and ntk, x2=None and x2 given, is 3.1e-8 at the default degree (48); at degree
200 it is 1.5e-15 (float64 rounding), so what remains at the default degree is quadrature error,
not a convention difference. 1e-6 leaves a factor ~30 of margin for that quadrature error and is
still 1e5 times smaller than any convention mismatch would give (the wrong-kernel test below
perturbs w_std by 1e-6 and must be caught at the exact tolerance; a mismatch in readout or padding
changes entries at order one)."""

QUADRATURE_HIGH_DEGREE = 200
QUADRATURE_HIGH_DEGREE_RTOL = 1e-12


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
    assert len(_names("exact")) >= 50 and len(_names("quadrature")) >= 3
    layer_names = {layer["layer"] for case in CASES.values() for layer in case["layers"]}
    assert layer_names >= {"dense", "conv", "local", "relu", "erf", "gelu", "identity", "flatten",
                           "global_avg_pool"}
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
def test_quadrature_error_vanishes_at_high_degree(name):
    """What separates the engine's gelu from neural-tangents' closed form is quadrature error: at a
    high degree the two agree to float64 rounding."""
    _check(CASES[name], "12", QUADRATURE_HIGH_DEGREE_RTOL, quadrature_degree=QUADRATURE_HIGH_DEGREE)


# --- The comparison can fail ---------------------------------------------------------------------


def _perturbed_w_std(layers):
    layers = copy.deepcopy(layers)
    first = next(layer for layer in layers if layer["layer"] in ("dense", "conv", "local"))
    first["w_std"] = first.get("w_std", 1.0) * (1 + 1e-6)
    return layers


def _swap(layers, key, old, new):
    layers = copy.deepcopy(layers)
    for layer in layers:
        if layer.get(key, "valid" if key == "padding" and layer["layer"] in ("conv", "local") else None) == old:
            layer[key] = new
            return layers
    raise AssertionError(f"no layer with {key}={old!r}")


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
    ("lcn_f3_s1_same_gap", lambda layers: _swap(layers, "layer", "local", "conv")),
    ("tree_cnn_s2_d16_gap", _readout_swapped),
    ("mlp_gelu_L2_w1_b0", _perturbed_w_std),
]


@pytest.mark.parametrize("name,wrong", WRONG_KERNELS, ids=[name for name, _ in WRONG_KERNELS])
def test_a_wrong_kernel_fails_the_comparison(name, wrong):
    """A 1e-6 change of one w_std (or a padding, weight sharing or readout change) must be caught:
    otherwise the tolerances above could not catch a convention mistake."""
    case = dict(CASES[name], layers=wrong(CASES[name]["layers"]))
    rtol = EXACT_RTOL if CASES[name]["group"] == "exact" else QUADRATURE_RTOL
    with pytest.raises(AssertionError):
        _check(case, "12", rtol)
