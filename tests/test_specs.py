"""Tests for `engine.specs`: architectures as data.

Expected values are written out by hand or computed independently: padding and output lengths come
from JAX's own convolution (`jax.lax.padtype_to_pads`, and the output shape of
`jax.lax.conv_general_dilated`), not from a copy of the formulas under test.
"""

import dataclasses
import doctest
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.specs
from engine.specs import (
    ACTIVATIONS,
    Activation,
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    conv_net,
    conv_output_length,
    conv_padding,
    is_spatial,
    mlp,
    parse_layers,
    signal_lengths,
    to_dicts,
    tree_cnn,
    tree_depth,
    tree_lcn,
)

DENSE = {"layer": "dense"}
RELU = {"layer": "relu"}
FLATTEN = {"layer": "flatten"}
GAP = {"layer": "global_avg_pool"}


def _conv(**kwargs) -> dict:
    return {"layer": "conv", **kwargs}


def _cnn(*spatial: dict, readout: dict = FLATTEN) -> list:
    """`spatial` layers, then a readout and the dense output layer."""
    return [*spatial, readout, DENSE]


# --- Parsing and defaults -------------------------------------------------------------------------


def test_parses_an_mlp_with_defaults():
    arch = parse_layers([DENSE, RELU, {"layer": "dense", "w_std": 2.0, "b_std": 0.5}])
    assert arch == (Dense(w_std=1.0, b_std=0.0), Activation("relu"), Dense(w_std=2.0, b_std=0.5))
    assert not is_spatial(arch)


def test_parses_a_cnn_with_defaults():
    arch = parse_layers(_cnn(_conv(filter_size=3), RELU, {"layer": "local", "filter_size": 2}))
    assert arch == (
        Conv(filter_size=3, stride=3, padding="valid", w_std=1.0, b_std=0.0, shared=True),
        Activation("relu"),
        Conv(filter_size=2, stride=2, padding="valid", w_std=1.0, b_std=0.0, shared=False),
        Flatten(),
        Dense(),
    )
    assert is_spatial(arch)
    assert [layer.name for layer in arch] == ["conv", "relu", "local", "flatten", "dense"]


def test_stride_defaults_to_filter_size_and_can_be_set():
    (conv, *_) = parse_layers(_cnn(_conv(filter_size=4)))
    assert conv.stride == 4
    (conv, *_) = parse_layers(_cnn(_conv(filter_size=4, stride=1, padding="circular")))
    assert (conv.stride, conv.padding) == (1, "circular")


@pytest.mark.parametrize("fn", ACTIVATIONS)
def test_every_activation_parses(fn):
    arch = parse_layers([DENSE, {"layer": fn}, DENSE])
    assert arch[1] == Activation(fn)
    assert arch[1].name == fn


def test_accepts_numpy_scalars_and_whole_floats():
    arch = parse_layers([_conv(filter_size=np.int64(2), stride=2.0), GAP,
                         {"layer": "dense", "w_std": np.float32(1.5)}])
    assert arch[0].filter_size == 2 and type(arch[0].filter_size) is int
    assert arch[0].stride == 2 and type(arch[0].stride) is int
    assert arch[-1].w_std == 1.5 and type(arch[-1].w_std) is float


def test_zero_b_std_is_allowed():
    assert parse_layers([{"layer": "dense", "b_std": 0}]) == (Dense(w_std=1.0, b_std=0.0),)


def test_accepts_any_iterable_and_already_parsed_layers():
    arch = parse_layers([DENSE, RELU, DENSE])
    assert parse_layers(iter([DENSE, RELU, DENSE])) == arch
    assert parse_layers(arch) == arch
    assert parse_layers(list(arch)) == arch


def test_parsed_layers_are_frozen_and_hashable():
    arch = parse_layers(_cnn(_conv(filter_size=2), RELU))
    assert hash(arch) == hash(parse_layers(_cnn(_conv(filter_size=2), RELU)))
    assert len({arch, parse_layers(_cnn(_conv(filter_size=2), RELU))}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch[0].stride = 1


def test_docstring_examples_run():
    result = doctest.testmod(engine.specs, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# --- Round trip -----------------------------------------------------------------------------------

ROUND_TRIP = [
    [DENSE],
    [DENSE, RELU, {"layer": "dense", "b_std": 0.1}],
    _cnn(_conv(filter_size=2), RELU, _conv(filter_size=2, w_std=1.5), {"layer": "erf"}),
    _cnn({"layer": "local", "filter_size": 3, "stride": 1, "padding": "same"}, RELU, readout=GAP),
    _cnn(_conv(filter_size=3, stride=1, padding="circular"), RELU, DENSE, RELU),
    mlp(3, activation="gelu", b_std=0.2),
    tree_cnn(16, 2),
    tree_lcn(27, 3, readout="global_avg_pool"),
    conv_net(2, 3, activation="tanh"),
]


@pytest.mark.parametrize("layers", ROUND_TRIP, ids=lambda layers: "-".join(
    layer["layer"] for layer in layers))
def test_to_dicts_round_trips(layers):
    dicts = to_dicts(layers)
    assert parse_layers(dicts) == parse_layers(layers)
    assert to_dicts(dicts) == dicts
    assert to_dicts(parse_layers(layers)) == dicts
    assert json.loads(json.dumps(dicts)) == dicts  # a cache key and a URL value


def test_to_dicts_fills_every_default():
    assert to_dicts([DENSE, RELU, DENSE]) == [
        {"layer": "dense", "w_std": 1.0, "b_std": 0.0},
        {"layer": "relu"},
        {"layer": "dense", "w_std": 1.0, "b_std": 0.0},
    ]
    assert to_dicts(_cnn({"layer": "local", "filter_size": 2})) == [
        {"layer": "local", "filter_size": 2, "stride": 2, "padding": "valid", "w_std": 1.0,
         "b_std": 0.0},
        {"layer": "flatten"},
        {"layer": "dense", "w_std": 1.0, "b_std": 0.0},
    ]


def test_to_dicts_makes_equal_specs_equal_keys():
    written_out = [{"layer": "dense", "w_std": 1, "b_std": 0}, RELU, {"layer": "dense"}]
    assert to_dicts(written_out) == to_dicts([DENSE, RELU, DENSE])
    assert json.dumps(to_dicts(written_out)) == json.dumps(to_dicts([DENSE, RELU, DENSE]))


def test_to_dicts_validates():
    with pytest.raises(ValueError, match="unknown layer"):
        to_dicts([{"layer": "dens"}])


# --- Errors: each says what is wrong and what to change --------------------------------------------

ERRORS = {
    "unknown layer": ([{"layer": "dens"}], r"unknown layer 'dens'; use one of: .*dense"),
    "missing layer key": ([{"w_std": 1.0}], r"layer 0: the 'layer' key is missing; write e.g."),
    "unknown key": ([{"layer": "dense", "filter_size": 2}],
                    r"layer 0 \(dense\): unknown key\(s\) filter_size; allowed: b_std, w_std"),
    "key on a keyless layer": ([DENSE, {"layer": "relu", "w_std": 1.0}, DENSE],
                               r"layer 1 \(relu\): unknown key\(s\) w_std; allowed: no keys"),
    "missing filter_size": (_cnn(_conv(stride=2)), r"`filter_size` is missing; add e\.g\."),
    "zero filter_size": (_cnn(_conv(filter_size=0)), r"`filter_size` must be at least 1"),
    "fractional filter_size": (_cnn(_conv(filter_size=2.5)),
                               r"`filter_size` must be a positive whole number, got 2\.5"),
    "zero stride": (_cnn(_conv(filter_size=2, stride=0)), r"`stride` must be at least 1"),
    "bad padding": (_cnn(_conv(filter_size=2, padding="SAME")),
                    r"`padding` must be one of valid, same, circular, got 'SAME'"),
    "zero w_std": ([{"layer": "dense", "w_std": 0.0}],
                   r"`w_std` must be positive, got 0\.0; set it to a positive number"),
    "negative w_std": ([{"layer": "dense", "w_std": -1.0}], r"`w_std` must be positive"),
    "negative conv w_std": (_cnn(_conv(filter_size=2, w_std=-0.5)),
                            r"layer 0 \(conv\): `w_std` must be positive"),
    "negative b_std": ([{"layer": "dense", "b_std": -0.1}],
                       r"`b_std` must be non-negative, got -0\.1; set it to a non-negative number"),
    "negative local b_std": (_cnn({"layer": "local", "filter_size": 2, "b_std": -1}),
                             r"layer 0 \(local\): `b_std` must be non-negative"),
    "nan w_std": ([{"layer": "dense", "w_std": float("nan")}], r"`w_std` must be finite, got nan"),
    "inf w_std": ([{"layer": "dense", "w_std": math.inf}], r"`w_std` must be finite, got inf"),
    "-inf b_std": ([{"layer": "dense", "b_std": -math.inf}], r"`b_std` must be finite"),
    "bool w_std": ([{"layer": "dense", "w_std": True}], r"`w_std` must be a number, got True"),
    "numpy bool b_std": ([{"layer": "dense", "b_std": np.bool_(False)}],
                         r"`b_std` must be a number"),
    "string w_std": ([{"layer": "dense", "w_std": "1"}], r"`w_std` must be a number, got '1'"),
    "bool filter_size": (_cnn(_conv(filter_size=True)),
                         r"`filter_size` must be a positive whole number, got True"),
    "bool stride": (_cnn(_conv(filter_size=2, stride=False)),
                    r"`stride` must be a positive whole number, got False"),
    "empty list": ([], r"The architecture is empty; give at least one layer"),
    "not a list": ("dense", r"An architecture is a list of layer dicts"),
    "a lone dict": (DENSE, r"An architecture is a list of layer dicts"),
    "not iterable": (3, r"An architecture is a list of layer dicts"),
    "layer not a dict": ([DENSE, "relu", DENSE], r"layer 1: expected a dict such as"),
    "last layer not dense": ([DENSE, RELU], r"The last layer must be the `dense` readout, got "
                                            r"`relu`; append \{'layer': 'dense'\}"),
    "last layer a readout": (_cnn(_conv(filter_size=2))[:-1],
                             r"got `flatten`; append \{'layer': 'dense'\}"),
    "conv after dense": ([DENSE, RELU, _conv(filter_size=2), FLATTEN, DENSE],
                         r"layer 2 \(conv\) comes after the input was read as a vector; a stack "
                         r"with conv/local layers must start with one of them"),
    "local after flatten": (_cnn(_conv(filter_size=2), FLATTEN, {"layer": "local", "filter_size": 2}),
                            r"layer 2 \(local\) comes after the input was read as a vector"),
    "no readout": ([_conv(filter_size=2), RELU, DENSE],
                   r"never read out; add \{'layer': 'flatten'\} or \{'layer': 'global_avg_pool'\}"),
    "global_avg_pool in an MLP": ([DENSE, RELU, GAP, DENSE],
                                  r"layer 2 \(global_avg_pool\) needs positions to pool over; put it "
                                  r"after conv or local layers, or remove it"),
}


@pytest.mark.parametrize("layers, message", ERRORS.values(), ids=ERRORS.keys())
def test_parse_errors_say_what_to_change(layers, message):
    with pytest.raises(ValueError, match=message):
        parse_layers(layers)


def test_flatten_in_an_mlp_is_harmless():
    # A vector is already flat: `flatten` before the readout of an MLP is allowed (and a no-op).
    assert parse_layers([DENSE, RELU, FLATTEN, DENSE]) == (Dense(), Activation("relu"), Flatten(),
                                                           Dense())


def test_dense_between_convs_acts_per_position():
    # Before the readout a dense layer is a 1x1 convolution, so conv layers may follow it.
    arch = parse_layers(_cnn(_conv(filter_size=2), RELU, DENSE, RELU, _conv(filter_size=2)))
    assert signal_lengths(arch, 8) == (4, 4, 4, 4, 2, None, None)


# --- Signal lengths -------------------------------------------------------------------------------


def test_signal_lengths_of_an_mlp_are_none():
    assert signal_lengths(parse_layers(mlp(2)), 10) == (None,) * 5


@pytest.mark.parametrize("padding, d, filter_size, stride, expected", [
    ("valid", 8, 2, 2, 4),
    ("valid", 9, 3, 3, 3),
    ("valid", 10, 3, 1, 8),
    ("valid", 11, 3, 2, 5),
    ("valid", 5, 5, 1, 1),
    ("same", 10, 3, 1, 10),
    ("same", 10, 4, 2, 5),
    ("same", 12, 2, 3, 4),
    ("circular", 9, 3, 1, 9),
    ("circular", 8, 3, 2, 4),
    ("circular", 8, 8, 8, 1),
])
def test_signal_lengths_one_layer(padding, d, filter_size, stride, expected):
    arch = parse_layers(_cnn(_conv(filter_size=filter_size, stride=stride, padding=padding), RELU))
    assert signal_lengths(arch, d) == (expected, expected, None, None)


def test_signal_lengths_through_a_strided_stack():
    arch = parse_layers(_cnn(
        _conv(filter_size=3, stride=1, padding="circular"), RELU,    # 12 -> 12
        _conv(filter_size=2, stride=2), RELU,                         # 12 -> 6
        {"layer": "local", "filter_size": 3, "stride": 3, "padding": "same"},  # 6 -> 2
        readout=GAP))
    assert signal_lengths(arch, 12) == (12, 12, 6, 6, 2, None, None)


SIGNAL_ERRORS = {
    "filter longer than signal": (_cnn(_conv(filter_size=5)), 4,
                                  r"layer 0 \(conv\): filter_size 5 is longer than the 4 positions "
                                  r"it reads; use filter_size <= 4 or a larger d"),
    "filter longer than later signal": (_cnn(_conv(filter_size=2), RELU, _conv(filter_size=3)), 4,
                                        r"layer 2 \(conv\): filter_size 3 is longer than the 2 "
                                        r"positions"),
    "stride does not fit valid": (_cnn(_conv(filter_size=2, stride=2)), 5,
                                  r"stride 2 does not fit 5 positions with filter_size 2 and valid "
                                  r"padding .*; change d, the stride or the filter size"),
    "stride does not divide same": (_cnn({"layer": "local", "filter_size": 3, "stride": 2,
                                          "padding": "same"}), 7,
                                    r"layer 0 \(local\): stride 2 does not divide the 7 positions; "
                                    r"with same padding choose a stride that divides them, or "
                                    r"change d"),
    "stride does not divide circular": (_cnn(_conv(filter_size=3, stride=4, padding="circular")),
                                        10, r"stride 4 does not divide the 10 positions; with "
                                            r"circular padding"),
}


@pytest.mark.parametrize("layers, d, message", SIGNAL_ERRORS.values(), ids=SIGNAL_ERRORS.keys())
def test_signal_length_errors_say_what_to_change(layers, d, message):
    with pytest.raises(ValueError, match=message):
        signal_lengths(parse_layers(layers), d)


@pytest.mark.parametrize("d", [0, -3, 2.0, True, "8", None])
def test_signal_lengths_needs_a_positive_whole_d(d):
    with pytest.raises(ValueError, match="The input dimension d must be a positive whole number"):
        signal_lengths(parse_layers(mlp(1)), d)


def test_signal_lengths_accepts_numpy_ints():
    assert signal_lengths(parse_layers(tree_cnn(4, 2)), np.int64(4))[0] == 2


def test_signal_lengths_of_layer_dicts_match_parsed_layers():
    layers = tree_cnn(8, 2)
    assert signal_lengths(layers, 8) == signal_lengths(parse_layers(layers), 8)


def _lax_output_length(length: int, filter_size: int, stride: int, padding: str) -> int:
    """Output positions of JAX's own 1-D convolution (circular padding has SAME's output size)."""
    out = jax.eval_shape(
        lambda x, w: jax.lax.conv_general_dilated(x, w, (stride,),
                                                  "VALID" if padding == "valid" else "SAME"),
        jax.ShapeDtypeStruct((1, 1, length), jnp.float32),
        jax.ShapeDtypeStruct((1, 1, filter_size), jnp.float32))
    return out.shape[-1]


@settings(max_examples=150, deadline=None)
@given(length=st.integers(1, 40), filter_size=st.integers(1, 12), stride=st.integers(1, 8),
       padding=st.sampled_from(["valid", "same", "circular"]))
def test_signal_lengths_match_lax_or_raise(length, filter_size, stride, padding):
    layers = _cnn(_conv(filter_size=filter_size, stride=stride, padding=padding))
    arch = parse_layers(layers)
    fits = filter_size <= length and (
        (length - filter_size) % stride == 0 if padding == "valid" else length % stride == 0)
    if not fits:
        culprit = (f"filter_size {filter_size}" if filter_size > length else f"stride {stride}")
        with pytest.raises(ValueError, match=rf"layer 0 \(conv\): {culprit} "):
            signal_lengths(arch, length)
        return
    expected = _lax_output_length(length, filter_size, stride, padding)
    assert signal_lengths(arch, length) == (expected, None, None)
    assert conv_output_length(arch[0], length) == expected


# --- Padding --------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 64), filter_size=st.integers(1, 16), stride=st.integers(1, 8),
       padding=st.sampled_from(["valid", "same", "circular"]))
def test_conv_padding_matches_xla(length, filter_size, stride, padding):
    layer = Conv(filter_size=filter_size, stride=stride, padding=padding)
    rule = "VALID" if padding == "valid" else "SAME"
    (expected,) = jax.lax.padtype_to_pads((length,), (filter_size,), (stride,), rule)
    assert conv_padding(layer, length) == tuple(expected)


@pytest.mark.parametrize("padding, length, filter_size, stride, expected", [
    ("valid", 10, 3, 1, (0, 0)),
    ("same", 10, 3, 1, (1, 1)),
    ("same", 10, 4, 1, (1, 2)),   # the odd position goes after the signal
    ("circular", 8, 3, 2, (0, 1)),
    ("same", 8, 2, 2, (0, 0)),
    ("circular", 4, 7, 1, (3, 3)),
])
def test_conv_padding_examples(padding, length, filter_size, stride, expected):
    layer = Conv(filter_size=filter_size, stride=stride, padding=padding)
    assert conv_padding(layer, length) == expected


# --- Constructors ---------------------------------------------------------------------------------


def test_mlp():
    assert mlp(2) == [
        {"layer": "dense", "w_std": 1.0, "b_std": 0.0}, {"layer": "relu"},
        {"layer": "dense", "w_std": 1.0, "b_std": 0.0}, {"layer": "relu"},
        {"layer": "dense", "w_std": 1.0, "b_std": 0.0},
    ]
    assert mlp(0) == [{"layer": "dense", "w_std": 1.0, "b_std": 0.0}]


def test_mlp_knobs():
    layers = mlp(1, activation="erf", w_std=2.0, b_std=0.1, readout_w_std=1.0, readout_b_std=0.0)
    assert layers == [{"layer": "dense", "w_std": 2.0, "b_std": 0.1}, {"layer": "erf"},
                      {"layer": "dense", "w_std": 1.0, "b_std": 0.0}]
    assert mlp(1, w_std=2.0)[-1] == {"layer": "dense", "w_std": 2.0, "b_std": 0.0}


@pytest.mark.parametrize("kwargs, message", [
    ({"depth": 2, "activation": "softplus"}, r"Unknown activation 'softplus'; use one of relu"),
    ({"depth": -1}, r"`depth` \(hidden layers\) must be a whole number >= 0"),
    ({"depth": 1.5}, r"`depth` \(hidden layers\) must be a whole number >= 0"),
    ({"depth": True}, r"`depth` \(hidden layers\) must be a whole number >= 0"),
    ({"depth": 1, "w_std": 0.0}, r"`w_std` must be positive"),
    ({"depth": 1, "b_std": -1.0}, r"`b_std` must be non-negative"),
    ({"depth": 1, "readout_w_std": math.nan}, r"`w_std` must be finite"),
])
def test_mlp_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mlp(**kwargs)


@pytest.mark.parametrize("d, s, depth", [(2, 2, 1), (8, 2, 3), (16, 4, 2), (27, 3, 3), (5, 5, 1),
                                         (1024, 2, 10)])
def test_tree_depth(d, s, depth):
    assert tree_depth(d, s) == depth
    assert s ** depth == d


@pytest.mark.parametrize("d, s, message", [
    (12, 2, r"d = 12 is not a power of the filter size 2; choose d among 2, 4, 8, 16"),
    (8, 3, r"d = 8 is not a power of the filter size 3; choose d among 3, 9, 27"),
    (6, 4, r"not a power of the filter size 4"),
    (8, 1, r"A tree network needs filter_size = stride >= 2"),
    (0, 2, r"`d` must be at least 1"),
    (8, 0, r"`filter_size` must be at least 1"),
])
def test_tree_depth_errors(d, s, message):
    with pytest.raises(ValueError, match=message):
        tree_depth(d, s)


@pytest.mark.parametrize("make, kind", [(tree_cnn, "conv"), (tree_lcn, "local")])
def test_tree_networks(make, kind):
    layers = make(8, 2)
    patch = {"layer": kind, "filter_size": 2, "stride": 2, "padding": "valid", "w_std": 1.0,
             "b_std": 0.0}
    assert layers == [patch, RELU, patch, RELU, patch, RELU, FLATTEN,
                      {"layer": "dense", "w_std": 1.0, "b_std": 0.0}]
    # The last patch layer has a single position that sees the whole input.
    assert signal_lengths(parse_layers(layers), 8) == (4, 4, 2, 2, 1, 1, None, None)


def test_tree_network_knobs():
    layers = tree_cnn(9, 3, activation="erf", w_std=1.5, b_std=0.2, readout="global_avg_pool")
    arch = parse_layers(layers)
    assert [layer.name for layer in arch] == ["conv", "erf", "conv", "erf", "global_avg_pool",
                                              "dense"]
    assert all(layer.w_std == 1.5 and layer.b_std == 0.2 for layer in arch
               if isinstance(layer, (Conv, Dense)))
    assert signal_lengths(arch, 9) == (3, 3, 1, 1, None, None)


@pytest.mark.parametrize("make", [tree_cnn, tree_lcn])
@pytest.mark.parametrize("kwargs, message", [
    ({"d": 10, "s": 2}, r"d = 10 is not a power of the filter size 2"),
    ({"d": 8, "s": 2, "activation": "swish"}, r"Unknown activation 'swish'"),
    ({"d": 8, "s": 2, "readout": "max_pool"}, r"readout must be 'flatten' or 'global_avg_pool'"),
])
def test_tree_network_errors(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


@pytest.mark.parametrize("make", [tree_cnn, tree_lcn])
def test_tree_network_validates_stds(make):
    with pytest.raises(ValueError, match="`w_std` must be positive"):
        make(8, 2, w_std=-1.0)


def test_conv_net():
    layers = conv_net(2, 3)
    conv = {"layer": "conv", "filter_size": 3, "stride": 1, "padding": "circular", "w_std": 1.0,
            "b_std": 0.0}
    assert layers == [conv, RELU, conv, RELU, GAP, {"layer": "dense", "w_std": 1.0, "b_std": 0.0}]
    assert signal_lengths(parse_layers(layers), 10) == (10, 10, 10, 10, None, None)


def test_conv_net_knobs():
    layers = conv_net(1, 4, stride=2, padding="same", activation="tanh", readout="flatten")
    assert signal_lengths(parse_layers(layers), 8) == (4, 4, None, None)
    assert [layer["layer"] for layer in layers] == ["conv", "tanh", "flatten", "dense"]


@pytest.mark.parametrize("args, kwargs, message", [
    ((0, 3), {}, r"`depth` must be at least 1"),
    ((2, 0), {}, r"`filter_size` must be at least 1"),
    ((2, 3), {"padding": "reflect"}, r"`padding` must be one of valid, same, circular"),
    ((2, 3), {"activation": "softplus"}, r"Unknown activation"),
    ((2, 3), {"readout": "dense"}, r"readout must be 'flatten' or 'global_avg_pool'"),
    ((2, 3), {"w_std": -1.0}, r"`w_std` must be positive"),
])
def test_conv_net_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_net(*args, **kwargs)


@settings(max_examples=60, deadline=None)
@given(s=st.integers(2, 5), depth=st.integers(1, 4), shared=st.booleans(),
       readout=st.sampled_from(["flatten", "global_avg_pool"]),
       activation=st.sampled_from(ACTIVATIONS))
def test_tree_networks_are_valid_and_round_trip(s, depth, shared, readout, activation):
    d = s ** depth
    layers = (tree_cnn if shared else tree_lcn)(d, s, readout=readout, activation=activation)
    arch = parse_layers(layers)
    assert to_dicts(layers) == layers  # constructors already write every default out
    lengths = signal_lengths(arch, d)
    assert lengths[2 * depth - 1] == 1
    assert [lengths[2 * i] for i in range(depth)] == [s ** (depth - 1 - i) for i in range(depth)]
    assert sum(isinstance(layer, Conv) for layer in arch) == tree_depth(d, s) == depth
    assert isinstance(arch[-2], Flatten if readout == "flatten" else GlobalAvgPool)
