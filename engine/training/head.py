"""A frozen head, evaluated once: the first weight layers of a vector network held fixed.

When weight layers `0..k-1` of a network without `conv`/`local` are frozen and `k` is trained, the
head's outputs never change during training. `train_sweep` then evaluates the head once per seed
on every input (`head_program`, the forward pass of `engine.networks.features`) and trains the
rest of the network on its outputs: identical results, without the head in any step, forward or
backward (Rahimi & Recht 2007: a random layer held fixed under a trained readout is a
random-features model).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import numpy as np

from engine.networks import features, param_shapes
from engine.specs import Architecture, Conv, Dense, parse_layers

PRECOMPUTE = True  # tests switch it off to compare with the masked-gradient path


@dataclasses.dataclass(frozen=True)
class FrozenHead:
    """The split of a network whose first `weight_layers` weight layers are frozen: the head is
    `layers[:layers]`, whose parameters are the first `size` entries of the flat vector; the
    trained part is `arch` (`layers[layers:]`) on inputs of `d` features (the head's output
    channels), with hidden `widths` and the remaining `frozen` indices."""
    layers: int
    weight_layers: int
    size: int
    arch: Architecture
    d: int
    widths: tuple
    frozen: tuple


def split_frozen_head(arch: Architecture, d: int, widths: tuple, frozen: tuple) -> FrozenHead | None:
    """The `FrozenHead` of a vector network (no `conv`/`local`) whose weight layers `0..k-1` are
    frozen and `k` is trained, cut at the layer before weight layer `k`; None when there is no such
    head (or `PRECOMPUTE` is off)."""
    if not PRECOMPUTE or arch.spatial:
        return None
    weight_at = [i for i, layer in enumerate(arch) if isinstance(layer, (Dense, Conv))]
    k = 0
    while k < len(weight_at) and k in frozen:
        k += 1
    if k == 0 or k == len(weight_at):
        return None
    cut = weight_at[k]
    size = sum(math.prod(shape) for pair in param_shapes(arch, d, widths)[:cut] if pair
               for shape in pair)
    return FrozenHead(layers=cut, weight_layers=k, size=size, arch=parse_layers(arch[cut:]), d=widths[k - 1],
                      widths=widths[k:], frozen=tuple(j - k for j in frozen if j >= k))


@functools.lru_cache(maxsize=16)
def head_program(arch: Architecture, d: int, widths: tuple, cut: int):
    """Outputs `(R, m, C)` of the head `arch[:cut]` for `(R, size)` flat head parameters on
    `(R, m, d)` inputs, run by run (`jax.lax.map`)."""
    shapes = [pair for pair in param_shapes(arch, d, widths)[:cut]]
    sizes = [math.prod(shape) for pair in shapes if pair for shape in pair]
    offsets = np.cumsum([0] + sizes).tolist()

    def one(args):
        flat, h = args
        pieces = iter(flat[a:b] for a, b in zip(offsets[:-1], offsets[1:]))
        params = tuple(() if pair is None else tuple(next(pieces).reshape(s) for s in pair)
                       for pair in shapes)
        return features(arch[:cut], params, h)

    return jax.jit(lambda flats, xs: jax.lax.map(one, (flats, xs)))
