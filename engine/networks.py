"""Finite networks: the same layer list that `engine.kernels` reads, as a random network you can run.

Conventions are neural-tangents' `stax` in the NTK parameterisation (Novak et al. 2020), so that a
finite network's outputs and tangent kernel converge to `engine.kernels.nngp_ntk` as the width
grows. Every weight and bias is drawn from `N(0, 1)`; the scales live in the forward pass:

- `dense`:  `z = w_std / sqrt(C_in) * h @ W + b_std * b`, `W` of shape `(C_in, C_out)`, `b` of shape
  `(C_out,)`. On a signal `(n, P, C_in)` (before the readout of a `conv`/`local` stack) it acts on
  the channel axis at every position with the same weights.
- `conv`:   `z[p] = w_std / sqrt(f * C_in) * sum_{k, c} h[p * s + k - lo, c] W[k, c, :] + b_std * b`,
  `W` of shape `(f, C_in, C_out)`, `b` of shape `(C_out,)` shared across positions. Input `(n, d)`
  is read as `(n, d, 1)` (NWC layout). `valid`/`same` padding are XLA's `VALID`/`SAME`; `circular`
  wraps the input around by the `SAME` pad amounts (`engine.specs.conv_padding`), then `VALID`.
- `local`:  the same receptive fields with one weight tensor per output position, `W` of shape
  `(P_out, f, C_in, C_out)`, and a bias of shape `(P_out, C_out)` (neural-tangents' `ConvLocal`).
- `flatten`: `(n, P, C) -> (n, P * C)`, so the next `dense` divides by `sqrt(P * C)`.
- `global_avg_pool`: mean over positions, `(n, P, C) -> (n, C)`.
- The last `dense` has one output; a network maps `(n, d)` inputs to `(n,)` outputs.

Params are a tuple with one entry per layer: `(W, b)` for weight layers, `()` for the others. Every
function is pure and takes the architecture as data; jitted work is keyed on the parsed, hashable
architecture, so the same architecture never recompiles for the same shapes.

>>> import jax, engine
>>> from engine.networks import init, apply, empirical_ntk
>>> layers = engine.mlp(1)
>>> params = init(layers, 3, key=jax.random.PRNGKey(0), width=8)
>>> apply(layers, params, jax.numpy.ones((2, 3))).shape
(2,)
>>> empirical_ntk(layers, params, jax.numpy.ones((2, 3))).shape
(2, 2)

References:
    Novak, Xiao, Hron, Lee, Alemi, Sohl-Dickstein, Schoenholz (2020), "Neural Tangents: Fast and Easy
    Infinite Neural Networks in Python", ICLR.
    Jacot, Gabriel, Hongler (2018), "Neural Tangent Kernel: Convergence and Generalization in Neural
    Networks", NeurIPS.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, Iterable, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from engine.activations import activation_fn
from engine.specs import (
    Activation,
    Architecture,
    Conv,
    Dense,
    Flatten,
    GlobalAvgPool,
    conv_padding,
    parse_layers,
)

Params = tuple  # one entry per layer: (W, b) for dense/conv/local, () otherwise
Width = Union[int, Sequence[int]]

__all__ = ["apply", "empirical_ntk", "features", "hidden_weight_layers", "init", "param_shapes",
           "parameter_count", "resolve_widths", "sample_outputs"]


# --- Architecture bookkeeping ------------------------------------------------------------------


def hidden_weight_layers(layers: Iterable[Any]) -> tuple[int, ...]:
    """Indices of the layers that take a width: every `conv`/`local` layer and every `dense` but the
    last (the readout, which has one output)."""
    return parse_layers(layers).hidden


def resolve_widths(arch: Architecture, width: Width) -> tuple[int, ...]:
    """One positive int per hidden weight layer, from an int or a sequence; `ValueError` otherwise."""
    hidden = arch.hidden
    names = ", ".join(f"{i} ({arch[i].name})" for i in hidden) or "none"

    def check(value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"{what} must be a positive whole number, got {value!r}.")
        if value < 1:
            raise ValueError(f"{what} must be at least 1, got {value!r}; give a positive number of "
                             "channels.")
        return int(value)

    if isinstance(width, (numbers.Number, np.number)):
        return (check(width, "width"),) * len(hidden)
    if isinstance(width, (str, bytes, dict)) or not isinstance(width, Iterable):
        raise ValueError(f"width must be an int or a sequence of ints (one per hidden weight layer), "
                         f"got {width!r}.")
    widths = list(width)
    if len(widths) != len(hidden):
        raise ValueError(f"width has {len(widths)} entries but the architecture has {len(hidden)} "
                         f"hidden weight layer(s) (layers {names}); give one width per hidden "
                         "weight layer, or a single int.")
    return tuple(check(w, f"width[{j}] (layer {i}, {arch[i].name})")
                 for j, (w, i) in enumerate(zip(widths, hidden)))


def _parse(layers: Iterable[Any], d: int) -> tuple[tuple, tuple]:
    arch = parse_layers(layers)
    return arch, arch.lengths(d)


def _patches(layer: Conv, h: Array) -> Array:
    """`(n, L, C) -> (n, P_out, f * C)`: the receptive field of each output position,
    `u[:, p, i * C + c] = h_pad[:, stride * p + i, c]`.

    Read by slicing, never by gathering: a gather's gradient is a scatter-add, several times slower
    on a CPU than the pads that are the gradients of a reshape (filter = stride, the trees: the
    patches are the signal itself, regrouped) or of `f` strided slices (any other filter)."""
    n, length, channels = h.shape
    lo, hi = conv_padding(layer, length)
    f, stride = layer.filter_size, layer.stride
    n_out = (length + lo + hi - f) // stride + 1
    if lo or hi:
        mode = "wrap" if layer.padding == "circular" else "constant"
        h = jnp.pad(h, ((0, 0), (lo, hi), (0, 0)), mode=mode)
    if f == stride:
        return h[:, :n_out * f, :].reshape(n, n_out, f * channels)
    span = stride * (n_out - 1) + 1
    taps = [h[:, i:i + span:stride, :] for i in range(f)]  # each (n, P_out, C)
    return jnp.stack(taps, axis=2).reshape(n, n_out, f * channels)


# --- Initialisation ----------------------------------------------------------------------------


def param_shapes(arch: Architecture, d: int, widths: tuple) -> list:
    """`[(w_shape, b_shape) or None]`, one entry per layer (shapes in the module docstring)."""
    lengths = arch.lengths(d)
    channels = 1 if arch.spatial else d
    hidden = iter(widths)
    shapes = []
    for i, layer in enumerate(arch):
        if isinstance(layer, (Dense, Conv)):
            out = 1 if i == len(arch) - 1 else next(hidden)
            if isinstance(layer, Dense):
                shapes.append(((channels, out), (out,)))
            elif layer.shared:
                shapes.append(((layer.filter_size, channels, out), (out,)))
            else:
                shapes.append(((lengths[i], layer.filter_size, channels, out), (lengths[i], out)))
            channels = out
        else:
            if isinstance(layer, Flatten) and i > 0 and lengths[i - 1] is not None:
                channels *= lengths[i - 1]
            shapes.append(None)
    return shapes


def parameter_count(layers: Iterable[Any], d: int, *, width: Width = 512) -> int:
    """Number of trained scalars (weights and biases) of the network `init` draws: a `dense` layer
    has `C_in C_out + C_out`, a `conv` layer `f C_in C_out + C_out` (shared over positions), a
    `local` layer `P_out (f C_in C_out + C_out)` (one filter per position).

    >>> import engine
    >>> parameter_count(engine.mlp(1), 4, width=8)  # 4*8 + 8 + 8*1 + 1
    49
    """
    arch, _ = _parse(layers, d)
    shapes = param_shapes(arch, int(d), resolve_widths(arch, width))
    return _count(shapes)


def _count(shapes: list) -> int:
    """How many entries the parameters of these shapes hold."""
    return sum(math.prod(shape) for pair in shapes if pair for shape in pair)


def _pieces(flat: Any, shapes: list) -> Params:
    """The parameters cut, in order, from one flat vector of entries (a JAX or NumPy array)."""
    params, start = [], 0
    for pair in shapes:
        arrays = []
        for shape in pair or ():
            size = math.prod(shape)
            arrays.append(flat[start:start + size].reshape(shape))
            start += size
        params.append(tuple(arrays))
    return tuple(params)


def _init(arch: Architecture, d: int, key: Array, widths: tuple, dtype: Any) -> Params:
    """`init` inside a traced program (`sample_outputs`): one draw for all parameters, cut into
    pieces, the same i.i.d. N(0, 1) entries as a draw per array."""
    shapes = param_shapes(arch, d, widths)
    return _pieces(jax.random.normal(key, (_count(shapes),), dtype), shapes)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _normal(key: Array, size: int, dtype: Any) -> Array:
    return jax.random.normal(key, (size,), dtype)


def _draw(key: Array, count: int, dtype: Any) -> np.ndarray:
    """`jax.random.normal(key, (count,), dtype)`, from a program compiled once per power of two
    rather than once per parameter count: the first `count` entries of a draw of the next power
    of two are the same numbers (JAX's partitionable Threefry, its default, draws entry i from
    the key and i alone; `tests/test_networks.py` checks the equality), so the architectures of a
    sweep share one or two random-number programs instead of compiling one each, which on a CPU
    took about 0.4 s per architecture, a third of a small training view."""
    size = 1 << max(count - 1, 0).bit_length()
    return np.asarray(_normal(key, size, dtype))[:count]


def init(layers: Iterable[Any], d: int, *, key: Array, width: Width = 512,
         dtype: Any = jnp.float32) -> Params:
    """Draw a random network: every weight and bias entry `N(0, 1)` (the NTK parameterisation puts
    `w_std / sqrt(fan_in)` and `b_std` in `apply`).

    Args:
        layers: layer dicts (or the tuple `engine.specs.parse_layers` returns).
        d: input dimension (length of the signal for `conv`/`local` stacks).
        key: a `jax.random` key.
        width: channels of every hidden weight layer (each `conv`/`local` and each `dense` but the
            readout), or a sequence with one entry per such layer (`hidden_weight_layers`).
        dtype: dtype of the parameters (`jnp.float64` for comparisons with the analytic kernels).

    Returns:
        A tuple with one entry per layer: `(W, b)` for weight layers (shapes in the module docstring),
        `()` for activations, `flatten` and `global_avg_pool`.

    >>> import jax, engine
    >>> params = init(engine.mlp(2), 4, key=jax.random.PRNGKey(0), width=[16, 8])
    >>> [tuple(w.shape) for w, b in params[::2]]
    [(4, 16), (16, 8), (8, 1)]
    """
    arch, _ = _parse(layers, d)
    shapes = param_shapes(arch, int(d), resolve_widths(arch, width))
    flat = _draw(key, _count(shapes), jnp.dtype(dtype))
    return jax.device_put(_pieces(flat, shapes))


# --- Forward pass -------------------------------------------------------------------------------


def _forward(arch: Architecture, params: Params, x: Array, eps: Sequence[Array] | None = None,
             readout: bool = True) -> tuple[Array, list, list]:
    """Outputs `(n,)`, plus for every weight layer its input as read by the weights (`(n, C)` for a
    dense on vectors, `(n, P, K)` patches otherwise) and its pre-activation output. `eps`, if given,
    is added to each weight layer's output: differentiating w.r.t. it gives per-example cotangents.
    With `readout=False` the outputs are the last layer's `(n, C)` (for a prefix of a vector
    network, `features`).
    """
    dtype = next(p[0].dtype for p in params if p)
    h = jnp.asarray(x, dtype)
    if h.ndim != 2:
        raise ValueError(f"Inputs must have shape (n, d), got {h.shape}.")
    if any(isinstance(layer, Conv) for layer in arch):  # `arch` may be a prefix (`features`)
        h = h[:, :, None]
    taps, zs = [], []
    j = 0
    for layer, p in zip(arch, params):
        if isinstance(layer, Dense):
            w, b = p
            norm = layer.w_std / math.sqrt(w.shape[0])
            bias = b.reshape((1,) * (h.ndim - 1) + b.shape)
            z = norm * jnp.matmul(h, w) + layer.b_std * bias
            taps.append(h)
        elif isinstance(layer, Conv):
            w, b = p
            u = _patches(layer, h)  # (n, P_out, f * C_in)
            k = u.shape[-1]
            norm = layer.w_std / math.sqrt(k)
            if layer.shared:
                z = norm * jnp.matmul(u, w.reshape(k, w.shape[-1])) + layer.b_std * b[None, None, :]
            else:
                # positions leading: XLA's batched matmul wants its batch axis first (on a CPU
                # 1.5-1.9x faster than "npk,pko->npo" forward and backward, about 10% in a sweep)
                z = (norm * jnp.einsum("pnk,pko->pno", u.transpose(1, 0, 2),
                                       w.reshape(w.shape[0], k, w.shape[-1])).transpose(1, 0, 2)
                     + layer.b_std * b[None, :, :])
            taps.append(u)
        elif isinstance(layer, Activation):
            h = activation_fn(layer.fn)(h)
            continue
        elif isinstance(layer, Flatten):
            h = h.reshape(h.shape[0], -1)
            continue
        elif isinstance(layer, GlobalAvgPool):
            h = jnp.mean(h, axis=1)
            continue
        else:  # pragma: no cover - parse_layers only returns the kinds above
            raise ValueError(f"Unknown layer {layer!r}.")
        if eps is not None:
            z = z + eps[j]
        zs.append(z)
        h = z
        j += 1
    return (h[:, 0] if readout else h), taps, zs


def features(head: tuple, params: Params, x: Array) -> Array:
    """`(n, C)` outputs of `head`, the first layers of a parsed vector architecture (dense layers
    and activations, no readout), for its parameters `params` (the first `len(head)` entries of an
    `init` result): the formulas above, traceable (no checks; `engine.training` runs a frozen head
    through it once, then trains the rest on its outputs)."""
    return _forward(head, params, x, readout=False)[0]


@functools.partial(jax.jit, static_argnums=0)
def _apply_jit(arch: Architecture, params: Params, x: Array) -> Array:
    return _forward(arch, params, x)[0]


def _check_params(arch: Architecture, params: Params) -> None:
    if not isinstance(params, (tuple, list)) or len(params) != len(arch):
        got = len(params) if isinstance(params, (tuple, list)) else type(params).__name__
        raise ValueError(f"params must have one entry per layer ({len(arch)}), got {got}; build them "
                         "with engine.networks.init on the same architecture.")
    for i, (layer, p) in enumerate(zip(arch, params)):
        if isinstance(layer, (Dense, Conv)) != bool(p):
            raise ValueError(f"params[{i}] does not match layer {i} ({layer.name}); build params with "
                             "engine.networks.init on the same architecture.")


def apply(layers: Iterable[Any], params: Params, x: Float[Array, "n d"]) -> Float[Array, "n"]:
    """Outputs `f(x)` of the network `params` (from `init`) on inputs `x` of shape `(n, d)`.

    Computed in the parameters' dtype. See the module docstring for each layer's formula.
    """
    arch = parse_layers(layers)
    _check_params(arch, params)
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"Inputs must have shape (n, d), got {x.shape}.")
    arch.lengths(x.shape[1])
    return _apply_jit(arch, tuple(params), x)


# --- Empirical NTK -----------------------------------------------------------------------------


def _taps_and_cotangents(arch: Architecture, params: Params, x: Array) -> tuple[list, list]:
    """Each weight layer's input (taps) and the per-example cotangent `df(x_i)/dz_l` of its output.

    The examples do not interact, so the gradient of `sum_i f(x_i)` w.r.t. a zero offset added to
    `z_l` is, row by row, each example's own cotangent.
    """
    shapes = jax.eval_shape(lambda: _forward(arch, params, x)[2])
    eps = [jnp.zeros(s.shape, s.dtype) for s in shapes]

    def total(eps):
        out, taps, _ = _forward(arch, params, x, eps)
        return out.sum(), taps

    _, vjp_fn, taps = jax.vjp(total, eps, has_aux=True)
    (cotangents,) = vjp_fn(jnp.ones((), shapes[0].dtype))
    return taps, cotangents


@functools.partial(jax.jit, static_argnums=0)
def _empirical_ntk_jit(arch: Architecture, params: Params, x1: Array, x2: Array | None) -> Array:
    taps1, gs1 = _taps_and_cotangents(arch, params, x1)
    taps2, gs2 = (taps1, gs1) if x2 is None else _taps_and_cotangents(arch, params, x2)
    weight_layers = [layer for layer in arch if isinstance(layer, (Dense, Conv))]
    ntk = 0.0
    for layer, u1, u2, g1, g2 in zip(weight_layers, taps1, taps2, gs1, gs2):
        norm2 = layer.w_std ** 2 / u1.shape[-1]
        b2 = layer.b_std ** 2
        if u1.ndim == 2:  # dense on vectors: dz/dW_ij = norm * h_i, so J J^T = norm^2 (h.h')(g.g')
            gg = g1 @ g2.T
            ntk = ntk + norm2 * (u1 @ u2.T) * gg + b2 * gg
        elif isinstance(layer, Conv) and not layer.shared:
            # local: each position has its own W and b, so only equal positions pair up.
            uu = jnp.einsum("apk,bpk->abp", u1, u2)
            gg = jnp.einsum("apo,bpo->abp", g1, g2)
            ntk = ntk + norm2 * jnp.sum(uu * gg, axis=2) + b2 * jnp.sum(gg, axis=2)
        else:
            # shared weights (conv, or dense acting on channels): dz/dW = norm * sum_p u_p (x) g_p,
            # so J J^T = norm^2 sum_{p, q} (u_p . u'_q)(g_p . g'_q); the bias sums the cotangents.
            uu = jnp.einsum("apk,bqk->abpq", u1, u2)
            gg = jnp.einsum("apo,bqo->abpq", g1, g2)
            gsum = g1.sum(axis=1) @ g2.sum(axis=1).T
            ntk = ntk + norm2 * jnp.sum(uu * gg, axis=(2, 3)) + b2 * gsum
    return ntk


def empirical_ntk(layers: Iterable[Any], params: Params, x1: Float[Array, "n1 d"],
                  x2: Float[Array, "n2 d"] | None = None) -> Float[Array, "n1 n2"]:
    """Empirical neural tangent kernel of one finite network (Jacot et al. 2018):
    `Theta(x, x') = sum_theta df(x)/dtheta df(x')/dtheta` over all weights and biases.

    Computed layer by layer from structured derivatives, never forming the Jacobian: for a weight
    layer with input (or patches) `u`, per-example output cotangent `g = df/dz` and
    `z = w_std / sqrt(K) * u W + b_std * b`,

        dense: w_std^2 / K * (u . u') (g . g') + b_std^2 (g . g')
        conv:  w_std^2 / K * sum_{p, q} (u_p . u'_q)(g_p . g'_q) + b_std^2 (sum_p g_p) . (sum_q g'_q)
        local: w_std^2 / K * sum_p (u_p . u'_p)(g_p . g'_p) + b_std^2 sum_p g_p . g'_p

    so memory is O(n * width * positions) rather than O(n * number of parameters), and a wide net
    (width 4096, tens of millions of parameters) costs one forward and one backward pass. As the
    width grows it converges to the analytic `engine.kernels.nngp_ntk` NTK, with fluctuations of
    order `1 / sqrt(width)`.

    Returns a `(n1, n2)` array in the parameters' dtype; `x2=None` means `x1`.

    References:
        Jacot, Gabriel, Hongler (2018), "Neural Tangent Kernel", NeurIPS.
        Novak et al. (2022), "Fast Finite Width Neural Tangent Kernel", ICML (structured derivatives).
    """
    arch = parse_layers(layers)
    _check_params(arch, params)
    x1 = jnp.asarray(x1)
    if x1.ndim != 2:
        raise ValueError(f"x1 must have shape (n1, d), got {x1.shape}.")
    arch.lengths(x1.shape[1])
    if x2 is not None:
        x2 = jnp.asarray(x2)
        if x2.ndim != 2 or x2.shape[1] != x1.shape[1]:
            raise ValueError(f"x2 must have shape (n2, {x1.shape[1]}), got {x2.shape}.")
    return _empirical_ntk_jit(arch, tuple(params), x1, x2)


# --- Monte Carlo over random networks ----------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _sample_outputs_jit(arch: Architecture, widths: tuple, dtype: Any, batch_size: int, keys: Array,
                        x: Array) -> Array:
    d = x.shape[1]

    def one(key):
        return _forward(arch, _init(arch, d, key, widths, dtype), x)[0]

    return jax.lax.map(one, keys, batch_size=batch_size)


def sample_outputs(layers: Iterable[Any], x: Float[Array, "n d"], *, key: Array, width: Width = 512,
                   n_networks: int = 1000, dtype: Any = jnp.float32,
                   batch_size: int = 64) -> Float[Array, "n_networks n"]:
    """Outputs on `x` of `n_networks` independent random networks (keys split from `key`).

    Row `k` equals `apply(layers, init(layers, d, key=keys[k], width=width, dtype=dtype), x)` with
    `keys = jax.random.split(key, n_networks)`. Networks run `batch_size` at a time (vmapped), so
    memory is `batch_size` networks' parameters. As the width grows the outputs of one input set are
    jointly Gaussian with covariance the NNGP kernel (Neal 1996; Lee et al. 2018; Novak et al. 2020),
    so `samples.T @ samples / n_networks` estimates `engine.kernels.nngp_ntk(layers, x)[0]`.
    """
    arch = parse_layers(layers)
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"Inputs must have shape (n, d), got {x.shape}.")
    arch.lengths(x.shape[1])
    widths = resolve_widths(arch, width)
    for name, value in (("n_networks", n_networks), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
    n_networks = int(n_networks)
    # Equal batches (the last padded with spare networks that are then dropped): lax.map with a
    # remainder would compile the network twice.
    n_batches = -(-n_networks // int(batch_size))
    batch = -(-n_networks // n_batches)
    keys = jax.random.split(key, n_networks)
    spare = n_batches * batch - n_networks
    if spare:
        keys = jnp.concatenate([keys, jax.random.split(jax.random.fold_in(key, 1), spare)])
    return _sample_outputs_jit(arch, widths, jnp.dtype(dtype), batch, keys, x)[:n_networks]
