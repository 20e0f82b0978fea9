"""A network's parameters as the one flat float32 vector a sweep trains.

Every weight and bias, layer by layer from the input, `W` before `b`, each in C order: the order
of `jax.tree.leaves` of an `engine.networks.init` result. One flat vector per run keeps the
compiled program small (the optimizer and the masked updates are a few fused loops instead of a few
per weight array).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from engine.guard import whole
from engine.networks import param_shapes, parameter_count, resolve_widths
from engine.specs import Architecture, parse_layers


def unraveller(arch: Architecture, d: int, widths: tuple) -> Callable:
    """The inverse of `ravel`: a flat vector to the parameter tuple of `engine.networks.init`
    (`(W, b)` for weight layers, `()` otherwise); traceable."""
    shapes = param_shapes(arch, d, widths)
    sizes = [math.prod(shape) for pair in shapes if pair for shape in pair]
    offsets = np.cumsum([0] + sizes).tolist()

    def unravel(flat):
        pieces = iter(flat[a:b] for a, b in zip(offsets[:-1], offsets[1:]))
        return tuple(() if pair is None else tuple(next(pieces).reshape(s) for s in pair)
                     for pair in shapes)

    return unravel


def trainable_mask(arch: Architecture, d: int, widths: tuple, frozen: tuple) -> np.ndarray:
    """`(P,)` bool over the flat parameters: False for the weights and biases of frozen layers."""
    pairs = [pair for pair in param_shapes(arch, d, widths) if pair]
    return np.concatenate([np.full(math.prod(shape), k not in frozen)
                           for k, pair in enumerate(pairs) for shape in pair])


def ravel(params) -> np.ndarray:
    """Every weight and bias of one network, in `jax.tree.leaves` order, as one float32 vector."""
    return np.concatenate([np.asarray(leaf, np.float32).ravel()
                           for leaf in jax.tree.leaves(params)])


def ravel_params(params) -> np.ndarray:
    """The parameters of one network (`engine.networks.init`) as the flat float32 vector a sweep
    trains: every weight and bias, layer by layer from the input, `W` before `b`, each in C order.

    Run `s` of a sweep starts from `ravel_params(init(layers, d, key=jax.random.fold_in(key,
    seeds[s]), width=width))`.
    """
    return ravel(params)


def unravel_params(layers: Iterable[Any], d: int, width, flat) -> tuple:
    """The inverse of `ravel_params`: a flat vector (e.g. a row of `SweepResult.params`) to the
    parameter tuple `engine.networks.apply` takes, for `layers` on `d` inputs at `width`.

    >>> import jax, numpy as np, engine
    >>> params = engine.networks.init(engine.mlp(1), 3, key=jax.random.PRNGKey(0), width=4)
    >>> back = unravel_params(engine.mlp(1), 3, 4, ravel_params(params))
    >>> all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)))
    True
    """
    arch = parse_layers(layers)
    d = whole(d, "d", 1)
    arch.lengths(d)
    widths = resolve_widths(arch, width)
    # jax arrays (also traced ones, to differentiate through) stay as they are
    flat = flat if isinstance(flat, jax.Array) else np.asarray(flat, np.float32)
    size = parameter_count(arch, d, width=widths)
    if flat.shape != (size,):
        raise ValueError(f"flat must have shape ({size},) for this architecture, d = {d} and "
                         f"width {width!r}, got {flat.shape}.")
    return tuple(tuple(jnp.asarray(a) for a in p) for p in unraveller(arch, d, widths)(flat))
