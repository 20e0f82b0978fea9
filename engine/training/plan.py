"""The plan of a sweep before any work: its buckets of sample sizes, its time and its memory.

Everything here is computed from shapes alone (`engine.networks.param_shapes`), so a page can refuse
a view that is too slow or too large before anything is allocated. The same planner
(`plan_buckets`) chooses the buckets `train_sweep` compiles, so the estimate follows the sweep.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, NamedTuple, Sequence

import jax
import numpy as np

from engine.guard import whole
from engine.networks import param_shapes, parameter_count, resolve_widths
from engine.specs import Architecture, Conv, parse_layers
from engine.training.head import split_frozen_head
from engine.training.spec import TrainSpec, check_frozen

# Cost model, in seconds on the reference CPU (2 cores), fitted by `bench/training.py`: the
# sustained float32 rate of a training step's arithmetic, the fixed cost of one step of one bucket
# (loop, optimizer and small ops), the memory traffic of one pass (narrow layers, the trees' 8
# channels, are bound by it: 1.6-2.0 ns per float and training step measured on the Universality
# page's CNNs, 3 passes a step, against 0.45 us of arithmetic on 1,073 floats at d = 64), compiling
# a sweep, and compiling each bucket (tracing, lowering and XLA's compile of its copy of the step
# and the evaluation), which grows with its weight layers. The compile terms were fitted on 24
# sweeps of the Universality page's networks (3 architectures, d = 8..64, 1, 3 or 5 buckets):
# a sweep's first call took 0.35 s + (0.37 s + 0.071 s per weight layer) per bucket more than its
# second, on a machine that ran their steps at 0.42 (0.30-0.58) times the model's time: divided by
# 0.42, the reference CPU's 0.9 s + 0.17 s per weight layer a bucket (and 0.8 s a sweep).
_FLOPS_PER_SECOND = 6e10
_SECONDS_PER_STEP = 2.5e-5
_SECONDS_PER_FLOAT = 6e-10  # per float a weight layer reads or writes, once per input and pass
_COMPILE_SECONDS = 1.0
_COMPILE_PER_BUCKET = 0.9
_COMPILE_PER_LAYER = 0.17
_CPU_BATCH_BYTES = 4 * 2 ** 20  # see `runs_per_batch`
SWEEPS_AT_ONCE = 2
"""Sweeps a view with several runs at once (`engine.threads.run_in_order`): one sweep of small
networks keeps about 1.4 of two CPU cores busy, two keep both (measured: the Universality page's
CNN and LCN sweeps at d = 64, 12.4 s together against 18.1 s one after the other)."""
_AT_ONCE_SPEEDUP = 1.45  # that measurement's ratio, for `concurrent_seconds`
# Memory model (`estimate_memory`): float32 throughout. Compiling a sweep's program takes memory
# that grows with its weight layers and buckets (measured on the reference CPU, `ru_maxrss`: 11 to
# 26 MiB for one bucket of a 1- or 2-hidden-layer MLP, 66 MiB for 4 hidden layers, 65 to 113 MiB
# for a 7-layer tree CNN, 269 MiB for two buckets of it on 8192 rows and 717 MiB for ten); of
# that, about 3 MiB per weight layer and bucket stays while the program is cached (`program.program`):
# each further 7-layer tree CNN program compiled in one process added 8 to 26 MiB.
_FLOAT_BYTES = 4
_COMPILE_BYTES = 32 * 2 ** 20  # the initialisation's program and the sweep's small ones
_COMPILE_BYTES_PER_LAYER = 20 * 2 ** 20  # per weight layer of each bucket, while compiling
_PROGRAM_BYTES_PER_LAYER = 4 * 2 ** 20  # per weight layer of each bucket, kept


# --- Cost model ----------------------------------------------------------------------------------


def layer_costs(arch: Architecture, d: int, widths: tuple) -> list:
    """`(multiply-adds, floats read, floats written)` of each weight layer on one input, from its
    weight shape (`engine.networks.param_shapes`): `C_in C_out` per position for a `dense` (acting at
    every position of a signal), `f C_in C_out` per output position for a `conv`/`local`, whose
    patches it reads."""
    lengths = arch.lengths(d)
    costs = []
    for i, (layer, pair) in enumerate(zip(arch, param_shapes(arch, d, widths))):
        if pair is None:
            continue
        w = pair[0]
        fan_in, out = (math.prod(w[-3:-1]) if isinstance(layer, Conv) else w[0]), w[-1]
        positions = lengths[i] or 1
        costs.append((positions * fan_in * out, positions * fan_in, positions * out))
    return costs


def _macs_per_sample(arch: Architecture, d: int, widths: tuple) -> int:
    """Multiply-adds of one forward pass on one input."""
    return sum(macs for macs, _, _ in layer_costs(arch, d, widths))


def runs_per_batch(arch: Architecture, d: int, widths: tuple, rows: int, local_runs: int,
                    platform: str) -> int:
    """How many runs of a bucket to vmap together on one device (a divisor of `local_runs`).

    Accelerators take all of them. On a CPU, runs vmapped together share the caches, and once a
    batch's activations outgrow a few MiB one run at a time is faster: on the reference CPU a tree
    CNN with 512 rows a step trained 1.6x faster one run at a time than 24 vmapped, while an MLP of
    width 64 trained 1.2x faster vmapped. So a batch holds at most `_CPU_BATCH_BYTES` of the
    floats its layers read and write.
    """
    if platform != "cpu":
        return local_runs
    floats = sum(read + written for _, read, written in layer_costs(arch, d, widths))
    k = max(1, min(local_runs, _CPU_BATCH_BYTES // (4 * rows * floats)))
    while local_runs % k:  # lax.map would compile the remainder separately
        k -= 1
    return k


def trained_macs(costs: list, frozen: tuple) -> float:
    """The multiply-adds of one forward pass weighted by what a training step does with each
    weight layer, in units of the 6 flops per multiply-add of a trained layer (forward, weight
    gradient, input gradient): a frozen layer costs its forward pass (2), plus the input gradient
    (2) when a trained layer lies below it; none is computed below the lowest trained layer."""
    total, below = 0.0, False
    for k, (macs, _, _) in enumerate(costs):
        if k in frozen:
            total += macs * (2.0 + 2.0 * below) / 6.0
        else:
            total += macs
            below = True
    return total


def _bucket_seconds(costs: list, frozen: tuple, train: TrainSpec, runs: int, rows: int,
                    eval_rows: int) -> float:
    """Seconds, compilation included, for one bucket of `runs` runs (on one device) of the weight
    layers `costs` (`layer_costs`, `frozen` held) on `rows` rows each, evaluated on `rows` plus
    `eval_rows` more inputs. Each input of a step (forward and backward) takes the longer of its
    arithmetic, 6 flops per trained multiply-add (`trained_macs`) at `_FLOPS_PER_SECOND`, and its
    memory traffic, 3 passes over the floats its layers read and write at `_SECONDS_PER_FLOAT`;
    each evaluated input one pass (2 flops per multiply-add); plus a fixed `_SECONDS_PER_STEP` a
    step, and `_COMPILE_PER_BUCKET` plus `_COMPILE_PER_LAYER` per weight layer to compile."""
    macs = sum(m for m, _, _ in costs)
    floats = sum(read + written for _, read, written in costs)
    step = max(6.0 * trained_macs(costs, frozen) / _FLOPS_PER_SECOND,
               3.0 * floats * _SECONDS_PER_FLOAT)
    evaluation = max(2.0 * macs / _FLOPS_PER_SECOND, floats * _SECONDS_PER_FLOAT)
    evals = train.steps / train.eval_every
    return (runs * (step * train.steps * (train.batch_size or rows)
                    + evaluation * evals * (rows + eval_rows))
            + train.steps * _SECONDS_PER_STEP
            + _COMPILE_PER_BUCKET + _COMPILE_PER_LAYER * len(costs))


def estimate_cost(layers: Iterable[Any], d: int, n_max: int, runs: int, train: TrainSpec, *,
                  sizes: Sequence[int] | None = None, n_eval: int | None = None,
                  n_probe: int = 0) -> float:
    """Rough wall-clock seconds of a sweep of `runs` runs on the reference CPU (2 cores, one
    device), compilation included, before any work. For one bucket of runs on `rows` rows each:

        step    = max(6 * train_macs / 6e10, 3 * floats * 6e-10)
        eval    = max(2 * macs / 6e10, floats * 6e-10)
        seconds = runs * (step * steps * step_rows + eval * (steps / eval_every) * (rows + n_eval))
                  + steps * 2.5e-5 + 0.9 + 0.17 * weight_layers

    (the last two terms compile the bucket) plus 1 s for the sweep. `macs` is the multiply-adds
    of one forward pass on one input and `floats` the floats its weight layers read and write
    (`layer_costs`): an input of a training step (forward and backward) takes the longer of its 6
    flops per multiply-add and its 3 passes over memory, on `step_rows` (`batch_size`, or `rows`
    for full batch), and an evaluated input one pass.
    `train_macs` is `macs` unless `train.frozen` holds layers: a frozen layer's forward pass
    costs 2 flops per multiply-add and its backward pass 2 more, only when a trained layer lies
    below it; a frozen head (frozen layers from the input on, in a network without `conv`/`local`)
    leaves the step altogether and costs one forward pass on every input instead. Without
    `sizes`, all runs are one bucket at `n_max` rows: an upper bound for full batch, where smaller
    sizes compute fewer rows. With `sizes` (the sweep's sample sizes, `runs` spread evenly over
    them) the estimate follows the buckets `train_sweep` would choose.
    `n_eval` is the number of validation plus test inputs (default `2 * n_max`); `n_probe` the
    number of probe inputs (`x_probe`), evaluated with them.

    The constants were fitted by `bench/training.py` on the reference CPU; early stopping can only
    make a sweep faster. Expect a factor of 2 either way, and scale by the machine's speed
    elsewhere.

    >>> import engine
    >>> train = TrainSpec(steps=1000, patience=0)
    >>> round(estimate_cost(engine.mlp(2), 16, 512, 24, train), 1)
    8.9
    >>> sizes = [16, 32, 64, 128, 256, 512]
    >>> round(estimate_cost(engine.mlp(2), 16, 512, 24, train, sizes=sizes), 1)
    7.2
    """
    if not isinstance(train, TrainSpec):
        raise ValueError(f"train must be a TrainSpec, got {type(train).__name__}.")
    arch = parse_layers(layers)
    d = whole(d, "d", 1)
    n_max = whole(n_max, "n_max", 1)
    runs = whole(runs, "runs", 1)
    n_eval = 2 * n_max if n_eval is None else whole(n_eval, "n_eval", 0)
    n_probe = whole(n_probe, "n_probe", 0)
    widths = resolve_widths(arch, train.width)
    frozen = check_frozen(arch, train.frozen)
    extra = 0.0
    n_eval += n_probe  # probe inputs join every evaluation
    stage = split_frozen_head(arch, d, widths, frozen)
    if stage is not None:  # the head runs once on every input; the program trains the rest
        full_macs = _macs_per_sample(arch, d, widths)
        arch, d, widths, frozen = stage.arch, stage.d, stage.widths, stage.frozen
        head_macs = full_macs - _macs_per_sample(arch, d, widths)
        extra += (2.0 * runs * (n_max + n_eval) * head_macs / _FLOPS_PER_SECOND
                  + _COMPILE_PER_LAYER * stage.weight_layers)
    costs = layer_costs(arch, d, widths)
    if sizes is None:
        return _bucket_seconds(costs, frozen, train, runs, n_max, n_eval) + _COMPILE_SECONDS + extra
    sizes = [whole(n, "sizes entries", 1) for n in sizes]
    if not sizes or sizes != sorted(set(sizes)) or sizes[-1] > n_max:
        raise ValueError(f"sizes must be increasing and at most n_max = {n_max}, got {sizes}.")
    seeds = -(-runs // len(sizes))
    buckets = plan_buckets(sizes, costs, frozen, seeds, 1, n_eval, train)
    return _COMPILE_SECONDS + extra + sum(
        _bucket_seconds(costs, frozen, train, seeds * len(b), sizes[b[-1]], n_eval) for b in buckets)


def estimate_memory(layers: Iterable[Any], d: int, n_max: int, runs: int, train: TrainSpec, *,
                    sizes: Sequence[int] | None = None, n_val: int | None = None,
                    n_test: int | None = None, n_probe: int = 0, test_per_seed: bool = False,
                    return_params: bool = False) -> "SweepMemory":
    """Rough peak bytes that `train_sweep` allocates beyond its inputs (the caller's data sets),
    before any work, from the shapes alone, on this machine's devices (`jax.local_devices()`):
    its arrays, the compilation of its program, and the compiled program, which stays while it is
    cached (`SweepMemory`).

    With `S` seeds (`runs` spread evenly over `sizes`, as in `estimate_cost`), `P` trained
    parameters, `F` the floats one input reads and writes through the trained weight layers
    (`layer_costs`) and `F_max` the largest layer's share, every bucket of `r` runs on `rows` rows
    (the buckets `train_sweep` plans) holds, in float32:

        data  = r * (rows (d + 1) + n_val (d + 1) [+ n_test (d + 1)] [+ n_probe d])
        state = r * (P (1 + optimizer slots + return_params) + n_probe)

    (the bracketed terms when the test set and probes are per seed; Adam keeps two slots per
    parameter, momentum one, SGD none). These are built as numpy arrays, then copied to the device
    (both copies exist while `jax.device_put` runs), and the program, mapped over batches of `k`
    runs (`runs_per_batch`), writes a new state beside its input, with a working set per batch of

        work  = k * (3 step_rows F + eval_rows (d + 2 F_max) + 6 P)

    (a step's activations, kept for the backward pass, and their cotangents; an evaluation's
    forward pass on `rows + n_val + n_test + n_probe` inputs; gradients, updates and the
    optimizer's new slots), one bucket at a time. With `data` and `state` summed over buckets and
    the largest `work`, the peak is `data + state + max(data, state + work)`, plus the initial
    parameters `S P_all`, the results (`return_params`, probes) and, for
    a frozen head, its features: `S (n_val + n_test + n_probe) C` kept, and twice the head's
    inputs and outputs while it runs (`C` its output channels). XLA's compilation of the program
    takes `_COMPILE_BYTES` and `_COMPILE_BYTES_PER_LAYER` for every weight layer of every bucket,
    the compiled program `_PROGRAM_BYTES_PER_LAYER` for each.

    Checked against the measured peak (`ru_maxrss`) of the experiments that train
    (`tests/test_resource_guard.py`).

    >>> import engine
    >>> memory = estimate_memory(engine.mlp(2), 16, 512, 24, TrainSpec(steps=1000))
    >>> [round(part / 2**20) for part in memory]
    [25, 92, 12]
    """
    if not isinstance(train, TrainSpec):
        raise ValueError(f"train must be a TrainSpec, got {type(train).__name__}.")
    arch = parse_layers(layers)
    d = whole(d, "d", 1)
    n_max = whole(n_max, "n_max", 1)
    runs = whole(runs, "runs", 1)
    n_val = n_max if n_val is None else whole(n_val, "n_val", 1)
    n_test = n_max if n_test is None else whole(n_test, "n_test", 1)
    n_probe = whole(n_probe, "n_probe", 0)
    sizes = [n_max] if sizes is None else [whole(n, "sizes entries", 1) for n in sizes]
    if not sizes or sizes != sorted(set(sizes)) or sizes[-1] > n_max:
        raise ValueError(f"sizes must be increasing and at most n_max = {n_max}, got {sizes}.")
    widths = resolve_widths(arch, train.width)
    frozen = check_frozen(arch, train.frozen)
    devices = jax.local_devices()
    n_dev, platform = len(devices), devices[0].platform
    seeds = -(-runs // len(sizes))
    p_all = parameter_count(arch, d, width=widths)
    total = seeds * p_all  # the initial parameters
    stage = split_frozen_head(arch, d, widths, frozen)
    if stage is not None:
        channels = stage.d
        m = n_val + n_test + n_probe
        total += seeds * m * channels + 2 * seeds * m * (d + channels)  # features; head running
        arch, widths, frozen = stage.arch, stage.widths, stage.frozen
        p_trained = parameter_count(arch, channels, width=widths)
        test_per_seed = True  # features differ from seed to seed
    else:
        channels, p_trained = d, p_all
    costs = layer_costs(arch, channels, widths)
    floats = sum(read + written for _, read, written in costs)
    largest = max(read + written for _, read, written in costs)
    slots = {"adam": 2, "momentum": 1}.get(train.optimizer, 0)
    buckets = plan_buckets(sizes, costs, frozen, seeds, n_dev, n_val + n_test, train)
    data = state = work = 0
    for bucket in buckets:
        rows = sizes[bucket[-1]]
        r = seeds * len(bucket)
        r += -r % n_dev
        per_run_eval = n_val + (n_test if test_per_seed else 0)
        data += r * (rows * (channels + 1) + per_run_eval * (channels + 1) + n_probe * channels)
        if stage is not None:
            total += 2 * r * rows * (d + channels)  # the bucket's rows through the head
        state += r * (p_trained * (1 + slots + bool(return_params)) + n_probe)
        k = runs_per_batch(arch, channels, widths, train.batch_size or rows, r // n_dev,
                            platform)
        eval_rows = rows + n_val + n_test + n_probe
        work = max(work, k * n_dev * (3 * (train.batch_size or rows) * floats
                                      + eval_rows * (channels + 2 * largest) + 6 * p_trained))
    total += data + state + max(data, state + work)
    results = seeds * len(sizes) * (p_all * bool(return_params) + 2 * n_probe)  # probe: float64
    layers_compiled = len(costs) * len(buckets)
    return SweepMemory(arrays=_FLOAT_BYTES * (total + results),
                       compile=_COMPILE_BYTES + _COMPILE_BYTES_PER_LAYER * layers_compiled,
                       program=_PROGRAM_BYTES_PER_LAYER * layers_compiled)


class SweepMemory(NamedTuple):
    """`estimate_memory`'s answer, in bytes: the sweep's `arrays`, the working memory of compiling
    its program (`compile`), and the compiled `program`, kept while it is cached. One sweep peaks
    at `total`; sweeps run one after another (or a few at a time) at `sequential_peak`."""

    arrays: int
    compile: int
    program: int

    @property
    def total(self) -> int:
        return self.arrays + self.compile + self.program


def concurrent_seconds(seconds: Sequence[float], at_once: int = SWEEPS_AT_ONCE) -> float:
    """Wall-clock seconds of sweeps estimated at `seconds` each, run `at_once` at a time: their sum
    shared by `at_once` workers, sped up by at most `_AT_ONCE_SPEEDUP` (two sweeps on two CPU
    cores), and never less than the longest.

    >>> round(concurrent_seconds([10.0, 10.0, 9.0]), 1)
    20.0
    """
    seconds = list(seconds)
    if not seconds:
        return 0.0
    return max(max(seconds), sum(seconds) / min(at_once, _AT_ONCE_SPEEDUP))


def sequential_peak(memories: Iterable[SweepMemory], at_once: int = 1) -> int:
    """Peak bytes of sweeps run `at_once` at a time (`SWEEPS_AT_ONCE` in a view, one after another
    by default): the `at_once` largest `arrays + compile` (each sweep's arrays and compilation are
    given back when it returns) plus every compiled `program` (they stay cached).

    >>> sequential_peak([SweepMemory(5, 10, 1), SweepMemory(20, 2, 1)])
    24
    >>> sequential_peak([SweepMemory(5, 10, 1), SweepMemory(20, 2, 1)], at_once=2)
    39
    """
    memories = list(memories)
    working = sorted((m.arrays + m.compile for m in memories), reverse=True)[:at_once]
    return sum(working) + sum(m.program for m in memories)


# --- Buckets of sample sizes ---------------------------------------------------------------------


def plan_buckets(sizes: Sequence[int], costs: list, frozen: tuple, n_seeds: int, n_devices: int,
                 eval_rows: int, train: TrainSpec) -> tuple:
    """Partition `sizes` (increasing) into consecutive buckets, each padded to its largest size,
    minimising the estimated time on one device of the weight layers `costs` (`layer_costs`,
    `frozen` held), compilation included (`_bucket_seconds` of each bucket's share of runs;
    dynamic programming over the cut points)."""
    count = len(sizes)

    def cost(i, j):  # the bucket sizes[i:j]
        runs = -(-n_seeds * (j - i) // n_devices)
        return _bucket_seconds(costs, frozen, train, runs, sizes[j - 1], eval_rows)

    best = [0.0] + [math.inf] * count
    cut = [0] * (count + 1)
    for j in range(1, count + 1):
        for i in range(j):
            c = best[i] + cost(i, j)
            if c < best[j] * (1 - 1e-12):
                best[j], cut[j] = c, i
    buckets, j = [], count
    while j > 0:
        buckets.append(tuple(range(cut[j], j)))
        j = cut[j]
    return tuple(reversed(buckets))


def check_buckets(buckets, sizes: np.ndarray) -> tuple:
    """Index tuples from a user's partition of `sizes` into contiguous groups of sizes."""
    message = (f"buckets must split the sizes {sizes.tolist()} into consecutive groups, e.g. "
               f"[{sizes.tolist()[:1]}, {sizes.tolist()[1:]}], or be None to let the cost model "
               f"choose; got {buckets!r}.")
    try:
        groups = [[int(v) for v in group] for group in buckets]
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if not all(groups) or [v for group in groups for v in group] != sizes.tolist():
        raise ValueError(message)
    out, start = [], 0
    for group in groups:
        out.append(tuple(range(start, start + len(group))))
        start += len(group)
    return tuple(out)

