"""Regenerate tests/data/nt_reference.{json,npz}: reference NNGP/NTK kernels from neural-tangents.

Run it with the throwaway neural-tangents virtual environment (never with the project's own one)::

    bash tools/make_nt_venv.sh .nt-venv
    .nt-venv/bin/python tools/make_reference.py --out tests/data

It runs under jax 0.4.23 (the last jax neural-tangents 0.6.5 works with), so it must not import the
project's `engine` package. The architectures are written inline as the project's layer dicts (the
format `engine.specs.parse_layers` reads) and translated to `neural_tangents.stax` by `to_stax`,
following the conventions in shared/ENGINE_CONTRACT.md (NTK parameterisation, 1-D signals with one
channel in NWC layout, strides passed explicitly because stax's default stride is 1 and ours is the
filter size).

tests/test_kernels_reference.py compares `engine.kernels.nngp_ntk` against the files written here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import warnings
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # neural-tangents imports tensorflow; quiet it

import numpy as np  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

N1, N2 = 7, 5
QUANTUM = 1 / 16
WIDTH = 512  # hidden width given to stax; its kernel_fn ignores it (infinite width)

# --- Architectures, as the project's layer dicts ---------------------------------------------------


def dense(w_std=1.0, b_std=0.0):
    return {"layer": "dense", "w_std": w_std, "b_std": b_std}


def conv(kind, filter_size, stride=None, padding=None, w_std=1.0, b_std=0.0):
    layer = {"layer": kind, "filter_size": filter_size}
    if stride is not None:  # left out on purpose in some cases: the default is filter_size
        layer["stride"] = stride
    if padding is not None:  # default: valid
        layer["padding"] = padding
    layer.update(w_std=w_std, b_std=b_std)
    return layer


def act(name):
    return {"layer": name}


def mlp(depth, activation="relu", w_std=1.0, b_std=0.0):
    """`depth` hidden layers, then the dense readout (as `engine.specs.mlp`)."""
    return [x for _ in range(depth) for x in (dense(w_std, b_std), act(activation))] + [dense(w_std, b_std)]


def tree(kind, s, d, readout="flatten", activation="relu", w_std=1.0, b_std=0.0):
    """Hierarchical net: log_s(d) layers with filter = stride = s (stride and padding left to their
    defaults), so the last conv/local layer has one position (as `engine.specs.tree_cnn/tree_lcn`)."""
    depth = round(math.log(d, s))
    assert s ** depth == d
    layers = [x for _ in range(depth) for x in (conv(kind, s, w_std=w_std, b_std=b_std), act(activation))]
    return layers + [act(readout), dense(w_std, b_std)]


def conv_stack(depth, filter_size, stride, padding, readout, activation="relu", w_std=1.0, b_std=0.0,
               kind="conv"):
    layers = [x for _ in range(depth)
              for x in (conv(kind, filter_size, stride, padding, w_std, b_std), act(activation))]
    return layers + [act(readout), dense(w_std, b_std)]


W_B = [(1.0, 0.0), (1.5, 0.1), (2 ** 0.5, 0.5), (0.8, 1.0)]


def cases():
    """(name, group, layers, d). Group "exact": neural-tangents' closed forms (relu, erf, gelu,
    identity), compared at 1e-9. Group "quadrature": tanh and sigmoid, numerical on both sides."""
    out = []

    # MLPs: ReLU at depths 1, 2, 3, 5 on every (w_std, b_std) pair; d cycles through powers of two and
    # other lengths (x.x / d is then rounded, the same way on both sides).
    ds = [8, 16, 10, 5]
    for depth in (1, 2, 3, 5):
        for k, (w, b) in enumerate(W_B):
            out.append((f"mlp_relu_L{depth}_w{w:.3g}_b{b:g}", "exact", mlp(depth, "relu", w, b),
                        ds[(depth + k) % len(ds)]))
    out.append(("mlp_linear_L0_w1.5_b0.1", "exact", mlp(0, "relu", 1.5, 0.1), 8))
    out.append(("mlp_erf_L2_w1_b0", "exact", mlp(2, "erf", 1.0, 0.0), 8))
    out.append(("mlp_erf_L4_w1.5_b0.1", "exact", mlp(4, "erf", 1.5, 0.1), 10))
    out.append(("mlp_erf_L1_w1.41_b0.5", "exact", mlp(1, "erf", 2 ** 0.5, 0.5), 16))
    out.append(("mlp_identity_L2_w1.5_b0.1", "exact", mlp(2, "identity", 1.5, 0.1), 8))
    out.append(("mlp_relu_erf_mixed", "exact",
                [dense(1.5, 0.1), act("relu"), dense(0.8, 1.0), act("erf"), dense(), act("relu"), dense(1.2)],
                16))

    # Tree ("hierarchical") CNNs and LCNs: filter = stride = s, valid padding, log_s(d) layers.
    out.append(("tree_cnn_s2_d16_flatten", "exact", tree("conv", 2, 16), 16))
    out.append(("tree_cnn_s2_d16_flatten_bias", "exact", tree("conv", 2, 16, w_std=1.5, b_std=0.1), 16))
    out.append(("tree_cnn_s3_d27_flatten", "exact", tree("conv", 3, 27), 27))
    out.append(("tree_cnn_s3_d27_flatten_bias", "exact", tree("conv", 3, 27, w_std=2 ** 0.5, b_std=0.5), 27))
    out.append(("tree_lcn_s2_d16_flatten", "exact", tree("local", 2, 16), 16))
    out.append(("tree_lcn_s2_d16_flatten_bias", "exact", tree("local", 2, 16, w_std=1.5, b_std=0.1), 16))
    out.append(("tree_lcn_s3_d27_flatten", "exact", tree("local", 3, 27), 27))
    out.append(("tree_lcn_s3_d27_flatten_erf", "exact", tree("local", 3, 27, activation="erf"), 27))
    # Pooled readouts; with s**depth = d the last layer has one position, so pool the layer before:
    # a tree of depth log_s(d) - 1 leaves s positions to pool over.
    out.append(("tree_lcn_s2_d16_gap", "exact", tree("local", 2, 8, readout="global_avg_pool"), 16))
    out.append(("tree_lcn_s2_d16_gap_bias", "exact",
                tree("local", 2, 8, readout="global_avg_pool", w_std=1.5, b_std=0.1), 16))
    out.append(("tree_lcn_s2_d16_gap_full_depth", "exact", tree("local", 2, 16, readout="global_avg_pool"), 16))
    out.append(("tree_lcn_s3_d27_gap", "exact", tree("local", 3, 9, readout="global_avg_pool"), 27))
    out.append(("tree_cnn_s2_d16_gap", "exact", tree("conv", 2, 8, readout="global_avg_pool"), 16))
    out.append(("tree_cnn_s3_d27_gap_bias", "exact",
                tree("conv", 3, 9, readout="global_avg_pool", w_std=0.8, b_std=1.0), 27))

    # Overlapping CNNs: filter 3, stride 1, three paddings, two readouts, d = 12.
    for padding in ("same", "circular", "valid"):
        for readout, tag in (("flatten", "flatten"), ("global_avg_pool", "gap")):
            w, b = (1.0, 0.0) if readout == "flatten" else (1.5, 0.1)
            out.append((f"cnn_f3_s1_{padding}_{tag}", "exact",
                        conv_stack(2, 3, 1, padding, readout, w_std=w, b_std=b), 12))
    # Strided overlapping convolutions: filter 3, stride 2.
    out.append(("cnn_f3_s2_same_flatten", "exact", conv_stack(2, 3, 2, "same", "flatten"), 12))
    out.append(("cnn_f3_s2_same_gap_bias", "exact",
                conv_stack(2, 3, 2, "same", "global_avg_pool", w_std=1.5, b_std=0.1), 12))
    out.append(("cnn_f3_s2_circular_gap", "exact", conv_stack(2, 3, 2, "circular", "global_avg_pool"), 12))
    out.append(("cnn_f3_s2_circular_flatten_bias", "exact",
                conv_stack(2, 3, 2, "circular", "flatten", w_std=2 ** 0.5, b_std=0.5), 12))
    out.append(("cnn_f3_s2_valid_d13", "exact",
                [conv("conv", 3, 2, "valid"), act("relu"), conv("conv", 2, 2, "valid", 1.5, 0.1), act("relu"),
                 act("flatten"), dense(1.5, 0.1)], 13))
    out.append(("cnn_f3_s2_valid_d13_gap", "exact",
                [conv("conv", 3, 2, "valid"), act("relu"), conv("conv", 3, 1, "valid"), act("relu"),
                 act("global_avg_pool"), dense()], 13))
    # Locally connected layers with overlapping receptive fields and padding.
    out.append(("lcn_f3_s1_same_flatten", "exact",
                conv_stack(2, 3, 1, "same", "flatten", kind="local", w_std=1.5, b_std=0.1), 12))
    out.append(("lcn_f3_s1_same_gap", "exact", conv_stack(2, 3, 1, "same", "global_avg_pool", kind="local"), 12))
    out.append(("lcn_f3_s1_circular_gap_bias", "exact",
                conv_stack(2, 3, 1, "circular", "global_avg_pool", kind="local", w_std=0.8, b_std=1.0), 12))
    out.append(("lcn_f3_s2_valid_flatten", "exact", conv_stack(1, 3, 2, "valid", "flatten", kind="local"), 13))

    # Mixed stacks.
    out.append(("mixed_conv_relu_conv_erf_gap_mlp", "exact",
                [conv("conv", 3, 1, "circular", 1.5, 0.1), act("relu"), conv("conv", 3, 1, "circular"), act("erf"),
                 act("global_avg_pool"), dense(1.2, 0.2), act("relu"), dense()], 12))
    out.append(("mixed_conv_relu_flatten_mlp", "exact",
                [conv("conv", 3, 1, "same"), act("relu"), act("flatten"), dense(1.5, 0.1), act("relu"),
                 dense(1.5, 0.1)], 12))
    out.append(("mixed_tree_cnn_flatten_mlp", "exact",
                [conv("conv", 2), act("relu"), conv("conv", 2, w_std=1.5, b_std=0.1), act("relu"),
                 act("flatten"), dense(), act("erf"), dense(0.8, 1.0)], 16))
    out.append(("mixed_conv_then_local_gap", "exact",
                [conv("conv", 3, 1, "same"), act("relu"), conv("local", 3, 1, "same", 1.5, 0.1), act("relu"),
                 act("global_avg_pool"), dense()], 12))
    # A dense layer between conv layers acts on the channels at each position (a 1x1 convolution).
    out.append(("dense_between_convs_flatten", "exact",
                [conv("conv", 3, 1, "same"), act("relu"), dense(1.5, 0.1), act("relu"),
                 conv("conv", 3, 1, "same"), act("relu"), act("flatten"), dense()], 12))
    out.append(("dense_between_convs_gap", "exact",
                [conv("conv", 3, 1, "circular", 1.2, 0.3), act("erf"), dense(0.8, 1.0), act("relu"),
                 conv("conv", 2, 2, "circular"), act("relu"), act("global_avg_pool"), dense()], 12))
    out.append(("dense_between_locals_gap", "exact",
                [conv("local", 2), act("relu"), dense(1.5, 0.1), act("relu"), conv("local", 2), act("relu"),
                 act("global_avg_pool"), dense()], 16))
    out.append(("conv_identity_gap", "exact",
                [conv("conv", 3, 1, "circular", 1.5, 0.1), act("identity"), conv("conv", 3, 1, "circular"),
                 act("relu"), act("global_avg_pool"), dense()], 12))

    # gelu: neural-tangents has a closed form (Tsuchida et al. 2021); so does the engine.
    out.append(("mlp_gelu_L2_w1_b0", "exact", mlp(2, "gelu", 1.0, 0.0), 8))
    out.append(("mlp_gelu_L2_w1.5_b0.1", "exact", mlp(2, "gelu", 1.5, 0.1), 10))
    out.append(("cnn_gelu_f3_s1_circular_gap", "exact",
                conv_stack(2, 3, 1, "circular", "global_avg_pool", activation="gelu", w_std=1.5, b_std=0.1), 12))
    out.append(("tree_cnn_gelu_s2_d16_flatten", "exact", tree("conv", 2, 16, activation="gelu"), 16))

    # Quadrature group: tanh and sigmoid have no closed form on either side. The reference is
    # neural-tangents' `ElementwiseNumerical` (two-dimensional Gauss-Hermite) at a high degree, its own
    # error estimated against a lower degree (stored per case as `reference_error`).
    out.append(("mlp_tanh_L2_w1_b0", "quadrature", mlp(2, "tanh", 1.0, 0.0), 8))
    out.append(("mlp_tanh_L3_w1_b0.1", "quadrature", mlp(3, "tanh", 1.0, 0.1), 10))
    out.append(("mlp_sigmoid_L2_w1.5_b0.1", "quadrature", mlp(2, "sigmoid", 1.5, 0.1), 8))
    out.append(("mlp_tanh_relu_sigmoid_mixed", "quadrature",
                [dense(), act("tanh"), dense(1.5, 0.1), act("relu"), dense(), act("sigmoid"), dense()], 16))
    # Per-position variances of a conv input are single x[p]^2 (up to ~9), not means over d; w_std 0.6
    # keeps tanh's pre-activations small enough for Gauss-Hermite to converge (see reference_error).
    out.append(("tree_cnn_tanh_s2_d16_flatten_w0.6", "quadrature",
                tree("conv", 2, 16, activation="tanh", w_std=0.6), 16))
    out.append(("tree_lcn_sigmoid_s2_d16_gap", "quadrature",
                tree("local", 2, 8, readout="global_avg_pool", activation="sigmoid"), 16))
    out.append(("cnn_sigmoid_f2_s1_circular_gap", "quadrature",
                conv_stack(2, 2, 1, "circular", "global_avg_pool", activation="sigmoid", w_std=1.2, b_std=0.1), 6))
    return out


# --- Translation to stax ---------------------------------------------------------------------------

_ACTIVATIONS = {
    "relu": stax.Relu,
    "erf": stax.Erf,
    "gelu": stax.Gelu,  # exact (erf) gelu, closed form
    "identity": stax.Identity,
}

# No closed form: neural-tangents' Gauss-Hermite layer, with analytic derivatives for the NTK.
_NUMERICAL = {
    "tanh": (jnp.tanh, lambda x: 1 - jnp.tanh(x) ** 2),
    "sigmoid": (jax.nn.sigmoid, lambda x: jax.nn.sigmoid(x) * (1 - jax.nn.sigmoid(x))),  # logistic
}

# Gauss-Hermite degrees (reference, error estimate) for the numerical activations. Memory grows as
# deg^2 times the covariance size, so the full-spatial conv case uses lower degrees.
REFERENCE_DEGREES = {"default": (256, 192), "cnn_sigmoid_f2_s1_circular_gap": (160, 120),
                     "tree_lcn_sigmoid_s2_d16_gap": (160, 128)}


def is_spatial(layers):
    return any(layer["layer"] in ("conv", "local") for layer in layers)


def to_stax(layers, deg=None):
    """The `stax.serial` network of a list of our layer dicts (NTK parameterisation); `deg`: the
    Gauss-Hermite degree for tanh and sigmoid."""
    out = []
    for i, layer in enumerate(layers):
        name = layer["layer"]
        last = i == len(layers) - 1
        if name == "dense":
            out.append(stax.Dense(1 if last else WIDTH, W_std=layer.get("w_std", 1.0),
                                  b_std=layer.get("b_std", 0.0), parameterization="ntk"))
        elif name in ("conv", "local"):
            f = layer["filter_size"]
            s = layer.get("stride", f)  # ours defaults to the filter size, stax's to 1: always pass it
            padding = layer.get("padding", "valid").upper()
            make = stax.Conv if name == "conv" else stax.ConvLocal
            out.append(make(WIDTH, (f,), (s,), padding, W_std=layer.get("w_std", 1.0),
                            b_std=layer.get("b_std", 0.0), parameterization="ntk"))
        elif name in _ACTIVATIONS:
            out.append(_ACTIVATIONS[name]())
        elif name in _NUMERICAL:
            fn, df = _NUMERICAL[name]
            with warnings.catch_warnings():  # it warns that it is numerical, which we know
                warnings.simplefilter("ignore")
                out.append(stax.ElementwiseNumerical(fn, deg, df=df))
        elif name == "flatten":
            out.append(stax.Flatten())
        elif name == "global_avg_pool":
            out.append(stax.GlobalAvgPool())
        else:
            raise ValueError(f"no neural-tangents closed form for layer {name!r}")
    assert layers[-1]["layer"] == "dense"
    return stax.serial(*out)


def inputs(name, d):
    """Seeded inputs, quantised to multiples of 1/16.

    Why quantise: every product x_i[p] * x_j[q] is then a multiple of 1/256 and every sum of them is
    exact in float64, so the input Gram matrix (and the per-position covariances of conv inputs) is
    exact whatever the summation order, in both libraries. On the diagonal (x1 against itself) both
    then see the same bits, and the normalised correlation rho = K_12 / sqrt(K_11 K_22) is exactly 1.
    This matters because the arc-cosine (ReLU) map has condition number ~1/sqrt(eps) at rho = 1: its
    NTK factor (pi - theta) / (2 pi) with theta = arccos(rho) moves by ~sqrt(2 (1 - rho)) / (2 pi), so
    a one-ulp difference in the Gram matrix (1 - rho ~ 1e-16) would show up as a ~1e-9 relative
    difference in the NTK diagonal, which is rounding, not a convention mismatch.
    """
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x1 = np.round(16 * rng.standard_normal((N1, d))) * QUANTUM
    x2 = np.round(16 * rng.standard_normal((N2, d))) * QUANTUM
    return x1, x2


def nt_kernels(layers, x1, x2, deg=None):
    _, _, kernel_fn = to_stax(layers, deg)
    if is_spatial(layers):  # NWC: a length-d signal with one channel
        x1 = x1[:, :, None]
        x2 = None if x2 is None else x2[:, :, None]
    nngp, ntk = kernel_fn(jnp.asarray(x1), None if x2 is None else jnp.asarray(x2), ("nngp", "ntk"))
    nngp, ntk = np.asarray(nngp, dtype=np.float64), np.asarray(ntk, dtype=np.float64)
    assert nngp.dtype == np.float64 and nngp.shape == ntk.shape == (len(x1), len(x1 if x2 is None else x2))
    return nngp, ntk


def self_check(name, layers, x1, x2, k11, k12, deg=None):
    """Cheap consistency checks on neural-tangents' answers (not on the engine's)."""
    for k in k11:
        # Closed forms are symmetric to the bit; Gauss-Hermite is not (the rule treats u and v
        # differently), but to rounding.
        np.testing.assert_allclose(k, k.T, rtol=0, atol=1e-12 * np.abs(k).max(),
                                   err_msg=f"{name}: K(x1, x1) not symmetric")
        assert np.linalg.eigvalsh(k).min() > -1e-10 * np.abs(k).max(), f"{name}: K(x1, x1) not PSD"
    # The kernel on the stacked inputs contains both blocks.
    both = nt_kernels(layers, np.concatenate([x1, x2]), None, deg)
    for k_all, a, b in zip(both, k11, k12):
        scale = np.abs(k_all).max()
        np.testing.assert_allclose(k_all[:N1, :N1], a, rtol=1e-12, atol=1e-12 * scale, err_msg=name)
        np.testing.assert_allclose(k_all[:N1, N1:], b, rtol=1e-12, atol=1e-12 * scale, err_msg=name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data"),
                        help="output folder (default: tests/data)")
    args = parser.parse_args(argv)
    if (nt.__version__, jax.__version__) != ("0.6.5", "0.4.23"):
        sys.exit(f"make_reference: expected neural-tangents 0.6.5 with jax 0.4.23, found {nt.__version__} "
                 f"with jax {jax.__version__}; run it with the venv from tools/make_nt_venv.sh.")
    os.makedirs(args.out, exist_ok=True)

    meta = {
        "description": "NNGP and NTK kernels of neural-tangents' stax (NTK parameterisation, float64) "
                       "for the layer lists below; made by tools/make_reference.py.",
        "neural_tangents": nt.__version__,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "jax_enable_x64": True,
        "backend": jax.default_backend(),
        "n1": N1,
        "n2": N2,
        "input_quantum": QUANTUM,
        "inputs": "x = round(16 * standard_normal) / 16, numpy default_rng(crc32(name)); x1 (n1, d), "
                  "x2 (n2, d); conv/local stacks read them as (n, d, 1)",
        "arrays": "nt_reference.npz: {name}/x1, {name}/x2, {name}/nngp_11, {name}/ntk_11 "
                  "(kernel_fn(x1, None)), {name}/nngp_12, {name}/ntk_12 (kernel_fn(x1, x2))",
        "cases": [],
    }
    arrays = {}
    names = set()
    for name, group, layers, d in cases():
        assert name not in names, name
        names.add(name)
        x1, x2 = inputs(name, d)
        entry = {"name": name, "group": group, "layers": layers, "d": d}
        numerical = any(layer["layer"] in _NUMERICAL for layer in layers)
        deg = REFERENCE_DEGREES.get(name, REFERENCE_DEGREES["default"])[0] if numerical else None
        k11 = nt_kernels(layers, x1, None, deg)
        k12 = nt_kernels(layers, x1, x2, deg)
        self_check(name, layers, x1, x2, k11, k12, deg)
        if numerical:
            # The reference's own quadrature error, estimated by a lower degree (an upper bound
            # when the rule has converged geometrically, as it has for these analytic activations).
            deg_lo = REFERENCE_DEGREES.get(name, REFERENCE_DEGREES["default"])[1]
            lo11, lo12 = nt_kernels(layers, x1, None, deg_lo), nt_kernels(layers, x1, x2, deg_lo)
            err = max(float(np.abs(a - b).max() / np.abs(b).max())
                      for a, b in zip(lo11 + lo12, k11 + k12))
            entry.update(reference=f"neural-tangents ElementwiseNumerical, Gauss-Hermite degree {deg}",
                         reference_degree=deg, reference_error=err,
                         reference_error_how=f"max |K(degree {deg_lo}) - K(degree {deg})| / max |K|")
        else:
            entry.update(reference="neural-tangents closed form")
        for key, value in (("x1", x1), ("x2", x2), ("nngp_11", k11[0]), ("ntk_11", k11[1]),
                           ("nngp_12", k12[0]), ("ntk_12", k12[1])):
            assert np.all(np.isfinite(value)), (name, key)
            arrays[f"{name}/{key}"] = value
        meta["cases"].append(entry)
        note = f"  reference_error={entry['reference_error']:.1e}" if numerical else ""
        print(f"{group:10s} {name:40s} d={d:3d}  ntk_11[0,0]={k11[1][0, 0]:.6g}{note}", file=sys.stderr)

    with open(os.path.join(args.out, "nt_reference.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
        fh.write("\n")
    np.savez_compressed(os.path.join(args.out, "nt_reference.npz"), **arrays)
    print(f"wrote {len(meta['cases'])} cases to {os.path.abspath(args.out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
