"""Tests for `engine.networks`: finite networks in neural-tangents' NTK parameterisation.

Expected values are computed independently of the code under test: layer outputs from JAX's own
convolutions (`jax.lax.conv_general_dilated`, `conv_general_dilated_local`), the tangent kernel from
`jax.jacrev` on the flattened parameters, and, at infinite width, the analytic kernels of
`engine.kernels.nngp_ntk` compared with Monte Carlo estimates whose tolerances are derived from the
sample size and the width (each test says how).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import engine
from engine.kernels import nngp_ntk
from engine.networks import (apply, empirical_ntk, hidden_weight_layers, init, sample_outputs)
from engine.specs import conv_padding, parse_layers

F64 = jnp.float64


def _inputs(key, n, d):
    """`n` Gaussian inputs of dimension `d` with norms spread over a factor ~2, so that the
    kernels' dependence on the norm is exercised too."""
    x = np.asarray(jax.random.normal(key, (n, d), F64))
    return x * np.linspace(0.7, 1.3, n)[:, None]


def _n_params(params):
    return sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(params))


def _local_gap():
    """Two `local` layers (the first with zero padding, the second strided) read out by pooling:
    per-position weights and biases, and relu's non-zero mean couples positions again."""
    return [{"layer": "local", "filter_size": 3, "stride": 1, "padding": "same", "w_std": 1.3,
             "b_std": 0.3}, {"layer": "relu"},
            {"layer": "local", "filter_size": 2, "stride": 2, "w_std": 1.3, "b_std": 0.3},
            {"layer": "relu"}, {"layer": "global_avg_pool"}, {"layer": "dense", "w_std": 1.3,
                                                             "b_std": 0.3}]


def _scale_first_w_std(layers, factor):
    """The same architecture with the first layer's `w_std` multiplied by `factor`."""
    layers = [dict(spec) for spec in layers]
    layers[0]["w_std"] = layers[0].get("w_std", 1.0) * factor
    return layers


# --- (a) shapes, parameter counts, validation ---------------------------------------------------


def test_mlp_param_shapes_and_count(key):
    layers = engine.mlp(2, b_std=0.1)
    params = init(layers, 5, key=key, width=[7, 3])
    shapes = [tuple(np.shape(a) for a in p) for p in params]
    assert shapes == [((5, 7), (7,)), (), ((7, 3), (3,)), (), ((3, 1), (1,))]
    assert _n_params(params) == 5 * 7 + 7 + 7 * 3 + 3 + 3 + 1
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(params))
    out = apply(layers, params, np.ones((4, 5)))
    assert out.shape == (4,) and out.dtype == jnp.float32
    params64 = init(layers, 5, key=key, width=4, dtype=F64)
    assert apply(layers, params64, np.ones((4, 5))).dtype == F64


def test_conv_and_local_param_shapes(key):
    cnn = init(engine.tree_cnn(8, 2), 8, key=key, width=4)
    lcn = init(engine.tree_lcn(8, 2), 8, key=key, width=4)
    weights = lambda params: [tuple(np.shape(a) for a in p) for p in params if p]  # noqa: E731
    assert weights(cnn) == [((2, 1, 4), (4,)), ((2, 4, 4), (4,)), ((2, 4, 4), (4,)), ((4, 1), (1,))]
    # local: one filter and one bias per output position (4, 2, 1 positions).
    assert weights(lcn) == [((4, 2, 1, 4), (4, 4)), ((2, 2, 4, 4), (2, 4)),
                            ((1, 2, 4, 4), (1, 4)), ((4, 1), (1,))]
    assert _n_params(lcn) == 4 * 2 * 4 + 16 + 2 * 2 * 16 + 8 + 2 * 16 + 4 + 4 + 1
    # flatten over 6 positions x 5 channels: the readout has fan_in 30.
    layers = engine.conv_net(1, 3, padding="same", readout="flatten")
    params = init(layers, 6, key=key, width=5)
    assert params[-1][0].shape == (30, 1)
    assert apply(layers, params, np.ones((2, 6))).shape == (2,)


def test_width_per_hidden_weight_layer(key):
    layers = engine.conv_net(2, 3)  # conv, relu, conv, relu, global_avg_pool, dense
    assert hidden_weight_layers(layers) == (0, 2)
    params = init(layers, 6, key=key, width=(3, 5))
    assert params[0][0].shape == (3, 1, 3) and params[2][0].shape == (3, 3, 5)
    assert params[-1][0].shape == (5, 1)


@pytest.mark.parametrize("width, message", [
    ([4], "2 hidden weight layer"),
    ([4, 4, 4], "one width per hidden weight layer"),
    (0, "at least 1"),
    (-3, "at least 1"),
    ([4, 0], r"width\[1\] \(layer 2, dense\) must be at least 1"),
    (2.5, "positive whole number"),
    (True, "positive whole number"),
    ("wide", "int or a sequence"),
])
def test_width_validation(key, width, message):
    with pytest.raises(ValueError, match=message):
        init(engine.mlp(2), 3, key=key, width=width)


def test_input_and_params_validation(key):
    layers = engine.tree_cnn(8, 2)
    with pytest.raises(ValueError, match="not fit|longer|does not"):
        init(layers, 6, key=key, width=4)  # 6 positions: stride 2 does not fit the second layer
    params = init(layers, 8, key=key, width=4)
    with pytest.raises(ValueError, match="shape"):
        apply(layers, params, np.ones(8))
    with pytest.raises(ValueError, match="one entry per layer"):
        apply(layers, params[:-1], np.ones((2, 8)))
    with pytest.raises(ValueError, match="unknown layer"):
        init([{"layer": "dens"}], 3, key=key)
    with pytest.raises(ValueError, match="n_networks"):
        sample_outputs(layers, np.ones((2, 8)), key=key, width=4, n_networks=0)


def test_width_one_entry_accepted_as_float_whole_number(key):
    params = init(engine.mlp(1), 3, key=key, width=4.0)
    assert params[0][0].shape == (3, 4)


# --- Forward pass against independent implementations ------------------------------------------


def test_mlp_forward_matches_formula(key):
    layers = engine.mlp(2, activation="erf", w_std=1.5, b_std=0.2)
    params = init(layers, 3, key=key, width=[6, 4], dtype=F64)
    x = _inputs(jax.random.fold_in(key, 1), 5, 3)
    (w1, b1), _, (w2, b2), _, (w3, b3) = [tuple(map(np.asarray, p)) for p in params]
    from scipy.special import erf
    h = erf(1.5 / math.sqrt(3) * x @ w1 + 0.2 * b1)
    h = erf(1.5 / math.sqrt(6) * h @ w2 + 0.2 * b2)
    expected = (1.5 / math.sqrt(4) * h @ w3 + 0.2 * b3)[:, 0]
    np.testing.assert_allclose(np.asarray(apply(layers, params, x)), expected, rtol=1e-12)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("filter_size, stride, padding", [
    (3, 1, "valid"),
    (2, 1, "same"),  # asymmetric padding: (0, 1)
    (3, 2, "same"),
    (3, 1, "circular"),
    (2, 3, "same"),  # stride longer than the filter: no padding
    (2, 2, "valid"),  # filter = stride (the trees): the patches are a reshape
    (3, 3, "valid"),
    (3, 3, "same"),
    (3, 3, "circular"),
])
def test_conv_and_local_match_lax(key, shared, filter_size, stride, padding):
    """First-layer pre-activations from JAX's convolutions, then an explicit flatten readout."""
    d = 6
    kind = "conv" if shared else "local"
    layers = [{"layer": kind, "filter_size": filter_size, "stride": stride, "padding": padding,
               "w_std": 1.7, "b_std": 0.4}, {"layer": "flatten"},
              {"layer": "dense", "w_std": 0.9, "b_std": 0.3}]
    params = init(layers, d, key=key, width=5, dtype=F64)
    x = _inputs(jax.random.fold_in(key, 1), 4, d)
    (w, b), _, (wd, bd) = params
    lhs = jnp.asarray(x)[:, :, None]  # NWC, one channel
    lax_padding = {"valid": "VALID", "same": "SAME", "circular": "VALID"}[padding]
    if padding == "circular":  # wrap by the SAME amounts, then a VALID convolution
        lo, hi = conv_padding(parse_layers(layers)[0], d)
        lhs = jnp.concatenate([lhs[:, d - lo:], lhs, lhs[:, :hi]], axis=1)
    if shared:
        conv = jax.lax.conv_general_dilated(lhs, w, (stride,), lax_padding,
                                            dimension_numbers=("NWC", "WIO", "NWC"))
        bias = b[None, None, :]
    else:
        # conv_general_dilated_local wants one filter per output position, laid out "IWO" with
        # I = (channel, filter offset) flattened channel-major and W = the output positions.
        positions, _, channels, out = w.shape
        rhs = jnp.transpose(w, (2, 1, 0, 3)).reshape(channels * filter_size, positions, out)
        conv = jax.lax.conv_general_dilated_local(lhs, rhs, (stride,), lax_padding, (filter_size,),
                                                  dimension_numbers=("NWC", "IWO", "NWC"))
        bias = b[None, :, :]
    z = 1.7 / math.sqrt(filter_size * 1) * conv + 0.4 * bias  # fan_in = filter_size * 1 channel
    flat = z.reshape(z.shape[0], -1)
    expected = (0.9 / math.sqrt(flat.shape[1]) * flat @ wd + 0.3 * bd[None, :])[:, 0]
    np.testing.assert_allclose(np.asarray(apply(layers, params, x)), np.asarray(expected),
                               rtol=1e-12, atol=1e-12)


def test_dense_before_readout_acts_on_channels(key):
    """A `dense` between conv layers and the readout is a 1x1 convolution: shared over positions."""
    layers = [{"layer": "conv", "filter_size": 2, "stride": 1, "padding": "circular"},
              {"layer": "relu"}, {"layer": "dense", "w_std": 1.2, "b_std": 0.5}, {"layer": "erf"},
              {"layer": "global_avg_pool"}, {"layer": "dense"}]
    as_conv = [dict(layers[0]), layers[1],
               {"layer": "conv", "filter_size": 1, "w_std": 1.2, "b_std": 0.5}, *layers[3:]]
    params = init(layers, 5, key=key, width=[3, 4], dtype=F64)
    conv_params = list(params)
    w, b = params[2]
    conv_params[2] = (w[None], b)  # (1, C_in, C_out)
    x = _inputs(key, 3, 5)
    np.testing.assert_allclose(np.asarray(apply(layers, params, x)),
                               np.asarray(apply(as_conv, tuple(conv_params), x)), rtol=1e-13)


def test_apply_compiles_once_per_architecture(key):
    from engine.networks import _apply_jit
    layers = engine.tree_cnn(4, 2, b_std=0.1)
    params = init(layers, 4, key=key, width=3)
    apply(layers, params, np.ones((2, 4)))
    before = _apply_jit._cache_size()
    apply(parse_layers(layers), params, np.zeros((2, 4)))  # parsed or dicts: one cache entry
    apply(engine.tree_cnn(4, 2, b_std=0.1), params, np.ones((2, 4)))
    assert _apply_jit._cache_size() == before


# --- Empirical NTK against the Jacobian ---------------------------------------------------------


@functools.partial(jax.jit, static_argnums=0)
def _flat_jacobian(arch, params, x):
    """`(n, number of parameters)`: every output's gradient, by reverse-mode autodiff."""
    jac = jax.jacrev(lambda p: apply(arch, p, x))(params)
    return jnp.concatenate([j.reshape(x.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)],
                           axis=1)


@pytest.mark.parametrize("layers, d", [
    (_local_gap(), 4),
    (engine.conv_net(2, 3, stride=1, padding="circular", b_std=0.4), 5),
    ([{"layer": "conv", "filter_size": 3, "stride": 2, "padding": "same", "b_std": 0.5},
      {"layer": "tanh"}, {"layer": "dense", "b_std": 0.2}, {"layer": "gelu"},
      {"layer": "flatten"}, {"layer": "dense", "b_std": 0.1}, {"layer": "sigmoid"},
      {"layer": "dense", "b_std": 0.2}], 6),
])
def test_empirical_ntk_equals_jacobian_product(key, layers, d):
    """The structured, layer-by-layer NTK equals J(x1) J(x2)^T from the full Jacobian."""
    arch = parse_layers(layers)
    params = init(layers, d, key=key, width=5, dtype=F64)
    x = _inputs(jax.random.fold_in(key, 1), 7, d)
    jac = _flat_jacobian(arch, params, x)
    expected = np.asarray(jac @ jac.T)
    np.testing.assert_allclose(np.asarray(empirical_ntk(layers, params, x[:4], x[4:])),
                               expected[:4, 4:], rtol=1e-10, atol=1e-12)
    sym = np.asarray(empirical_ntk(layers, params, x))
    np.testing.assert_allclose(sym, expected, rtol=1e-10, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(sym) > -1e-10)


@pytest.mark.parametrize("dtype", [jnp.float32, F64], ids=["f32", "f64"])
def test_init_is_one_exact_draw_cut_in_order_from_a_shared_program(key, dtype):
    """`init` draws from a program compiled per power of two (`networks._draw`); its entries are
    exactly `jax.random.normal(key, (P,))` for the P parameters, cut layer by layer, `W` before
    `b` (bit for bit: the partitionable Threefry's prefix property), and architectures whose
    parameter counts share a power of two share the program."""
    from engine import networks

    cases = [(engine.mlp(1), 4, 8), (engine.mlp(3), 16, [5, 7, 3]), (engine.tree_cnn(8, 2), 8, 4),
             (engine.tree_lcn(16, 2), 16, 3), (engine.tree_cnn(27, 3), 27, 2)]
    networks._normal.clear_cache()
    buckets = set()
    for layers, d, width in cases:
        params = init(layers, d, key=key, width=width, dtype=dtype)
        count = networks.parameter_count(layers, d, width=width)
        leaves = jax.tree.leaves(params)
        assert all(isinstance(leaf, jax.Array) and leaf.dtype == dtype for leaf in leaves)
        flat = np.concatenate([np.asarray(leaf).ravel() for leaf in leaves])
        np.testing.assert_array_equal(flat, np.asarray(jax.random.normal(key, (count,), dtype)))
        buckets.add(1 << (count - 1).bit_length())
    assert networks._normal._cache_size() == len(buckets) < len(cases)


def test_sample_outputs_rows_are_networks(key):
    layers = engine.tree_lcn(4, 2, b_std=0.2)
    x = _inputs(key, 3, 4)
    samples = sample_outputs(layers, x, key=key, width=4, n_networks=5, dtype=F64, batch_size=2)
    assert samples.shape == (5, 3)
    keys = jax.random.split(key, 5)
    for k in (0, 4):
        params = init(layers, 4, key=keys[k], width=4, dtype=F64)
        np.testing.assert_allclose(np.asarray(samples[k]), np.asarray(apply(layers, params, x)),
                                   rtol=1e-12)


# --- (b) Monte Carlo: output covariance over random networks = analytic NNGP -------------------

# Covariance tolerance, entry by entry, for N networks with (zero-mean) outputs f:
#   * sampling: the estimate C_xy = mean_k f_k(x) f_k(y) of a Gaussian pair has variance
#     (K_xx K_yy + K_xy^2) / N (Isserlis), so we allow 5 standard errors;
#   * finite width: with one hidden layer E[f f'] is exactly the NNGP at any width; each further
#     hidden layer reads an empirical kernel that fluctuates by O(1/sqrt(width)), and the curvature
#     of the dual activation turns that into a bias O(1/width). Measured for these six
#     architectures at widths 4 to 32 with 200,000 networks each: |bias| <= 0.45 sqrt(K_xx K_yy) /
#     width, flat in the width (so the 1/width law holds). We allow 1.0 sqrt(K_xx K_yy) / width,
#     below 1% of the kernel's scale at the widths used here.
SE_MULTIPLE = 5.0
BIAS_CONSTANT = 1.0


def _readout_w_std_scaled(layers, nngp, factor):
    """The NNGP with the readout's `w_std` times `factor`, without recomputing it: the readout maps
    the kernel K of its input to `w^2 K + b^2`."""
    b2 = parse_layers(layers)[-1].b_std ** 2
    return factor ** 2 * (nngp - b2) + b2


_MLP_RELU = engine.mlp(2, w_std=1.4, b_std=0.3)
_MLP_ERF = engine.mlp(2, activation="erf", w_std=1.6, b_std=0.2)
_TREE_CNN = engine.tree_cnn(4, 2, w_std=1.3, b_std=0.2)
_TREE_LCN = engine.tree_lcn(4, 2, w_std=1.3, b_std=0.2)
_CIRCULAR_GAP = engine.conv_net(2, 3, stride=1, padding="circular", w_std=1.3, b_std=0.3)
MC_CASES = {
    # name: (layers, d, width, networks, {what: architecture whose kernel must be rejected})
    "mlp_relu": (_MLP_RELU, 8, 256, 2000,
                 {"first w_std x1.15": _scale_first_w_std(_MLP_RELU, 1.15)}),
    "mlp_erf": (_MLP_ERF, 8, 256, 2000,
                {"tanh for erf": [dict(s, layer="tanh") if s["layer"] == "erf" else s
                                  for s in _MLP_ERF]}),
    "tree_cnn": (_TREE_CNN, 4, 128, 3000,
                 {"first w_std x1.15": _scale_first_w_std(_TREE_CNN, 1.15)}),
    "tree_lcn": (_TREE_LCN, 4, 128, 3000,
                 {"first w_std x1.15": _scale_first_w_std(_TREE_LCN, 1.15)}),
    "circular_cnn_gap": (_CIRCULAR_GAP, 6, 128, 2000,
                         {"zero padding": [dict(s, padding="same") if "padding" in s else s
                                           for s in _CIRCULAR_GAP]}),
    "local_gap": (_local_gap(), 4, 128, 2000,
                  {"shared weights": [dict(s, layer="conv") if s["layer"] == "local" else s
                                      for s in _local_gap()]}),
}


def _mc_zscores(samples, nngp, width):
    """|C - K| / tolerance entry by entry (<= 1 passes), with the tolerance described above."""
    n_networks = samples.shape[0]
    estimate = samples.T @ samples / n_networks
    diag = np.diag(nngp)
    standard_error = np.sqrt((diag[:, None] * diag[None, :] + nngp ** 2) / n_networks)
    bias = BIAS_CONSTANT * np.sqrt(diag[:, None] * diag[None, :]) / width
    return np.abs(estimate - nngp) / (SE_MULTIPLE * standard_error + bias)


@pytest.mark.parametrize("name", list(MC_CASES))
def test_monte_carlo_covariance_matches_nngp(key, name):
    layers, d, width, n_networks, wrong = MC_CASES[name]
    x = _inputs(jax.random.fold_in(key, 1), 6, d)
    samples = np.asarray(sample_outputs(layers, x, key=jax.random.fold_in(key, 2), width=width,
                                        n_networks=n_networks, dtype=F64, batch_size=100))
    nngp = nngp_ntk(layers, x).nngp
    ratio = _mc_zscores(samples, nngp, width)
    assert ratio.max() <= 1.0, f"{name}: max |C - K| / tolerance = {ratio.max():.2f}"
    # The outputs have mean zero (the readout's weights are symmetric around zero).
    assert np.all(np.abs(samples.mean(0)) <= 5 * np.sqrt(np.diag(nngp) / n_networks))
    # The tolerance is tight enough to reject a kernel that is slightly wrong: the readout's w_std
    # 15% too large, and the architecture-specific near misses of MC_CASES.
    wrong_kernels = {"readout w_std x1.15": _readout_w_std_scaled(layers, nngp, 1.15),
                     **{what: nngp_ntk(other, x).nngp for what, other in wrong.items()}}
    for what, other in wrong_kernels.items():
        rejected = _mc_zscores(samples, other, width)
        assert rejected.max() > 1.0, f"{name}: the tolerance cannot tell the {what} kernel apart"


# --- (c) The empirical NTK of one wide network = analytic NTK ----------------------------------

# For a network of width W the empirical NTK is an average over W channels per layer, so its
# relative Frobenius error `err = |Theta_W - Theta| / |Theta|` is O(1/sqrt(W)) (Jacot et al. 2018;
# the mean bias is only O(1/W)). For these three architectures sqrt(W) * err, measured over ~800
# networks at widths 64 to 4096, has median ~2, 90% quantile ~3.7 and largest value 8.5, with the
# same distribution at every width, and log(err) has standard deviation ~0.45. Tolerances:
#   * one network of width 4096 (MLP) or 2048 (trees): err <= 10 / sqrt(W) = 0.156 or 0.221;
#   * 16 networks at widths 128 and 512: the geometric mean of err must shrink by a factor in
#     [1.2, 4] (1/sqrt(W) gives 2; the log ratio has standard deviation 0.45 sqrt(2/16) = 0.16, so
#     the bounds sit 3.2 and 4.3 of them away; resampling the measured errors put the 0.1% and 99.9%
#     quantiles of the ratio at 1.16-1.39 and 3.2-3.8), and be at most 3.5 / sqrt(W) at width 512
#     (geometric mean of sqrt(W) * err: median ~2, 99.9% quantile ~3.0).
# A wrong analytic kernel adds an error that does not shrink with the width, so the geometric mean
# stops halving and stays above the bound (`test_wrong_analytic_ntk_is_detected`).
NTK_CASES = {  # name: (layers, d, width of the single wide network)
    "mlp": (_MLP_RELU, 8, 4096),
    "tree_cnn": (_TREE_CNN, 4, 2048),
    "tree_lcn": (_TREE_LCN, 4, 2048),
}


def _ntk_errors(layers, d, x, ntk, width, keys):
    """Relative Frobenius error of the empirical NTK of one network per key."""
    norm = np.linalg.norm(ntk)
    errors = []
    for k in keys:
        params = init(layers, d, key=k, width=width, dtype=F64)
        errors.append(np.linalg.norm(np.asarray(empirical_ntk(layers, params, x)) - ntk) / norm)
    return np.array(errors)


def _geometric_mean_errors(layers, d, x, ntk, key):
    """Geometric means of the error over 16 networks of width 128 and 16 of width 512."""
    keys = jax.random.split(key, 32)
    return tuple(float(np.exp(np.mean(np.log(_ntk_errors(layers, d, x, ntk, width, ks)))))
                 for width, ks in ((128, keys[:16]), (512, keys[16:])))


def _shrinks_like_sqrt_width(narrow, wide):
    return 1.2 <= narrow / wide <= 4.0 and wide <= 3.5 / math.sqrt(512)


@pytest.mark.parametrize("name", list(NTK_CASES))
def test_wide_network_ntk_matches_analytic(key, name):
    layers, d, width = NTK_CASES[name]
    x = _inputs(jax.random.fold_in(key, 1), 6, d)
    ntk = nngp_ntk(layers, x).ntk
    (err,) = _ntk_errors(layers, d, x, ntk, width, [jax.random.fold_in(key, 3)])
    assert err <= 10 / math.sqrt(width), f"{name}: relative error {err:.3f} at width {width}"

    narrow, wide = _geometric_mean_errors(layers, d, x, ntk, jax.random.fold_in(key, 4))
    assert _shrinks_like_sqrt_width(narrow, wide), f"{name}: error {narrow:.4f} -> {wide:.4f}"


def test_wrong_analytic_ntk_is_detected(key):
    """With the first layer's w_std 10% off in the analytic kernel (an NTK 18% off), both checks
    above fail."""
    layers, d, _ = NTK_CASES["mlp"]
    x = _inputs(jax.random.fold_in(key, 1), 6, d)
    wrong = nngp_ntk(_scale_first_w_std(layers, 1.1), x).ntk
    (err,) = _ntk_errors(layers, d, x, wrong, 4096, [jax.random.fold_in(key, 3)])
    narrow, wide = _geometric_mean_errors(layers, d, x, wrong, jax.random.fold_in(key, 4))
    assert err > 10 / math.sqrt(4096)
    assert not _shrinks_like_sqrt_width(narrow, wide)


# --- (d) CNN vs LCN: different functions, same kernel unless pooled ----------------------------


def _to_local(layers):
    return [dict(s, layer="local") if s["layer"] == "conv" else s for s in layers]


def test_cnn_and_lcn_same_kernel_different_functions(key):
    d, cnn, lcn = 4, _TREE_CNN, _TREE_LCN
    x = _inputs(jax.random.fold_in(key, 1), 6, d)
    k_cnn, k_lcn = nngp_ntk(cnn, x), nngp_ntk(lcn, x)
    np.testing.assert_allclose(k_cnn.nngp, k_lcn.nngp, rtol=1e-12)
    np.testing.assert_allclose(k_cnn.ntk, k_lcn.ntk, rtol=1e-12)

    params_cnn = init(cnn, d, key=key, width=16, dtype=F64)
    params_lcn = init(lcn, d, key=key, width=16, dtype=F64)
    f_cnn = np.asarray(apply(cnn, params_cnn, x))
    f_lcn = np.asarray(apply(lcn, params_lcn, x))
    assert np.max(np.abs(f_cnn - f_lcn)) > 0.1 * np.max(np.abs(f_cnn))

    # An LCN whose per-position weights are all copies of the CNN's computes the same function
    # (so the two share receptive fields and scalings), but its tangent kernel differs: the CNN's
    # gradient sums over positions, so it has cross-position terms. They average out as the width
    # grows (the analytic NTKs above agree), so at width 16 the difference is a few percent.
    lengths = engine.signal_lengths(parse_layers(lcn), d)
    tied = []
    for i, p in enumerate(params_cnn):
        if p and i < len(cnn) - 1:
            w, b = p
            tied.append((jnp.broadcast_to(w[None], (lengths[i],) + w.shape),
                         jnp.broadcast_to(b[None], (lengths[i],) + b.shape)))
        else:
            tied.append(p)
    tied = tuple(tied)
    np.testing.assert_allclose(np.asarray(apply(lcn, tied, x)), f_cnn, rtol=1e-12)
    ntk_cnn = np.asarray(empirical_ntk(cnn, params_cnn, x))
    ntk_tied = np.asarray(empirical_ntk(lcn, tied, x))
    assert np.linalg.norm(ntk_cnn - ntk_tied) > 0.01 * np.linalg.norm(ntk_cnn)


def test_pooling_separates_cnn_and_lcn_kernels(key):
    """Pooling reads the covariance between positions, which weight sharing creates and independent
    weights do not: pooled, the kernels differ; read out by flatten (only each position's own
    variance), they agree even for overlapping filters (Novak et al. 2019). A full tree ends with
    one position, where pooling is flatten, so its kernels stay equal."""
    x6 = _inputs(jax.random.fold_in(key, 1), 6, 6)
    x4 = _inputs(jax.random.fold_in(key, 1), 6, 4)
    shared = lambda layers: [dict(s, layer="conv") if s["layer"] == "local" else s  # noqa: E731
                             for s in layers]
    for cnn, lcn, x in ((_CIRCULAR_GAP, _to_local(_CIRCULAR_GAP), x6),
                        (shared(_local_gap()), _local_gap(), x4)):
        k_cnn, k_lcn = nngp_ntk(cnn, x), nngp_ntk(lcn, x)
        for a, b in ((k_cnn.nngp, k_lcn.nngp), (k_cnn.ntk, k_lcn.ntk)):
            assert np.linalg.norm(a - b) > 0.05 * np.linalg.norm(a)
    flat = [dict(s, layer="flatten") if s["layer"] == "global_avg_pool" else s
            for s in _CIRCULAR_GAP]
    k_cnn, k_lcn = nngp_ntk(flat, x6), nngp_ntk(_to_local(flat), x6)
    np.testing.assert_allclose(k_cnn.nngp, k_lcn.nngp, rtol=1e-12)
    np.testing.assert_allclose(k_cnn.ntk, k_lcn.ntk, rtol=1e-12)
    tree = [dict(s, layer="global_avg_pool") if s["layer"] == "flatten" else s for s in _TREE_CNN]
    np.testing.assert_allclose(nngp_ntk(tree, x4).nngp, nngp_ntk(_to_local(tree), x4).nngp,
                               rtol=1e-12)
