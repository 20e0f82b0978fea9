"""Infinite-width NNGP and NTK of MLP, CNN and LCN stacks, exact in float64.

The recursion (Lee et al. 2018; Jacot et al. 2018; Novak et al. 2019; Arora et al. 2019) carries,
for every pair of inputs, the covariance of the pre-activations at every pair of positions, and for
every input its own covariance:

* input:        `nngp[p, q] = x1[p] x2[q] / channels` (for an MLP `x1 . x2 / d`), `ntk = 0`;
* `dense`:      `nngp -> w^2 nngp + b^2`, `ntk -> w^2 ntk + nngp'` (NTK parameterisation);
* `conv`:       `nngp'[p, q] = w^2 / f * sum_k nngp[s p + k, s q + k] + b^2`, the same for `ntk`
                plus `nngp'` (only the `f` diagonal filter offsets contribute: the weights at two
                positions are shared, at two different offsets independent);
* `local`:      as `conv` on the diagonal `p = q`; `0` off it (independent weights per position);
* activation:   `nngp -> T(nngp)`, `ntk -> ntk * Tdot(nngp)` (`engine.activations`);
* `flatten`:    mean over positions of the diagonal `nngp[p, p]`;
* `global_avg_pool`: mean of `nngp[p, q]` over all pairs of positions.

Cheap paths are chosen automatically and shown by `kernel_plan(...).describe()`: the diagonal of
the spatial covariance alone (cost O(n1 n2 d) per layer) wherever every later layer needs only
that (readout by `flatten`, or a `local` layer ahead); the full P x P covariance only where pooling
needs it; `x2=None` computes one triangle of blocks; pairs are evaluated in blocks sized to a
memory budget, one compiled program per architecture and block shape.

References:
    Lee et al., "Deep Neural Networks as Gaussian Processes", ICLR 2018.
    Jacot, Gabriel & Hongler, "Neural Tangent Kernel", NeurIPS 2018.
    Novak et al., "Bayesian Deep CNNs with Many Channels are Gaussian Processes", ICLR 2019.
    Arora et al., "On Exact Computation with an Infinitely Wide Neural Net", NeurIPS 2019.
    Novak et al., "Neural Tangents: Fast and Easy Infinite Neural Networks in Python", ICLR 2020.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import numbers
from typing import Callable, Iterator, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from engine import activations
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

DEFAULT_MEMORY_BUDGET = 8 * 2**30
"""Bytes for the two output matrices plus the working set of one block (8 GiB)."""

_BLOCK_ELEMENTS = 2**18
"""Target number of covariance entries per array in one block: small enough to stay in cache and
to split a symmetric problem into enough blocks that skipping the lower triangle pays."""

_ACCELERATOR_BLOCK_BYTES = 2**32
"""On a GPU or TPU, the largest working set of one block (4 GiB): blocks as large as the budget
allows up to this, so a 20,000 x 20,000 kernel is a few dozen dispatches, not thousands."""

BACKENDS = ("cpu", "gpu", "cuda", "rocm", "tpu")
"""Backends `kernel_plan` sizes blocks for: the CPU's cache, or an accelerator's memory."""

_MIN_BLOCK_SIDE = 24
"""Smallest block side the cache target may ask for (the memory budget may still ask for less):
the inputs are the contiguous trailing axes, and XLA vectorises poorly over fewer than ~500."""

_BLOCK_QUANTUM = 8
"""A block side the plan chooses is rounded up to a power of two up to `_BLOCK_QUANTUM` and to a
multiple of it above (`_bucket`; padded rows are copies of the first, dropped from the output), so
inputs that differ by a few rows (`x2=None` and a given `x2`, a slider's neighbouring sizes) share
one compiled program, for at most 7 padded rows a block."""

_WORK_ARRAYS = 8
"""Arrays of the largest per-layer size alive at once in a block (inputs, outputs, temporaries)."""

_IN_FLIGHT = 2
"""Blocks dispatched at once: JAX runs asynchronously, so the next block computes while the last
one is copied into the output."""

VECTOR, DIAGONAL, FULL = "vector", "diagonal", "full"


class KernelPair(NamedTuple):
    """The NNGP and NTK, numpy float64 arrays of shape `(n1, n2)`."""

    nngp: np.ndarray
    ntk: np.ndarray


@dataclasses.dataclass(frozen=True)
class KernelPlan:
    """How `nngp_ntk` will evaluate a request: covariance storage per layer, blocks, memory."""

    arch: Architecture
    d: int
    n1: int
    n2: int
    symmetric: bool
    modes: tuple  # storage of the covariance entering each layer, then leaving the last one
    lengths: tuple  # positions entering each layer (None for a vector), then leaving the last
    block: tuple  # (b1, b2)
    blocks: int  # blocks evaluated
    block_bytes: int
    output_bytes: int
    memory_budget: int
    quadrature_degree: int
    backend: str = "cpu"

    @property
    def memory_bytes(self) -> int:
        """Bytes `nngp_ntk` holds at its peak: the two outputs and the working sets of the blocks
        in flight (what `memory_budget` bounds)."""
        return self.output_bytes + _IN_FLIGHT * self.block_bytes

    def describe(self) -> str:
        """A few sentences saying which path was chosen and what it costs."""
        lines = []
        for i, layer in enumerate(self.arch):
            mode, length = self.modes[i], self.lengths[i]
            where = {VECTOR: "vector", DIAGONAL: f"diagonal of {length} positions",
                     FULL: f"full {length}x{length} positions"}[mode]
            lines.append(f"  {i:2d} {layer.name:<16} reads the {where} covariance")
        spatial = [m for m in self.modes if m != VECTOR]
        if not spatial:
            path = "dot-product recursion (MLP), one value per pair of inputs"
        elif FULL in spatial:
            path = ("full spatial covariance where pooling needs it (cost O(n1 n2 P^2) per layer "
                    "there)" + (", its diagonal elsewhere" if DIAGONAL in spatial else ""))
        else:
            path = "diagonal of the spatial covariance only (cost O(n1 n2 d) per layer)"
        numerical = sorted({l.fn for l in self.arch
                            if isinstance(l, Activation) and l.fn not in activations.CLOSED_FORM})
        if numerical:
            path += (f"; {', '.join(numerical)} by {self.quadrature_degree}-point trapezoidal "
                     f"quadrature per dimension ({self.quadrature_degree ** 2:,} evaluations an entry)")
        total = (self.n1 * (self.n1 + 1) // 2) if self.symmetric else self.n1 * self.n2
        head = (f"{self.n1} x {self.n2} kernel, {path}; "
                f"{'one triangle' if self.symmetric else 'all pairs'} ({total:,} pairs) in "
                f"{self.blocks} block(s) of {self.block[0]} x {self.block[1]}; "
                f"memory {self.memory_bytes / 2**20:,.0f} MiB of a "
                f"{self.memory_budget / 2**20:,.0f} MiB budget; {self._sizing()}.")
        return "\n".join([head, *lines])

    def _sizing(self) -> str:
        if self.backend == "cpu":
            return (f"blocks sized for the CPU's cache (about {_BLOCK_ELEMENTS:,} covariance "
                    "entries an array, so a block's arrays stay in cache)")
        return (f"blocks sized for the {self.backend.upper()}'s memory (as large as the budget "
                f"allows, at most {_ACCELERATOR_BLOCK_BYTES / 2**30:g} GiB a block: every "
                "dispatch costs launch overhead, and a large block keeps the device busy)")


# --- Planning ------------------------------------------------------------------------------------


def _modes(arch: Architecture, lengths: tuple) -> tuple:
    """Storage needed for the covariance entering each layer, found backwards from the readout:
    `global_avg_pool` needs every pair of positions, `flatten` and `local` only the diagonal, and
    every other layer passes on what its successor needs."""
    needed = [VECTOR]
    for i in reversed(range(len(arch))):
        layer = arch[i]
        if lengths[i] is None:
            mode = VECTOR
        elif isinstance(layer, GlobalAvgPool):
            mode = FULL
        elif isinstance(layer, Flatten) or (isinstance(layer, Conv) and not layer.shared):
            mode = DIAGONAL
        else:
            mode = needed[0]
        needed.insert(0, mode)
    return tuple(needed)


def _entries(mode: str, length: Optional[int]) -> int:
    return {VECTOR: 1, DIAGONAL: length or 1, FULL: (length or 1) ** 2}[mode]


def _peak_entries(arch, modes, lengths) -> int:
    """Largest covariance size per pair of inputs (padding included), over all layers."""
    per_pair = 1
    for i, layer in enumerate(arch):
        length_in = lengths[i]
        if isinstance(layer, Conv):
            length_in = length_in + sum(conv_padding(layer, length_in))
        # The first stage computes the input covariances inside its own program, and XLA fuses
        # a diagonal input's products into the first layer: only its output is stored.
        fused = i == 0 and modes[0] != FULL
        size = (0 if fused else _entries(modes[i], length_in)) + _entries(modes[i + 1], lengths[i + 1])
        if isinstance(layer, Activation) and layer.fn not in activations.CLOSED_FORM:
            size *= 2  # quadrature keeps sigma1, sigma2, rho, rho_perp alive
        per_pair = max(per_pair, size)
    return per_pair


def kernel_plan(layers, d: int, n1: int, n2: Optional[int] = None, *,
                memory_budget: int = DEFAULT_MEMORY_BUDGET,
                quadrature_degree: int = activations.DEFAULT_QUADRATURE_DEGREE,
                block_size: Optional[int] = None, backend: Optional[str] = None) -> KernelPlan:
    """Plan `nngp_ntk` for `n1` x `n2` inputs of dimension `d` (`n2=None`: the symmetric `x2=None`
    case); raises `ValueError` if the request cannot fit `memory_budget` bytes even in blocks.

    Blocks are sized for `backend` (default: JAX's backend in use): on a CPU, for its cache
    (`_BLOCK_ELEMENTS` entries an array); on a GPU or TPU, as large as `memory_budget` allows up
    to `_ACCELERATOR_BLOCK_BYTES`, so launch overhead does not dominate; their sides are rounded
    up (`_bucket`), so sizes a few rows apart share one program. The numbers do not depend on the
    plan (each entry is computed by the same recursion, whatever block it falls in)."""
    arch = parse_layers(layers)
    lengths = ((int(d) if arch.spatial else None),) + arch.lengths(d)
    modes = _modes(arch, lengths)
    symmetric = n2 is None
    n2 = n1 if symmetric else n2
    for name, n in (("n1", n1), ("n2", n2)):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{name} must be a positive number of inputs, got {n!r}.")
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, numbers.Real) \
            or not memory_budget > 0:
        raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}.")
    if isinstance(quadrature_degree, bool) or not isinstance(quadrature_degree, numbers.Integral) \
            or not 2 <= quadrature_degree <= activations.MAX_QUADRATURE_DEGREE:
        raise ValueError(f"quadrature_degree must be a whole number from 2 to "
                         f"{activations.MAX_QUADRATURE_DEGREE}, got {quadrature_degree!r}.")

    per_pair = _peak_entries(arch, modes, lengths)
    bytes_per_pair = 8 * _WORK_ARRAYS * per_pair
    output_bytes = 2 * 8 * n1 * n2
    available = (memory_budget - output_bytes) // _IN_FLIGHT
    if available < bytes_per_pair:
        need = output_bytes + _IN_FLIGHT * bytes_per_pair
        raise ValueError(
            f"This kernel needs at least {need / 2**30:.2f} GiB ({output_bytes / 2**30:.2f} GiB for "
            f"the two {n1} x {n2} outputs and {_IN_FLIGHT * bytes_per_pair / 2**20:.2f} MiB for the "
            f"pairs of inputs being worked on) but the memory budget is {memory_budget / 2**30:.2f} GiB: use fewer "
            "inputs, a smaller d, a flatten readout instead of global_avg_pool, or raise "
            "memory_budget.")
    backend = jax.default_backend() if backend is None else backend
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
    backend = "cpu" if backend == "cpu" else ("gpu" if backend in ("cuda", "rocm") else backend)
    if backend == "cpu":
        target = max(_BLOCK_ELEMENTS // per_pair, _MIN_BLOCK_SIDE ** 2)
    else:
        target = _ACCELERATOR_BLOCK_BYTES // bytes_per_pair
    largest = int(min(available // bytes_per_pair, target))
    side = n1 + n2
    if block_size is not None:
        if isinstance(block_size, bool) or not isinstance(block_size, numbers.Integral) \
                or block_size < 1:
            raise ValueError(f"block_size must be a positive whole number, got {block_size!r}.")
        side = int(block_size)
    if symmetric:
        b = _split(n1, min(max(math.isqrt(largest), 1), side))
        block = (b, b)
    else:
        b2 = _split(n2, min(largest, side))
        b1 = _split(n1, min(max(largest // b2, 1), side))
        block = (b1, b2)
    bucketed = (_bucket(block[0]), _bucket(block[1]))
    if block_size is None and bucketed[0] * bucketed[1] <= largest:
        block = bucketed
    if symmetric:
        k = -(-n1 // block[0])
        blocks = k * (k + 1) // 2
    else:
        blocks = -(-n1 // block[0]) * -(-n2 // block[1])
    return KernelPlan(arch=arch, d=int(d), n1=int(n1), n2=int(n2), symmetric=symmetric,
                      modes=modes, lengths=lengths, block=block, blocks=blocks,
                      block_bytes=bytes_per_pair * block[0] * block[1], output_bytes=output_bytes,
                      memory_budget=int(memory_budget), quadrature_degree=int(quadrature_degree),
                      backend=backend)


def _bucket(side: int) -> int:
    """`side` rounded up to a power of two up to `_BLOCK_QUANTUM`, to a multiple of it above:
    1, 2, 4, 8, 16, 24, ..."""
    if side <= _BLOCK_QUANTUM:
        return 1 << (side - 1).bit_length()
    return -(-side // _BLOCK_QUANTUM) * _BLOCK_QUANTUM


def _split(n: int, most: int) -> int:
    """The smallest block size that covers `n` in as few blocks of at most `most` as possible."""
    most = max(1, min(n, most))
    k = -(-n // most)
    return -(-n // k)


# --- The recursion on one block ------------------------------------------------------------------


# Layout: positions lead, inputs trail. A pair array is (B1, B2) for a vector, (P, B1, B2) for the
# diagonal of the spatial covariance and (P, P, B1, B2) for all of it; a per-input array is the
# same without B2. Convolutions then add whole contiguous (B1, B2) slabs, and activations
# broadcast per-input variances along contiguous rows, which XLA vectorises well.


def _pad_positions(a, layer: Conv, length: int, axes: int):
    lo, hi = conv_padding(layer, length)
    if not (lo or hi):
        return a
    mode = "wrap" if layer.padding == "circular" else "constant"
    return jnp.pad(a, [(lo, hi)] * axes + [(0, 0)] * (a.ndim - axes), mode=mode)


def _conv_diagonal(a, layer: Conv, length: int):
    """`out[p] = 1/f sum_k a[s p + k - pad]` over the leading (position) axis."""
    f, s = layer.filter_size, layer.stride
    a = _pad_positions(a, layer, length, 1)
    stop = s * ((a.shape[0] - f) // s) + 1
    total = a[0:stop:s]
    for k in range(1, f):
        total = total + a[k:k + stop:s]
    return total / f


def _conv_full(a, layer: Conv, length: int):
    """`out[p, q] = 1/f sum_k a[s p + k - pad, s q + k - pad]` over the two leading axes: the `f`
    diagonal offsets only, never the `f^2` of a dense two-dimensional filter."""
    f, s = layer.filter_size, layer.stride
    a = _pad_positions(a, layer, length, 2)
    stop = s * ((a.shape[0] - f) // s) + 1
    total = a[0:stop:s, 0:stop:s]
    for k in range(1, f):
        total = total + a[k:k + stop:s, k:k + stop:s]
    return total / f


def _diagonal(a):
    """`(P, P, ...) -> (P, ...)`: the covariance of each position with itself."""
    return jnp.moveaxis(jnp.diagonal(a, axis1=0, axis2=1), -1, 0)


def _embed_diagonal(a):
    """`(P, ...) -> (P, P, ...)` with `a` on the diagonal and zeros off it."""
    length = a.shape[0]
    eye = jnp.eye(length, dtype=a.dtype).reshape((length, length) + (1,) * (a.ndim - 1))
    return a[:, None] * eye


def _input_covariances(x1, x2, *, mode):
    """`(nngp, ntk, k11, k22)` of the inputs: every pair, and each input with itself."""
    d = x1.shape[-1]
    if mode == VECTOR:
        nngp = (x1 @ x2.T) / d
        return nngp, None, jnp.sum(x1 * x1, -1) / d, jnp.sum(x2 * x2, -1) / d
    x1, x2 = x1.T, x2.T  # (P, B): one channel per position
    if mode == DIAGONAL:
        return x1[:, :, None] * x2[:, None, :], None, x1 * x1, x2 * x2
    nngp = x1[:, None, :, None] * x2[None, :, None, :]
    return nngp, None, x1[:, None, :] * x1[None, :, :], x2[:, None, :] * x2[None, :, :]


def _apply_layers(nngp, ntk, k11, k22, identical, scales, *, layers, modes, lengths, degree):
    """Run the recursion through `layers`; `modes[i]`, `lengths[i]` describe layer i's input;
    `identical[i, j]`: row i of the block's `x1` equals row j of its `x2` (rho = 1 exactly at every
    position, which `activations.dual` keeps exact); `scales[i]` is layer i's
    `(w_std^2, b_std^2)` (`_scales`: `layers` carry their structure only)."""
    for i, layer in enumerate(layers):
        m_in, m_out, length = modes[i], modes[i + 1], lengths[i]
        if isinstance(layer, Dense):
            w2, b2 = scales[i, 0], scales[i, 1]
            nngp, k11, k22 = (w2 * a + b2 for a in (nngp, k11, k22))
            ntk = nngp if ntk is None else w2 * ntk + nngp
        elif isinstance(layer, Conv):
            w2, b2 = scales[i, 0], scales[i, 1]
            conv = _conv_full if m_in == FULL else _conv_diagonal
            nngp, k11, k22 = (w2 * conv(a, layer, length) + b2 for a in (nngp, k11, k22))
            ntk = nngp if ntk is None else w2 * conv(ntk, layer, length) + nngp
            if not layer.shared and m_out == FULL:  # independent weights: no cross-position terms
                nngp, ntk, k11, k22 = map(_embed_diagonal, (nngp, ntk, k11, k22))
        elif isinstance(layer, Activation):
            if m_in == VECTOR:
                q1, q2, same = k11[:, None], k22[None, :], identical
            elif m_in == DIAGONAL:
                q1, q2, same = k11[:, :, None], k22[:, None, :], identical[None]
            else:  # rho = 1 only at equal positions of identical inputs
                d11, d22 = _diagonal(k11), _diagonal(k22)
                q1, q2 = d11[:, None, :, None], d22[None, :, None, :]
                eye = jnp.eye(length, dtype=bool)[:, :, None, None]
                same = eye & identical[None, None]
            nngp, dot = activations.dual(layer.fn, nngp, q1, q2, degree=degree, identical=same)
            ntk = None if ntk is None else ntk * dot
            if m_in == FULL:
                k11 = activations.dual(layer.fn, k11, d11[:, None, :], d11[None, :, :], degree=degree)[0]
                k22 = activations.dual(layer.fn, k22, d22[:, None, :], d22[None, :, :], degree=degree)[0]
            else:
                k11 = activations.dual_variance(layer.fn, k11, degree=degree)
                k22 = activations.dual_variance(layer.fn, k22, degree=degree)
        elif isinstance(layer, Flatten) and m_in == DIAGONAL:
            nngp, k11, k22 = nngp.mean(0), k11.mean(0), k22.mean(0)
            ntk = None if ntk is None else ntk.mean(0)
        elif isinstance(layer, GlobalAvgPool):
            nngp, k11, k22 = nngp.mean((0, 1)), k11.mean((0, 1)), k22.mean((0, 1))
            ntk = None if ntk is None else ntk.mean((0, 1))
    return nngp, ntk, k11, k22


def _stages(arch: Architecture) -> list[tuple[int, int]]:
    """Split the layers after every activation. Each stage is compiled on its own: inside one
    program XLA's fusion recomputes earlier layers' elementwise work in later layers' fusions (the
    cost grew quadratically with depth), and a program boundary is the one barrier it keeps."""
    stages, start = [], 0
    for i, layer in enumerate(arch):
        if isinstance(layer, Activation):
            stages.append((start, i + 1))
            start = i + 1
    if start < len(arch):
        stages.append((start, len(arch)))
    return stages


def _first_stage(x1, x2, identical, scales, **kwargs):
    """The input covariances and the first stage in one program, so XLA fuses the input products
    into the first layer instead of materialising them."""
    return _apply_layers(*_input_covariances(x1, x2, mode=kwargs["modes"][0]), identical, scales,
                         **kwargs)


def _scales(layers: Sequence) -> np.ndarray:
    """`(len(layers), 2)` float64: each weight layer's `(w_std^2, b_std^2)`, zeros elsewhere. They
    are an argument of a stage's program, not constants compiled into it (`_unscaled`), so
    architectures that differ only in their scales (a page's w_std and b_std controls, the
    reference cases) share one program."""
    return np.array([(layer.w_std ** 2, layer.b_std ** 2) if isinstance(layer, (Dense, Conv))
                     else (0.0, 0.0) for layer in layers], dtype=np.float64).reshape(-1, 2)


def _unscaled(layer):
    """`layer` with its scales set to their defaults: its structure, the key of its program."""
    if isinstance(layer, (Dense, Conv)):
        return dataclasses.replace(layer, w_std=1.0, b_std=0.0)
    return layer


@functools.lru_cache(maxsize=256)
def _compiled_stage(layers: tuple, modes: tuple, lengths: tuple, degree: int, first: bool):
    return jax.jit(functools.partial(_first_stage if first else _apply_layers, layers=layers,
                                     modes=modes, lengths=lengths, degree=degree))


def _stage_functions(plan: "KernelPlan") -> list:
    """The compiled stages of a plan, in order, each with its layers' scales (looked up once per
    call, not once per block)."""
    return [(_compiled_stage(tuple(map(_unscaled, plan.arch[start:stop])),
                             plan.modes[start:stop + 1], plan.lengths[start:stop + 1],
                             plan.quadrature_degree, start == 0),
             jnp.asarray(_scales(plan.arch[start:stop])))
            for start, stop in _stages(plan.arch)]


def _kernel_block(stages: list, x1, x2, identical):
    """NNGP and NTK for all pairs of the rows of `x1` and `x2` (one block), dispatched
    asynchronously stage by stage."""
    state = (x1, x2)
    for fn, scales in stages:
        state = fn(*state, identical, scales)
    return state[0], state[1]


def kernel_blocks(plan: "KernelPlan", tasks: Sequence, inputs: Callable) -> Iterator:
    """The plan's NNGP and NTK on blocks of pairs, in the order of `tasks`: `inputs(task)` gives
    a block's `(x1, x2, identical)` (rows of the plan's block shape, and the bool mask of pairs
    that are the same input, whose correlation is pinned to 1), and each is yielded as
    `(task, KernelPair)` of numpy blocks. JAX dispatches asynchronously, so `_IN_FLIGHT` blocks
    compute while the previous one is copied out. `nngp_ntk` and the hypercube's kernel row
    (`engine.spectra`) both run through here; a block that overflows float64 (weights that grow
    a deep stack past 1e308) raises `ValueError` with a sentence."""
    stages = _stage_functions(plan)
    in_flight = collections.deque()

    def oldest():
        task, (nngp_blk, ntk_blk) = in_flight.popleft()
        blocks = KernelPair(np.asarray(nngp_blk), np.asarray(ntk_blk))
        if not (np.isfinite(blocks.nngp).all() and np.isfinite(blocks.ntk).all()):
            raise ValueError("The kernel overflows float64 for these inputs and layers (its "
                             "entries grow past 1e308 through the layers): rescale the inputs or "
                             "use smaller w_std and b_std.")
        return task, blocks

    for task in tasks:
        in_flight.append((task, _kernel_block(stages, *inputs(task))))
        if len(in_flight) == _IN_FLIGHT:
            yield oldest()
    while in_flight:
        yield oldest()


# --- Public entry point --------------------------------------------------------------------------


INPUT_MAX = 1e75
"""Largest input entry `nngp_ntk` accepts: an input's variance `x . x / d` is then at most 1e150,
so the product of two variances that an activation takes (`q1 q2`, `engine.activations.dual`)
stays finite. (At 1e100, two inputs of 2^257 and 2^256 gave NaN: their variances' product is
2^1024, just past float64's largest number.) Larger weights can still overflow a deep stack:
`nngp_ntk` then says so instead of returning infinities."""


def _as_inputs(x, name: str) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape (n, d).") from None
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d) with n, d >= 1, got shape "
                         f"{x.shape}; reshape it, e.g. x.reshape(1, -1) for a single input.")
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); remove or replace them.")
    if np.any(np.abs(x) > INPUT_MAX):
        # The recursion starts from x . x' / d: entries near 1e300 overflow it to inf, then NaN.
        raise ValueError(f"{name} has entries above {INPUT_MAX:g} in absolute value, whose products "
                         "overflow float64; rescale the inputs (the kernels of homogeneous "
                         "networks scale with them).")
    return x


def _pad_rows(x: np.ndarray, rows: int) -> np.ndarray:
    """Pad to `rows` rows with copies of the first row, so every block has one compiled shape."""
    if x.shape[0] == rows:
        return x
    return np.concatenate([x, np.broadcast_to(x[:1], (rows - x.shape[0], x.shape[1]))])


def nngp_ntk(layers, x1, x2=None, *, memory_budget: int = DEFAULT_MEMORY_BUDGET,
             progress: Optional[Callable[[int, int], None]] = None,
             quadrature_degree: int = activations.DEFAULT_QUADRATURE_DEGREE,
             block_size: Optional[int] = None, backend: Optional[str] = None) -> KernelPair:
    """Infinite-width NNGP and NTK of the network `layers` between the rows of `x1` and `x2`.

    Args:
        layers: list of layer dicts (`engine.specs`), ending in a `dense` readout with one output.
        x1: inputs, shape `(n1, d)`; `conv`/`local` stacks read each row as a length-`d` signal.
        x2: inputs, shape `(n2, d)`; `None` means `x1` (then one triangle is computed and mirrored,
            so the result is exactly symmetric).
        memory_budget: bytes for the outputs plus one block's working set.
        progress: called as `progress(done, total)` after each block.
        quadrature_degree: points per dimension of the quadrature rule for activations without
            a closed form (`tanh`, `sigmoid`); see `engine.activations`.
        block_size: the largest block side to use (default: chosen from the budget).
        backend: the device the blocks are sized for (`kernel_plan`; default: JAX's backend in
            use). The numbers are the same for every plan.

    Returns:
        `KernelPair(nngp, ntk)`, numpy float64 arrays of shape `(n1, n2)`.

    Example:
        >>> from engine.specs import mlp
        >>> x = np.eye(3)
        >>> nngp, ntk = nngp_ntk(mlp(2, b_std=0.1), x)
        >>> nngp.shape, bool(np.allclose(nngp, nngp.T))
        ((3, 3), True)

    References: see the module docstring; conventions of neural-tangents 0.6.5 `stax`.
    """
    x1 = _as_inputs(x1, "x1")
    if x2 is not None:
        x2 = _as_inputs(x2, "x2")
        if x2.shape[1] != x1.shape[1]:
            raise ValueError(f"x1 has inputs of dimension {x1.shape[1]} but x2 of dimension "
                             f"{x2.shape[1]}; give both the same number of columns.")
    plan = kernel_plan(layers, x1.shape[1], x1.shape[0], None if x2 is None else x2.shape[0],
                       memory_budget=memory_budget, quadrature_degree=quadrature_degree,
                       block_size=block_size, backend=backend)
    return _evaluate(plan, x1, x2, progress)


def _evaluate(plan: KernelPlan, x1: np.ndarray, x2: Optional[np.ndarray],
              progress: Optional[Callable[[int, int], None]]) -> KernelPair:
    b1, b2 = plan.block
    n1, n2 = plan.n1, plan.n2
    nngp_out = np.empty((n1, n2))
    ntk_out = np.empty((n1, n2))
    if plan.symmetric:
        starts = range(0, n1, b1)
        tasks = [(i, j) for i in starts for j in starts if j >= i]
        xa = _pad_rows(x1, len(starts) * b1)
        xb = xa
    else:
        tasks = [(i, j) for i in range(0, n1, b1) for j in range(0, n2, b2)]
        xa = _pad_rows(x1, -(-n1 // b1) * b1)
        xb = _pad_rows(x2, -(-n2 // b2) * b2)

    # Identical rows (an input with itself, or repeated inputs) get rho = 1 exactly.
    ids = _row_ids(np.concatenate([xa, xb]))
    ids_a, ids_b = ids[:len(xa)], ids[len(xa):]
    # Each row block goes to the device once, however many blocks it takes part in.
    rows_a = {i: jnp.asarray(xa[i:i + b1]) for i in {i for i, _ in tasks}}
    rows_b = rows_a if plan.symmetric else {j: jnp.asarray(xb[j:j + b2]) for j in {j for _, j in tasks}}
    distinct = jnp.zeros((b1, b2), dtype=bool)

    def inputs(task):
        i, j = task
        identical = ids_a[i:i + b1, None] == ids_b[None, j:j + b2]
        return rows_a[i], rows_b[j], jnp.asarray(identical) if identical.any() else distinct

    for done, ((i, j), blocks) in enumerate(kernel_blocks(plan, tasks, inputs), 1):
        _store(nngp_out, ntk_out, i, j, blocks.nngp, blocks.ntk, n1, n2, plan.symmetric)
        if progress is not None:
            progress(done, len(tasks))
    return KernelPair(nngp_out, ntk_out)


def _row_ids(x: np.ndarray) -> np.ndarray:
    """Equal ids for equal rows: each row read as one opaque byte string (`+ 0.0` first, so -0.0
    and 0.0 agree), which numpy sorts 6x faster than `np.unique(x, axis=0)` (1.7 s against 10 s for
    the 2^20 rows of a d = 20 hypercube)."""
    rows = np.ascontiguousarray(x + 0.0)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return np.unique(keys, return_inverse=True)[1].ravel()


def _store(nngp_out, ntk_out, i, j, nngp_blk, ntk_blk, n1, n2, symmetric):
    rows, cols = min(nngp_blk.shape[0], n1 - i), min(nngp_blk.shape[1], n2 - j)
    for out, blk in ((nngp_out, nngp_blk), (ntk_out, ntk_blk)):
        blk = blk[:rows, :cols]
        if symmetric and i == j:  # mirror the upper triangle so the result is exactly symmetric
            blk = np.triu(blk) + np.triu(blk, 1).T
        out[i:i + rows, j:j + cols] = blk
        if symmetric and i != j:
            out[j:j + cols, i:i + rows] = blk.T
