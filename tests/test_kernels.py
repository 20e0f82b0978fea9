"""Tests for `engine.kernels`: `nngp_ntk` and `kernel_plan`.

Expected values are independent of the engine: a one-hidden-layer relu network worked out by hand
(closed form below, evaluated with numpy), and invariants that any NNGP/NTK must satisfy whatever
the architecture (symmetry, positive semi-definiteness, NTK - NNGP positive semi-definite, the same
value whichever way the request is split into blocks or arguments), checked over a sampled grid of
architectures built from `engine.specs`. Comparisons with neural-tangents live in
`test_kernels_reference.py`.
"""

from __future__ import annotations

import jax
import jax.monitoring
import numpy as np
import pytest

from engine import kernels
from engine.kernels import DIAGONAL, FULL, VECTOR, kernel_plan, nngp_ntk
from engine.specs import conv_net, mlp, tree_cnn, tree_lcn

N1, N2 = 11, 7


def _inputs(d, n=N1, seed=0):
    return np.random.default_rng([seed, d, n]).normal(size=(n, d))


def _max_rel(ours, ref):
    """Largest absolute difference relative to the largest reference entry."""
    return float(np.abs(np.asarray(ours) - np.asarray(ref)).max() / np.abs(ref).max())


def _assert_close(ours, ref, rtol, what):
    __tracebackhide__ = True
    err = _max_rel(ours, ref)
    assert err <= rtol, f"{what}: max error / max |ref| = {err:.3g} > {rtol:.0g}"


# --- Closed form by hand ------------------------------------------------------------------------


def _one_hidden_relu(x1, x2, w, b, same_input=False):
    """NNGP and NTK of `mlp(1, w_std=w, b_std=b)` = [dense, relu, dense] between x1 and x2.

    Layer by layer (NTK parameterisation, ENGINE_CONTRACT.md):
    * first dense: nngp1(x, y) = w^2 x.y / d + b^2, and ntk1 = nngp1 (the first layer's weights
      and bias are the only parameters so far; their gradient kernel is its covariance);
    * relu: with q_i = nngp1(x_i, x_i) and cos t = nngp1(x1, x2) / sqrt(q1 q2), the arc-cosine
      kernel gives T = sqrt(q1 q2) (sin t + (pi - t) cos t) / (2 pi) and Tdot = (pi - t) / (2 pi);
      the NTK becomes ntk1 * Tdot;
    * last dense: nngp = w^2 T + b^2 and ntk = w^2 (ntk1 Tdot) + nngp.
    So NNGP = w^2 sqrt(q1 q2)/(2 pi) (sin t + (pi - t) cos t) + b^2 and
    NTK = NNGP + w^2 (w^2 x1.x2/d + b^2) (pi - t)/(2 pi).
    `same_input`: x1 and x2 are the same vector, so t = 0 exactly (rounding of cos t could give
    1 - eps, and arccos would turn that into t = 1.5e-8).
    """
    d = x1.shape[0]
    c = w * w * float(x1 @ x2) / d + b * b
    q1 = w * w * float(x1 @ x1) / d + b * b
    q2 = w * w * float(x2 @ x2) / d + b * b
    t = 0.0 if same_input else float(np.arccos(np.clip(c / np.sqrt(q1 * q2), -1.0, 1.0)))
    nngp = w * w * np.sqrt(q1 * q2) / (2 * np.pi) * (np.sin(t) + (np.pi - t) * np.cos(t)) + b * b
    ntk = nngp + w * w * c * (np.pi - t) / (2 * np.pi)
    return nngp, ntk


@pytest.mark.parametrize("w, b", [(1.0, 0.0), (1.3, 0.2), (0.7, 1.1)])
@pytest.mark.parametrize("angle", [0.0, np.pi / 3, np.pi / 2, 2 * np.pi / 3, np.pi])
def test_one_hidden_layer_relu_closed_form(angle, w, b):
    d = 4
    x1 = np.array([3.0, 0.0, 0.0, 0.0])  # |x1|^2 / d = 9/4
    x2 = 2.0 * np.array([np.cos(angle), np.sin(angle), 0.0, 0.0])  # |x2| = 2, angle to x1
    x_same = x1.copy()  # angle 0 with equal norms: the same input twice
    x_opposite = -x1  # angle pi with equal norms: rho = -1 exactly when b = 0
    layers = mlp(1, w_std=w, b_std=b)
    x = np.stack([x1, x2, x_same, x_opposite])
    nngp, ntk = nngp_ntk(layers, x)
    nngp12, ntk12 = nngp_ntk(layers, x1[None, :], x2[None, :])
    for (i, j), (u, v, same) in {(0, 1): (x1, x2, False), (0, 0): (x1, x1, True),
                                 (1, 1): (x2, x2, True), (0, 2): (x1, x_same, True),
                                 (0, 3): (x1, x_opposite, False)}.items():
        nngp_ref, ntk_ref = _one_hidden_relu(u, v, w, b, same_input=same)
        # Relative to max(|value|, 1): NNGP and NTK are 0 at rho = -1 (b = 0), and the NTK can
        # be negative (c < 0) or cross zero at obtuse angles.
        assert abs(nngp[i, j] - nngp_ref) <= 1e-12 * max(abs(nngp_ref), 1.0), \
            (i, j, nngp[i, j], nngp_ref)
        assert abs(ntk[i, j] - ntk_ref) <= 1e-12 * max(abs(ntk_ref), 1.0), \
            (i, j, ntk[i, j], ntk_ref)
    nngp_ref, ntk_ref = _one_hidden_relu(x1, x2, w, b)
    assert abs(nngp12[0, 0] - nngp_ref) <= 1e-12 * max(abs(nngp_ref), 1.0)
    assert abs(ntk12[0, 0] - ntk_ref) <= 1e-12 * max(abs(ntk_ref), 1.0)


# --- Invariants over a grid of architectures ----------------------------------------------------


def _stack(*layers):
    return list(layers)


def _conv(kind, f, s, padding="valid", **stds):
    return {"layer": kind, "filter_size": f, "stride": s, "padding": padding, **stds}


ARCHITECTURES = {
    # name: (layers, d)
    "mlp1-relu": (mlp(1), 8),
    "mlp3-relu-bias": (mlp(3, w_std=1.4, b_std=0.3), 12),
    "mlp2-erf": (mlp(2, activation="erf", b_std=0.2), 9),
    "mlp1-gelu": (mlp(1, activation="gelu", w_std=1.2, b_std=0.1), 16),
    "mlp1-tanh": (mlp(1, activation="tanh", b_std=0.1), 27),
    "mlp2-identity": (mlp(2, activation="identity", b_std=0.5), 8),
    "tree-cnn-s2-flatten": (tree_cnn(8, 2), 8),
    "tree-cnn-s3-gap": (tree_cnn(9, 3, readout="global_avg_pool", b_std=0.1), 9),
    "tree-lcn-s2-gap": (tree_lcn(8, 2, readout="global_avg_pool"), 8),
    "tree-lcn-s3-flatten-erf": (tree_lcn(9, 3, activation="erf", w_std=1.3), 9),
    "conv-same-gap": (conv_net(2, 3, padding="same", b_std=0.2), 12),
    "conv-circular-stride2-gap": (conv_net(2, 3, stride=2, padding="circular"), 16),
    "conv-valid-flatten-gelu": (conv_net(2, 3, padding="valid", readout="flatten",
                                         activation="gelu"), 12),
    "conv-valid-stride3-gap-tanh": (conv_net(1, 3, stride=3, padding="valid",
                                             activation="tanh"), 9),
    "mixed-conv-local-flatten-mlp": (_stack(
        _conv("conv", 3, 1, "same", b_std=0.1), {"layer": "relu"},
        _conv("local", 2, 2, "valid", w_std=1.2), {"layer": "erf"},
        {"layer": "dense", "b_std": 0.3}, {"layer": "gelu"},
        {"layer": "flatten"}, {"layer": "dense"}, {"layer": "relu"}, {"layer": "dense"}), 16),
    "mixed-local-conv-gap": (_stack(
        _conv("local", 3, 1, "circular"), {"layer": "relu"},
        _conv("conv", 2, 2, "same", b_std=0.1), {"layer": "tanh"},
        {"layer": "global_avg_pool"}, {"layer": "dense", "b_std": 0.2}), 12),
}
QUADRATURE_ARCHITECTURES = {name for name, (layers, _) in ARCHITECTURES.items()
                            if any(layer["layer"] in ("tanh", "sigmoid") for layer in layers)}

QUADRATURE_SWAP_RTOL = 1e-9
"""K(x, y) against K(y, x).T for tanh/sigmoid stacks. The 2-D rule integrates u on the outer nodes
and v given u on the inner ones, so swapping the arguments changes the discretisation and the two
differ by about the quadrature error, which grows steeply with the variance entering the activation
(test_activations.py: tanh Tdot 4e-11 at variance 2.5, 6e-7 at variance 6). Measured with these
inputs: 8.7e-11 for conv-valid-stride3-gap-tanh (positions of variance up to 3.7), 4e-15 for
mlp1-tanh (variance up to 1.5). Closed-form stacks: measured <= 2e-16, tolerance 1e-12."""


def _check_output(pair, shape):
    __tracebackhide__ = True
    assert isinstance(pair, kernels.KernelPair)
    for name, k in zip(("nngp", "ntk"), pair):
        assert type(k) is np.ndarray, f"{name} is a {type(k).__name__}"
        assert k.dtype == np.float64, f"{name} has dtype {k.dtype}"
        assert k.shape == shape, f"{name} has shape {k.shape}, expected {shape}"
        assert np.all(np.isfinite(k)), f"{name} has non-finite entries"


def _assert_psd(k, what):
    __tracebackhide__ = True
    lam = np.linalg.eigvalsh(k)
    assert lam.min() >= -1e-12 * np.abs(k).max(), f"{what}: min eigenvalue {lam.min():.3g}"


# The grid below evaluates each architecture on two block shapes only (11 x 11 with x2=None and
# 11 x 11 with x2 given: y has as many rows as x), so that each compiles twice; the blocking test
# uses a few architectures.


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_kernel_invariants(name):
    layers, d = ARCHITECTURES[name]
    x, y = _inputs(d), _inputs(d, seed=1)

    sym = nngp_ntk(layers, x)
    _check_output(sym, (N1, N1))
    for k, what in ((sym.nngp, "nngp"), (sym.ntk, "ntk")):
        np.testing.assert_array_equal(k, k.T, err_msg=f"{what} not exactly symmetric")
        _assert_psd(k, what)
    # The readout is dense: NTK = w^2 NTK_before_readout + NNGP, so NTK - NNGP is a PSD kernel,
    # and NTK >= NNGP on the diagonal.
    _assert_psd(sym.ntk - sym.nngp, "ntk - nngp")
    assert np.all(np.diag(sym.ntk) >= np.diag(sym.nngp) * (1 - 1e-14))
    assert np.all(np.diag(sym.nngp) > 0)

    cross = nngp_ntk(layers, x, y)
    flipped = nngp_ntk(layers, y, x)
    _check_output(cross, (N1, N1))
    rtol = QUADRATURE_SWAP_RTOL if name in QUADRATURE_ARCHITECTURES else 1e-12
    for k, k_flipped, what in zip(cross, flipped, ("nngp", "ntk")):
        _assert_close(k, k_flipped.T, rtol, f"{what}(x, y) vs {what}(y, x).T")


# An input paired with itself has rho = 1 exactly. With x2=None the engine pins the diagonal to the
# per-input variances (`_pin_diagonal`); with x2 given, the pair covariance `c` and the variances
# `q1`, `q2` come from differently shaped reductions (x1 @ x2.T against sum(x * x); a mean over
# positions of an (n1, n2, P) array against one of an (n, P) array) that may round one ulp apart,
# and at rho = 1 the arc-cosine map turns that into ~sqrt(eps) = 1e-8. The contract promises float64
# accuracy. Measured with this commit: 3e-9 .. 9e-9 relative on the diagonal for a relu after a
# flatten or global_avg_pool readout (gap-then-relu 6.3e-9, mixed-conv-local-flatten-mlp 4.3e-9),
# and for a relu MLP once d >= 50 (d = 100: 3.1e-9); 0 for the d <= 27 MLPs. Those three cases fail
# with this commit: the engine makes rho = 1 exact only on the diagonal of x2=None blocks.
SELF_PAIR_CASES = {
    **ARCHITECTURES,
    "gap-then-relu": (_stack(_conv("conv", 3, 1, "circular"), {"layer": "relu"},
                             {"layer": "global_avg_pool"}, {"layer": "dense"},
                             {"layer": "relu"}, {"layer": "dense"}), 16),
    "mlp1-relu-d100": (mlp(1), 100),
}


@pytest.mark.parametrize("name", sorted(SELF_PAIR_CASES))
def test_input_paired_with_itself_matches_x2_none(name):
    """`nngp_ntk(L, x)` equals `nngp_ntk(L, x, x)`, the diagonal (each input with itself) first."""
    layers, d = SELF_PAIR_CASES[name]
    x = _inputs(d)
    sym = nngp_ntk(layers, x)
    both = nngp_ntk(layers, x, x)
    # x2=None computes the upper triangle and mirrors it; for tanh/sigmoid the lower triangle then
    # differs by the argument-swap asymmetry of the quadrature (measured 3.4e-12 here).
    rtol = QUADRATURE_SWAP_RTOL if name in QUADRATURE_ARCHITECTURES else 1e-12
    for k, k_sym, what in zip(both, sym, ("nngp", "ntk")):
        _assert_close(np.diag(k), np.diag(k_sym), 1e-12, f"diagonal of {what}(x, x) vs {what}(x)")
        _assert_close(k, k_sym, rtol, f"{what}(x, x) vs {what}(x)")


BLOCKING_CASES = ["mlp2-erf", "tree-lcn-s2-gap"]


@pytest.mark.parametrize("name", BLOCKING_CASES)
def test_blocking_does_not_change_the_result(name):
    """block_size=3 splits n = 11 into blocks with padded rows (x2=None: 4 x 4 blocks of 3, one
    triangle of 10; x2 given with 7 rows: 11 blocks of 1 x 7); the result equals one big block."""
    layers, d = ARCHITECTURES[name]
    x, y = _inputs(d), _inputs(d, N2, seed=1)
    for x2 in (None, y):
        n2 = N1 if x2 is None else N2
        plan = kernel_plan(layers, d, N1, None if x2 is None else N2, block_size=3)
        assert plan.blocks > 1
        calls = []
        blocked = nngp_ntk(layers, x, x2, block_size=3,
                           progress=lambda done, total: calls.append((done, total)))
        whole = nngp_ntk(layers, x, x2)
        _check_output(blocked, (N1, n2))
        _check_output(whole, (N1, n2))
        assert [c[0] for c in calls] == list(range(1, plan.blocks + 1))
        assert {c[1] for c in calls} == {plan.blocks}
        for k, k_whole, what in zip(blocked, whole, ("nngp", "ntk")):
            _assert_close(k, k_whole, 1e-13, f"{what} blocked vs one block (x2 given: {n2 == N2})")
        if x2 is None:
            np.testing.assert_array_equal(blocked.nngp, blocked.nngp.T)
            np.testing.assert_array_equal(blocked.ntk, blocked.ntk.T)


# --- CNN vs LCN ---------------------------------------------------------------------------------


def test_tree_cnn_equals_tree_lcn():
    """With non-overlapping patches every position is read by its own filter application, so the
    flatten-readout kernel only involves the diagonal of the spatial covariance, which weight
    sharing does not change (Novak et al. 2019)."""
    for (d, s), x2_given in (((8, 2), False), ((9, 3), True)):
        x = _inputs(d)
        x2 = _inputs(d, N2, seed=1) if x2_given else None
        cnn = nngp_ntk(tree_cnn(d, s, b_std=0.2), x, x2)
        lcn = nngp_ntk(tree_lcn(d, s, b_std=0.2), x, x2)
        for a, b, what in zip(cnn, lcn, ("nngp", "ntk")):
            # The same operations in the same order on the diagonal: bit-identical (measured).
            np.testing.assert_array_equal(a, b, err_msg=f"{what} tree CNN vs LCN, d={d}, s={s}")


def test_tree_cnn_pooled_equals_flattened():
    """A tree CNN ends with one position, and filter = stride means the covariance at the output
    position only involves diagonal entries, so global_avg_pool (the full-covariance path) and
    flatten (the diagonal path) give the same kernel: an independent check of `_conv_full`."""
    d = 9
    x = _inputs(d)
    pooled = nngp_ntk(tree_cnn(d, 3, readout="global_avg_pool", b_std=0.1), x)
    flat = nngp_ntk(tree_cnn(d, 3, readout="flatten", b_std=0.1), x)
    assert FULL in kernel_plan(tree_cnn(d, 3, readout="global_avg_pool"), d, N1).modes
    for a, b, what in zip(pooled, flat, ("nngp", "ntk")):
        _assert_close(a, b, 1e-13, what)  # measured: 0 (bit-identical)


def _as_local(layers):
    return [{**layer, "layer": "local"} if layer["layer"] == "conv" else layer for layer in layers]


def test_overlapping_cnn_and_lcn_differ_when_pooled_agree_when_flattened():
    d = 12
    x = _inputs(d)
    pooled_cnn = conv_net(1, 3, padding="circular", readout="global_avg_pool")
    pooled = [nngp_ntk(layers, x) for layers in (pooled_cnn, _as_local(pooled_cnn))]
    # Pooling sees the covariance between positions, which weight sharing creates and an LCN
    # lacks. Measured: 0.26 (nngp), 0.52 (ntk).
    for a, b, what in zip(*pooled, ("nngp", "ntk")):
        assert _max_rel(a, b) > 1e-3, f"{what}: pooled CNN and LCN kernels should differ"
    flat_cnn = conv_net(1, 3, padding="circular", readout="flatten")
    flat = [nngp_ntk(layers, x) for layers in (flat_cnn, _as_local(flat_cnn))]
    for a, b, what in zip(*flat, ("nngp", "ntk")):
        np.testing.assert_array_equal(a, b, err_msg=f"{what}: flattened CNN vs LCN")


# --- The cheap path is chosen and shown ---------------------------------------------------------


def test_plan_modes_and_description():
    plan = kernel_plan(mlp(3), 8, 5)
    assert set(plan.modes) == {VECTOR}
    assert "diagonal" not in plan.describe() and "full" not in plan.describe()

    for layers, d in ((tree_cnn(16, 2), 16), (conv_net(2, 3, readout="flatten"), 12),
                      (ARCHITECTURES["mixed-conv-local-flatten-mlp"][0], 16)):
        plan = kernel_plan(layers, d, 5)
        assert FULL not in plan.modes, layers
        assert DIAGONAL in plan.modes
        assert "diagonal" in plan.describe() and "full" not in plan.describe()

    layers = conv_net(2, 3, readout="global_avg_pool")
    plan = kernel_plan(layers, 12, 5)
    gap = [i for i, layer in enumerate(layers) if layer["layer"] == "global_avg_pool"][0]
    assert plan.modes[gap] == FULL  # the covariance entering the pooling layer
    assert plan.modes[-1] == VECTOR
    assert "full" in plan.describe()
    # A local layer only reads the diagonal, even in a pooled stack.
    layers = ARCHITECTURES["mixed-local-conv-gap"][0]
    plan = kernel_plan(layers, 12, 5)
    assert plan.modes[0] == DIAGONAL and plan.modes[4] == FULL


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("call, phrase", [
    (lambda: nngp_ntk(mlp(1), np.array([[1.0, np.nan], [0.0, 1.0]])), "NaN or infinite"),
    (lambda: nngp_ntk(mlp(1), np.ones((2, 2)), np.array([[np.inf, 0.0]])), "NaN or infinite"),
    (lambda: nngp_ntk(mlp(1), np.ones(4)), "2-D array"),
    (lambda: nngp_ntk(mlp(1), np.ones((2, 4)), np.ones((3, 5))), "same number of columns"),
    (lambda: nngp_ntk(tree_cnn(16, 2), np.ones((2, 12))), "does not fit"),
    (lambda: nngp_ntk([{"layer": "softmax"}, {"layer": "dense"}], np.ones((2, 3))),
     "unknown layer"),
    (lambda: nngp_ntk(mlp(1), np.ones((100, 3)), memory_budget=1000), "memory budget"),
    (lambda: nngp_ntk(mlp(1), np.ones((4, 3)), block_size=2.5), "block_size must be a positive"),
    (lambda: nngp_ntk(mlp(1), "not an array"), "numeric array"),
])
def test_bad_input_says_what_to_change(call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call()


# --- Memory planning ----------------------------------------------------------------------------


def test_memory_plan_for_a_large_mlp_fits_the_budget():
    plan = kernel_plan(mlp(5), 50, 20000)
    assert plan.memory_budget == kernels.DEFAULT_MEMORY_BUDGET
    assert plan.output_bytes == 2 * 8 * 20000 * 20000
    assert plan.block_bytes + plan.output_bytes <= plan.memory_budget
    b1, b2 = plan.block
    k = -(-20000 // b1)
    assert b1 == b2 and plan.blocks == k * (k + 1) // 2  # one triangle of square blocks


def test_pooled_cnn_is_planned_in_blocks():
    plan = kernel_plan(conv_net(2, 3, readout="global_avg_pool"), 32, 300)
    assert max(plan.block) < 300 and plan.blocks > 1
    assert plan.block_bytes + plan.output_bytes <= plan.memory_budget
    # A tight budget forces smaller blocks, still within it.
    tight = kernel_plan(conv_net(2, 3, readout="global_avg_pool"), 32, 300,
                        memory_budget=plan.output_bytes + plan.block_bytes // 4)
    assert tight.block[0] * tight.block[1] < plan.block[0] * plan.block[1]
    assert tight.block_bytes + tight.output_bytes <= tight.memory_budget


# --- Compiled once per architecture and block shape ---------------------------------------------

_COMPILES = []


def _count_compile(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES.append(duration)


def test_compiled_once_per_architecture_and_block_shape():
    jax.monitoring.register_event_duration_secs_listener(_count_compile)
    try:
        # Inputs of d = 23, which no other test gives an erf MLP: its first stage is new to the
        # run (blocks of a few inputs are padded to the same 8 x 8 whatever their number).
        layers = mlp(2, activation="erf", w_std=1.2345, b_std=0.0123)
        x = _inputs(23, n=6, seed=3)

        start = len(_COMPILES)
        first = nngp_ntk(layers, x)
        assert len(_COMPILES) > start, "the detector saw no compilation on a new architecture"

        hits, misses = kernels._compiled_stage.cache_info()[:2]
        start = len(_COMPILES)
        second = nngp_ntk(layers, 2.0 * x)  # same architecture and block shape, new values
        assert len(_COMPILES) == start, f"{len(_COMPILES) - start} new compilation(s)"
        info = kernels._compiled_stage.cache_info()
        assert info.misses == misses and info.hits > hits
        assert not np.array_equal(first.nngp, second.nngp)

        # Other scales, the same structure: the scales are arguments of the same programs.
        start = len(_COMPILES)
        rescaled = nngp_ntk(mlp(2, activation="erf", w_std=0.75, b_std=0.5), x)
        assert len(_COMPILES) == start, f"{len(_COMPILES) - start} new compilation(s)"
        assert not np.allclose(rescaled.nngp, first.nngp)  # (their values: the reference tests)

        # A few rows more or fewer, or a given x2 of another size: blocks are padded to the same
        # bucketed shape (8 x 8 here), so the same programs run.
        assert kernel_plan(layers, 23, 5).block == kernel_plan(layers, 23, 6, 7).block == (8, 8)
        start = len(_COMPILES)
        fewer = nngp_ntk(layers, x[:5])
        given = nngp_ntk(layers, x, _inputs(23, n=7, seed=4))
        assert len(_COMPILES) == start, f"{len(_COMPILES) - start} new compilation(s)"
        assert fewer.nngp.shape == (5, 5) and given.nngp.shape == (6, 7)
        np.testing.assert_array_equal(fewer.nngp, first.nngp[:5, :5])

        start = len(_COMPILES)
        nngp_ntk(layers, x[:4])  # a new block shape compiles again
        assert len(_COMPILES) > start
    finally:
        jax.monitoring.unregister_event_duration_listener(_count_compile)


# --- Quadrature degree ----------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_quadrature_kernels_converge_with_degree(activation):
    """Default degree (96) against 200, inputs of unit variance per coordinate, w_std = 1.

    Measured max error / max entry: tanh 1.7e-14 (nngp), 2.7e-14 (ntk); sigmoid 3.4e-14, 3.4e-14.
    (With inputs scaled by 2, variance 4 per coordinate, tanh's NTK is off by 1.5e-8: saturating
    activations at large variance need more points, test_activations.py.) Degree 12 is off by
    0.28 (tanh) and 2.5e-3 (sigmoid), so the degree does reach the recursion."""
    layers = mlp(2, activation=activation, w_std=1.0, b_std=0.1)
    x = _inputs(12, n=6)
    default = nngp_ntk(layers, x)
    fine = nngp_ntk(layers, x, quadrature_degree=200)
    coarse = nngp_ntk(layers, x, quadrature_degree=12)
    for a, b, c, what in zip(default, fine, coarse, ("nngp", "ntk")):
        _assert_close(a, b, 1e-12, f"{activation} {what}: degree 96 vs 200")
        assert _max_rel(c, b) > 1e-4, f"{activation} {what}: degree 12 should be visibly worse"


def test_row_ids_match_row_equality():
    from engine.kernels import _row_ids

    rng = np.random.default_rng(3)
    x = rng.integers(-1, 2, size=(200, 3)).astype(float)
    x[5] = -0.0 * x[5]  # signed zeros are the same input
    ids = _row_ids(x)
    same = (x[:, None, :] == x[None, :, :]).all(axis=-1)
    np.testing.assert_array_equal(ids[:, None] == ids[None, :], same)


# --- Blocks sized to the device -----------------------------------------------------------------

@pytest.mark.parametrize("layers,n", [(mlp(3, b_std=0.1), 700),
                                      (conv_net(2, 3, readout="global_avg_pool"), 120)],
                         ids=["mlp", "conv_gap"])
def test_an_accelerator_plan_gives_the_same_numbers_in_fewer_blocks(layers, n):
    x = _inputs(8, n=n, seed=5)
    cpu = kernel_plan(layers, 8, n, backend="cpu")
    gpu = kernel_plan(layers, 8, n, backend="gpu")
    assert gpu.blocks < cpu.blocks and gpu.backend == "gpu" and cpu.backend == "cpu"
    assert "CPU's cache" in cpu.describe() and "GPU's memory" in gpu.describe()
    on_cpu = nngp_ntk(layers, x, backend="cpu")
    on_gpu = nngp_ntk(layers, x, backend="gpu")  # the GPU's plan, run here on the CPU
    for a, b in zip(on_cpu, on_gpu):
        assert _max_rel(b, a) < 1e-12


def test_an_accelerator_plan_stays_within_the_memory_budget():
    # The 20,000 x 20,000 MLP kernel: dozens of dispatches on a GPU, not thousands.
    plan = kernel_plan(mlp(2), 64, 20_000, backend="cuda")
    cpu = kernel_plan(mlp(2), 64, 20_000, backend="cpu")
    assert plan.backend == "gpu" and plan.blocks <= 50 and cpu.blocks > 1000
    assert plan.memory_bytes <= plan.memory_budget
    tight = kernel_plan(mlp(2), 64, 20_000, memory_budget=2 * 8 * 20_000**2 + 2**28,
                        backend="cuda")
    assert tight.blocks > plan.blocks and tight.memory_bytes <= tight.memory_budget


def test_an_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        kernel_plan(mlp(1), 4, 10, backend="abacus")
