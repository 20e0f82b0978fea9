"""Architectures as data: parse, validate and build layer lists.

An architecture is a list of layer dicts (JSON-serialisable, so it can key a cache, travel in a URL
and be typed into a test), for example::

    [{"layer": "conv", "filter_size": 2}, {"layer": "relu"},
     {"layer": "conv", "filter_size": 2}, {"layer": "relu"},
     {"layer": "flatten"}, {"layer": "dense"}]

`parse_layers` turns it, once, into a tuple of frozen, hashable layer objects that the kernel
recursion (`engine.kernels`) and the finite networks (`engine.networks`) both read. Conventions are
those of neural-tangents' `stax` in the NTK parameterisation (see `../shared/ENGINE_CONTRACT.md`).

Every mistake a person can make raises `ValueError` with a sentence that says what to change.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import reprlib
from typing import Any, Iterable, Sequence, Union

ACTIVATIONS = ("relu", "erf", "tanh", "sigmoid", "gelu", "identity")
"""Activation layer names. `relu`, `erf` and `identity` have closed-form dual kernels; the others go
through two-dimensional Gauss-Hermite quadrature (`engine.activations`)."""

PADDINGS = ("valid", "same", "circular")


@dataclasses.dataclass(frozen=True)
class Dense:
    """Fully connected layer, NTK parameterisation: `z = w_std / sqrt(fan_in) * W x + b_std * b`.

    Before any `conv`/`local` layer's readout it acts on the channels at each position (a 1x1
    convolution with weights shared across positions), as in neural-tangents.
    """

    w_std: float = 1.0
    b_std: float = 0.0
    name = "dense"


@dataclasses.dataclass(frozen=True)
class Conv:
    """1-D convolution (`shared=True`, layer `conv`) or locally connected layer (`shared=False`,
    layer `local`): the same receptive fields, weights shared across positions or not.
    `fan_in = filter_size * channels`; the bias is shared across positions for `conv` and has one
    value per position for `local` (neural-tangents' `Conv` and `ConvLocal`)."""

    filter_size: int
    stride: int
    padding: str = "valid"
    w_std: float = 1.0
    b_std: float = 0.0
    shared: bool = True

    @property
    def name(self) -> str:
        return "conv" if self.shared else "local"


@dataclasses.dataclass(frozen=True)
class Activation:
    """Elementwise non-linearity `phi`, one of `ACTIVATIONS` (`sigmoid` is the logistic function)."""

    fn: str

    @property
    def name(self) -> str:
        return self.fn


@dataclasses.dataclass(frozen=True)
class Flatten:
    """Readout over all positions; the next `dense` layer's kernel is the mean over positions of the
    diagonal of the spatial covariance (neural-tangents' `Flatten`)."""

    name = "flatten"


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    """Mean over positions; the kernel is the mean of the whole spatial covariance."""

    name = "global_avg_pool"


Layer = Union[Dense, Conv, Activation, Flatten, GlobalAvgPool]


class Architecture(tuple):
    """A parsed, validated architecture: an immutable, hashable tuple of layer objects.

    `parse_layers` makes one, once, at the edge (a public engine function, a view's spec); every
    other engine function takes it as it is (`parse_layers` returns an `Architecture` unchanged),
    so a stack is checked once and can key a cache or an `lru_cache` directly. It compares and
    hashes as the tuple of its layers.
    """

    __slots__ = ()

    @property
    def spatial(self) -> bool:
        """Whether the stack reads its input as a signal (it contains `conv`/`local` layers)."""
        return any(isinstance(layer, Conv) for layer in self)

    @property
    def hidden(self) -> tuple[int, ...]:
        """Indices of the layers that take a width: every `conv`/`local` layer and every `dense`
        but the last (the readout, which has one output)."""
        return tuple(i for i, layer in enumerate(self[:-1]) if isinstance(layer, (Dense, Conv)))

    def lengths(self, d: int) -> tuple:
        """Positions after each layer for inputs of length `d` (`signal_lengths`)."""
        return signal_lengths(self, d)

_KEYS = {
    "dense": {"w_std", "b_std"},
    "conv": {"filter_size", "stride", "padding", "w_std", "b_std"},
    "local": {"filter_size", "stride", "padding", "w_std", "b_std"},
    "flatten": set(),
    "global_avg_pool": set(),
    **{fn: set() for fn in ACTIVATIONS},
}


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: `{key}` must be a number, got {reprlib.repr(value)}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}: `{key}` must be finite, got {reprlib.repr(value)}.")
    return value


def _std(spec: dict, key: str, default: float, where: str, *, allow_zero: bool) -> float:
    value = _number(spec.get(key, default), where, key)
    if value < 0 or (value == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{where}: `{key}` must be {bound}, got {reprlib.repr(value)}; set it to a {bound} number.")
    return value


def _positive_int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{where}: `{key}` must be a positive whole number, got {reprlib.repr(value)}.")
    if value < 1:
        raise ValueError(f"{where}: `{key}` must be at least 1, got {reprlib.repr(value)}.")
    return int(value)


def _parse_one(spec: Any, index: int) -> Layer:
    if isinstance(spec, (Dense, Conv, Activation, Flatten, GlobalAvgPool)):
        return spec
    where = f"layer {index}"
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a dict such as {{'layer': 'dense'}}, got {reprlib.repr(spec)}.")
    name = spec.get("layer")
    if "layer" not in spec:
        raise ValueError(f"{where}: the 'layer' key is missing; write e.g. {{'layer': 'dense'}}.")
    if not isinstance(name, str) or name not in _KEYS:
        known = ", ".join(sorted(_KEYS))
        raise ValueError(f"{where}: unknown layer {reprlib.repr(name)}; use one of: {known}.")
    where = f"layer {index} ({name})"
    unknown = set(spec) - _KEYS[name] - {"layer"}
    if unknown:
        allowed = ", ".join(sorted(_KEYS[name])) or "no keys besides 'layer'"
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                         f"allowed: {allowed}.")
    if name == "dense":
        return Dense(w_std=_std(spec, "w_std", 1.0, where, allow_zero=False),
                     b_std=_std(spec, "b_std", 0.0, where, allow_zero=True))
    if name in ("conv", "local"):
        if "filter_size" not in spec:
            raise ValueError(f"{where}: `filter_size` is missing; add e.g. 'filter_size': 2.")
        filter_size = _positive_int(spec["filter_size"], where, "filter_size")
        stride = _positive_int(spec.get("stride", filter_size), where, "stride")
        padding = spec.get("padding", "valid")
        if padding not in PADDINGS:
            raise ValueError(f"{where}: `padding` must be one of {', '.join(PADDINGS)}, got {reprlib.repr(padding)}.")
        return Conv(filter_size=filter_size, stride=stride, padding=padding,
                    w_std=_std(spec, "w_std", 1.0, where, allow_zero=False),
                    b_std=_std(spec, "b_std", 0.0, where, allow_zero=True),
                    shared=name == "conv")
    if name == "flatten":
        return Flatten()
    if name == "global_avg_pool":
        return GlobalAvgPool()
    return Activation(name)


def parse_layers(layers: Iterable[Any]) -> Architecture:
    """Parse and validate a list of layer dicts into a tuple of frozen layer objects.

    The structure is checked here (the input length `d` is checked by `signal_lengths`): the last
    layer is the `dense` readout; a stack that contains `conv`/`local` layers starts with one of them
    (the input is then a length-`d` signal with one channel), ends its spatial part with `flatten`
    or `global_avg_pool`, and has no `conv`/`local` after that readout.

    >>> parse_layers([{"layer": "dense"}, {"layer": "relu"}, {"layer": "dense", "b_std": 0.1}])
    (Dense(w_std=1.0, b_std=0.0), Activation(fn='relu'), Dense(w_std=1.0, b_std=0.1))
    """
    if isinstance(layers, Architecture):
        return layers
    if isinstance(layers, (str, bytes, dict)) or not isinstance(layers, Iterable):
        raise ValueError("An architecture is a list of layer dicts, e.g. "
                         "[{'layer': 'dense'}, {'layer': 'relu'}, {'layer': 'dense'}].")
    arch = Architecture(_parse_one(spec, i) for i, spec in enumerate(layers))
    if not arch:
        raise ValueError("The architecture is empty; give at least one layer, e.g. [{'layer': 'dense'}].")
    if not isinstance(arch[-1], Dense):
        raise ValueError(f"The last layer must be the `dense` readout, got `{arch[-1].name}`; "
                         "append {'layer': 'dense'}.")
    weight_layers = [layer for layer in arch if isinstance(layer, (Dense, Conv))]
    spatial = isinstance(weight_layers[0], Conv)
    for i, layer in enumerate(arch):
        if isinstance(layer, Conv) and not spatial:
            raise ValueError(f"layer {i} ({layer.name}) comes after the input was read as a vector; "
                             "a stack with conv/local layers must start with one of them.")
        if isinstance(layer, (Flatten, GlobalAvgPool)):
            if not spatial:
                if isinstance(layer, GlobalAvgPool):
                    raise ValueError(f"layer {i} (global_avg_pool) needs positions to pool over; put "
                                     "it after conv or local layers, or remove it.")
                continue
            spatial = False
    if spatial:
        raise ValueError("The conv/local layers are never read out; add {'layer': 'flatten'} or "
                         "{'layer': 'global_avg_pool'} before the last dense layer.")
    return arch


def is_spatial(arch: Iterable[Any]) -> bool:
    """Whether the stack reads its input as a signal (it contains `conv`/`local` layers)."""
    return parse_layers(arch).spatial


def conv_output_length(layer: Conv, length: int) -> int:
    """Number of output positions of a `conv`/`local` layer on `length` input positions."""
    if layer.padding == "valid":
        return (length - layer.filter_size) // layer.stride + 1
    return -(-length // layer.stride)


def conv_padding(layer: Conv, length: int) -> tuple[int, int]:
    """Positions added before and after the signal: XLA's `SAME` rule, as neural-tangents uses for
    `same` (zeros) and `circular` (wrapped) padding; `(0, 0)` for `valid`."""
    if layer.padding == "valid":
        return (0, 0)
    out = conv_output_length(layer, length)
    total = max((out - 1) * layer.stride + layer.filter_size - length, 0)
    return (total // 2, total - total // 2)


def signal_lengths(arch: Sequence[Layer], d: int) -> tuple:
    """Positions after each layer for inputs of length `d` (`None` once the input is a vector).

    Raises `ValueError` when a filter is longer than the signal it reads, when a stride does not
    divide the positions (which would silently drop the last inputs), or when `d` is not a positive
    whole number.
    """
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"The input dimension d must be a positive whole number, got {reprlib.repr(d)}.")
    return _signal_lengths(parse_layers(arch), int(d))


@functools.lru_cache(maxsize=4096)
def _signal_lengths(arch: Architecture, d: int) -> tuple:
    length = d if arch.spatial else None
    lengths = []
    for i, layer in enumerate(arch):
        if isinstance(layer, Conv):
            f, s = layer.filter_size, layer.stride
            if f > length:
                raise ValueError(f"layer {i} ({layer.name}): filter_size {f} is longer than the {length} "
                                 f"positions it reads; use filter_size <= {length} or a larger d.")
            if layer.padding == "valid" and (length - f) % s:
                raise ValueError(f"layer {i} ({layer.name}): stride {s} does not fit {length} positions "
                                 f"with filter_size {f} and valid padding ({length} - {f} is not a "
                                 f"multiple of {s}); change d, the stride or the filter size.")
            if layer.padding != "valid" and length % s:
                raise ValueError(f"layer {i} ({layer.name}): stride {s} does not divide the {length} "
                                 f"positions; with {layer.padding} padding choose a stride that divides "
                                 "them, or change d.")
            length = conv_output_length(layer, length)
        elif isinstance(layer, (Flatten, GlobalAvgPool)):
            length = None
        lengths.append(length)
    return tuple(lengths)


def to_dicts(arch: Iterable[Any]) -> list[dict]:
    """Canonical layer dicts (every default filled in): the inverse of `parse_layers`, and a stable
    cache key."""
    out = []
    for layer in parse_layers(arch):
        if isinstance(layer, Dense):
            out.append({"layer": "dense", "w_std": layer.w_std, "b_std": layer.b_std})
        elif isinstance(layer, Conv):
            out.append({"layer": layer.name, "filter_size": layer.filter_size, "stride": layer.stride,
                        "padding": layer.padding, "w_std": layer.w_std, "b_std": layer.b_std})
        else:
            out.append({"layer": layer.name})
    return out


# --- Constructors for the families the pages use ------------------------------------------------


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {reprlib.repr(activation)}; use one of {', '.join(ACTIVATIONS)}.")


def mlp(depth: int, *, activation: str = "relu", w_std: float = 1.0, b_std: float = 0.0,
        readout_w_std: float | None = None, readout_b_std: float | None = None) -> list[dict]:
    """MLP with `depth` hidden layers: `[dense, activation] * depth + [dense]`.

    `depth` counts non-linear layers, so Bietti & Bach's "two-layer" network is `mlp(1)` and their
    depth-L network is `mlp(L - 1)`.
    """
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 0:
        raise ValueError(f"mlp: `depth` (hidden layers) must be a whole number >= 0, got {reprlib.repr(depth)}.")
    _check_activation(activation)
    layers: list[dict] = []
    for _ in range(depth):
        layers += [{"layer": "dense", "w_std": w_std, "b_std": b_std}, {"layer": activation}]
    layers.append({"layer": "dense",
                   "w_std": w_std if readout_w_std is None else readout_w_std,
                   "b_std": b_std if readout_b_std is None else readout_b_std})
    parse_layers(layers)
    return layers


def tree_depth(d: int, s: int) -> int:
    """`log_s d` for a hierarchical network with filter = stride = `s`; `ValueError` unless `d` is a
    power of `s`."""
    s = _positive_int(s, "tree", "filter_size")
    d = _positive_int(d, "tree", "d")
    if s < 2:
        raise ValueError("A tree network needs filter_size = stride >= 2.")
    depth, length = 0, d
    while length > 1 and length % s == 0:
        length //= s
        depth += 1
    if length != 1:
        powers = ", ".join(str(s ** k) for k in range(1, 7))
        raise ValueError(f"d = {d} is not a power of the filter size {s}; choose d among {powers}, ...")
    return depth


def tree_filters(d: int, s) -> tuple[int, ...]:
    """The filter sizes, input side first, of a tree network on `d` inputs: `(s,) * log_s d` for a
    whole number `s`, or `s` itself for a sequence whose product is `d` (e.g. `(4, 5)` for d = 20).
    """
    if isinstance(s, numbers.Integral) and not isinstance(s, bool):
        return (int(s),) * tree_depth(d, s)
    try:
        filters = tuple(_positive_int(f, "tree", "filter_size") for f in s)
    except TypeError:
        raise ValueError(f"tree: the filter size must be a whole number or a list of them, got {reprlib.repr(s)}.")
    d = _positive_int(d, "tree", "d")
    if not filters or any(f < 2 for f in filters):
        raise ValueError("A tree network needs at least one layer, each with filter_size >= 2.")
    if math.prod(filters) != d:
        raise ValueError(f"The filter sizes {list(filters)} multiply to {math.prod(filters)}, not "
                         f"d = {d}; choose sizes whose product is d.")
    return filters


def _tree(d: int, s, kind: str, activation: str, w_std: float, b_std: float,
          readout: str) -> list[dict]:
    _check_activation(activation)
    if readout not in ("flatten", "global_avg_pool"):
        raise ValueError(f"readout must be 'flatten' or 'global_avg_pool', got {reprlib.repr(readout)}.")
    layers: list[dict] = []
    for f in tree_filters(d, s):
        layers += [{"layer": kind, "filter_size": f, "stride": f, "padding": "valid",
                    "w_std": w_std, "b_std": b_std}, {"layer": activation}]
    layers += [{"layer": readout}, {"layer": "dense", "w_std": w_std, "b_std": b_std}]
    parse_layers(layers)
    return layers


def tree_cnn(d: int, s, *, activation: str = "relu", w_std: float = 1.0, b_std: float = 0.0,
             readout: str = "flatten") -> list[dict]:
    """Hierarchical ("tree") CNN on inputs of length `d`: `log_s d` conv layers with
    filter = stride = `s` (non-overlapping patches), so the last one has a single position that sees
    the whole input (Xiao 2022; Wang & Wu 2023). `s` may be a list of filter sizes, input side
    first, whose product is `d` (`tree_cnn(20, (4, 5))`)."""
    return _tree(d, s, "conv", activation, w_std, b_std, readout)


def tree_lcn(d: int, s, *, activation: str = "relu", w_std: float = 1.0, b_std: float = 0.0,
             readout: str = "flatten") -> list[dict]:
    """The locally connected twin of `tree_cnn`: the same patch tree without weight sharing."""
    return _tree(d, s, "local", activation, w_std, b_std, readout)


def conv_net(depth: int, filter_size: int, *, stride: int = 1, padding: str = "circular",
             activation: str = "relu", w_std: float = 1.0, b_std: float = 0.0,
             readout: str = "global_avg_pool") -> list[dict]:
    """CNN with `depth` (possibly overlapping) conv layers of one filter size, then a readout."""
    depth = _positive_int(depth, "conv_net", "depth")
    _check_activation(activation)
    if readout not in ("flatten", "global_avg_pool"):
        raise ValueError(f"readout must be 'flatten' or 'global_avg_pool', got {reprlib.repr(readout)}.")
    layers: list[dict] = []
    for _ in range(depth):
        layers += [{"layer": "conv", "filter_size": filter_size, "stride": stride, "padding": padding,
                    "w_std": w_std, "b_std": b_std}, {"layer": activation}]
    layers += [{"layer": readout}, {"layer": "dense", "w_std": w_std, "b_std": b_std}]
    parse_layers(layers)
    return layers
