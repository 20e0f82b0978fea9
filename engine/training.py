"""Training the finite networks of `engine.networks`: whole sweeps as one compiled program.

A sweep trains one architecture on a grid of runs, seeds x sample sizes. Run `(s, i)` trains on the
first `n = sizes[i]` rows of seed `s`'s training set with the square loss

    L(theta) = 1/n * sum_{j < n} (f_theta(x_j) - y_j)^2          (full batch), or
    L_t(theta) = 1/b * sum_{k < b} (f_theta(x_{j_k}) - y_{j_k})^2  (minibatch, j_k ~ U{0..n-1}),

by an optax optimizer (Adam, SGD, SGD with momentum 0.9) for a fixed step budget, evaluating the
train/validation/test MSE every `eval_every` steps and stopping a run early after `patience`
evaluations without a new best validation MSE. The reported test MSE is the one at the best
validation evaluation (step 0, the untrained network, included).

Two options change the model (`TrainSpec`):

- `output="sigmoid"` puts a logistic link on the network's output, `f = sigmoid(g_theta(x))` with
  `g_theta` the network of `engine.networks` (Safran & Lee's second sigmoidal layer,
  `N(x) = sigma(v . h(x) + b)`); the loss above and every reported MSE use `f`.
- `frozen=(k, ...)` holds weight layers at their initial values: weight layer `k` counts the
  `dense`/`conv`/`local` layers from the input (the readout is the last). Their parameters are
  cut out of the gradient (`lax.stop_gradient`, so neither their weight gradients nor, below the
  lowest trained layer, any backward pass are computed) and their updates masked
  (`where(trainable, new, old)`), so they end bit-identical to the initialisation, and the
  optimizer's per-parameter state for them (Adam's moments, momentum) stays at zero. A random
  first layer held fixed under a trained readout is a random-features model.

Two optional outputs of `train_sweep`: `x_probe` gives `SweepResult.probe`, the model's outputs `f`
on chosen inputs at each run's best validation evaluation (the network `test_mse` describes; the
probe inputs join every evaluation's forward pass, and the program keeps the outputs of the best
one), and `return_params=True` gives `SweepResult.params`, that network's weights and biases as
one flat float32 vector per run (`unravel_params` turns it back into `engine.networks`
parameters; the program keeps a copy of the best parameters). Without them the program is the
same as before. `init_params` starts the runs from given parameters instead of `key`'s draws.

A frozen head (weight layers `0..k-1` frozen, `k` trained, in a network without `conv`/`local`)
is evaluated once per seed on every input, and the program trains the rest of the network on its
outputs: identical results (the head's outputs never change), without the head in any step.

How it runs:

- One program per (architecture, width, optimizer, batch size, `eval_every`, buckets, shapes): each
  run is a `lax.scan` over the `eval_every` steps of a chunk followed by an evaluation, mapped over
  the runs (`jax.vmap`, in batches: below), and a Python loop over chunks reports
  `progress(done_steps, total_steps)` and ends as soon as every run has stopped. The learning rate,
  step budget and patience are arguments, not constants: changing them does not recompile.
- Stopped runs are frozen by masked updates (`where(live, new, old)`): under `vmap` every run takes
  every step, so a frozen run keeps its parameters and its optimiser state.
- Sample sizes share a program by masks: a run sees a block of `L >= n` rows whose rows `>= n` are
  zeroed and masked out of its loss, so they never reach its gradient. Sizes are grouped into
  buckets (consecutive in `sizes`, each padded to its largest size; all buckets in one program)
  that minimise the estimated time, compilation included (`_plan_buckets`): masking a size-16 run
  up to 512 rows would cost 32 times its work in full batch, while each bucket adds compilation
  (about 0.15 s per weight layer on the reference CPU). So long full-batch budgets keep large
  sizes apart and merge small ones; with minibatches a step costs `batch_size` rows whatever `n`
  is, and all sizes share one bucket. `SweepResult.buckets` shows the choice; `buckets=`
  overrides it.
- Runs vmapped together: accelerators vmap all of a device's runs of a bucket. On a CPU, runs
  vmapped together share the caches, so a batch holds only a few MiB of activations and a
  `lax.map` goes through the batches (`_runs_per_batch`; `SweepResult.batch_runs`).
- The runs of every bucket are sharded over devices (`jax.sharding.Mesh` with one axis `runs`,
  `jax.shard_map`): each device trains its share with no communication; buckets are padded to a
  multiple of the device count with frozen dummy runs.
- Randomness: seed `s`'s initial parameters come from `jax.random.fold_in(key, seeds[s])`, the
  same for every sample size, so that a learning curve compares sizes at one initialisation (less
  variance between neighbouring sizes). Minibatch indices for run `(s, n)` at step `t` come from
  `fold_in(fold_in(fold_in(fold_in(key, 2**32 - 1), seeds[s]), n), t)`, a stream disjoint from the
  initialisations (seeds are below 2**31), and identical whether the run is trained in a sweep or on
  its own.
- Divergence: a run whose loss is non-finite or above `1e6` times its initial training MSE (at a
  step or at an evaluation) is marked `diverged`, frozen, and reports NaN test and train MSE;
  its curves are NaN from the step it diverged, so a plot shows where it broke, never a curve of
  overflowed numbers.

Everything trains in float32 (inputs and parameters, whatever `jax_enable_x64` says); results are
numpy float64 (parameters stay float32).

>>> import jax, numpy as np, engine
>>> from engine.training import TrainSpec, train_sweep
>>> rng = np.random.default_rng(0)
>>> x, xv, xt = (rng.standard_normal(s).astype(np.float32)
...               for s in [(2, 32, 4), (2, 16, 4), (64, 4)])
>>> y, yv, yt = x.sum(-1), xv.sum(-1), xt.sum(-1)
>>> res = train_sweep(engine.mlp(1), x, y, xv, yv, xt, yt, sizes=[8, 32],
...                   train=TrainSpec(steps=200, eval_every=50, width=16),
...                   key=jax.random.PRNGKey(0))
>>> res.test_mse.shape, res.train_curve.shape, bool(res.diverged.any())
((2, 2), (2, 2, 5), False)

References:
    Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", ICLR.
    Prechelt (1998), "Early Stopping - But When?", Neural Networks: Tricks of the Trade.
    Novak et al. (2020), "Neural Tangents", ICLR (the NTK parameterisation of `engine.networks`).
    Rahimi & Recht (2007), "Random Features for Large-Scale Kernel Machines", NeurIPS (frozen
    random layers).
    Safran & Lee (2022), "Optimization-Based Separations for Neural Networks", COLT,
    arXiv:2112.02393 (a frozen random sigmoid layer under a trained sigmoid unit).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from engine.activations import activation_fn
from engine.networks import apply, hidden_weight_layers, init
from engine.specs import (Activation, Conv, Dense, Flatten, is_spatial, parse_layers,
                          signal_lengths)

__all__ = ["OPTIMIZERS", "OUTPUTS", "SweepMemory", "SweepResult", "TrainSpec", "estimate_cost",
           "estimate_memory", "ravel_params", "sequential_peak", "train_sweep", "unravel_params"]

OPTIMIZERS = ("adam", "sgd", "momentum")
OUTPUTS = ("linear", "sigmoid")  # the link between the network and the loss (`TrainSpec.output`)
DIVERGENCE_FACTOR = 1e6  # a loss above this times the initial training MSE counts as diverged
_BATCH_STREAM = 2 ** 32 - 1  # fold_in index of the minibatch stream; seeds stay below 2**31
_MAX_SEED = 2 ** 31
# Cost model, in seconds on the reference CPU (2 cores), fitted by `bench/training.py`: the
# sustained float32 rate of a training step's arithmetic, the fixed cost of one step of one bucket
# (loop, optimizer and small ops), compiling a sweep, and compiling each weight layer of a bucket.
_FLOPS_PER_SECOND = 6e10
_SECONDS_PER_STEP = 2.5e-5
_COMPILE_SECONDS = 1.0
_COMPILE_PER_LAYER = 0.15
_CPU_BATCH_BYTES = 4 * 2 ** 20  # see `_runs_per_batch`
# Memory model (`estimate_memory`): float32 throughout. Compiling a sweep's program takes memory
# that grows with its weight layers and buckets (measured on the reference CPU, `ru_maxrss`: 11 to
# 26 MiB for one bucket of a 1- or 2-hidden-layer MLP, 66 MiB for 4 hidden layers, 65 to 113 MiB
# for a 7-layer tree CNN, 269 MiB for two buckets of it on 8192 rows and 717 MiB for ten); of
# that, about 3 MiB per weight layer and bucket stays while the program is cached (`_program`):
# each further 7-layer tree CNN program compiled in one process added 8 to 26 MiB.
_FLOAT_BYTES = 4
_COMPILE_BYTES = 32 * 2 ** 20  # the initialisation's program and the sweep's small ones
_COMPILE_BYTES_PER_LAYER = 20 * 2 ** 20  # per weight layer of each bucket, while compiling
_PROGRAM_BYTES_PER_LAYER = 4 * 2 ** 20  # per weight layer of each bucket, kept


# --- Specs and results ---------------------------------------------------------------------------


def _whole(value: Any, name: str, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be a whole number, got {value!r}.")
    if value < lowest:
        raise ValueError(f"{name} must be at least {lowest}, got {value!r}.")
    return int(value)


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """How to train: optimizer, step budget, batches, evaluation and early stopping, width.

    Attributes:
        optimizer: `"adam"` (`optax.adam`), `"sgd"` (plain gradient descent, `optax.sgd`) or
            `"momentum"` (`optax.sgd` with momentum 0.9).
        learning_rate: positive step size.
        steps: the step budget.
        batch_size: 0 for full batch; otherwise each step draws this many rows uniformly, with
            replacement, among the run's first `n` rows.
        eval_every: train/validation/test MSE are evaluated at step 0 and every `eval_every` steps
            (and at `steps` when it is not a multiple).
        patience: a run stops after this many evaluations in a row without a new best validation
            MSE (strictly lower); 0 never stops early.
        width: channels of every hidden weight layer, or one entry per hidden weight layer (channels
            growing with depth for multichanneling), as `engine.networks.init` takes it.
        frozen: weight layers held at their initial values (weights and biases), as 0-based
            indices over the `dense`/`conv`/`local` layers from the input; the readout is the last
            index. `(0,)` under one hidden layer is a random-features model. Indices are checked
            against the architecture by `train_sweep` and `estimate_cost`.
        output: `"linear"` (the network's output is the prediction) or `"sigmoid"` (the
            prediction is `sigmoid` of it, in the loss and in every reported MSE).

    The scales `w_std`, `b_std` belong to the layers, not here.
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 2000
    batch_size: int = 0
    eval_every: int = 50
    patience: int = 10
    width: int | tuple = 64
    frozen: tuple = ()
    output: str = "linear"

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}; use one of "
                             f"{', '.join(OPTIMIZERS)}.")
        if self.output not in OUTPUTS:
            raise ValueError(f"Unknown output {self.output!r}; use one of {', '.join(OUTPUTS)}.")
        frozen = self.frozen
        if isinstance(frozen, (str, bytes, dict)) or not isinstance(frozen, Iterable):
            raise ValueError(f"frozen must be a sequence of weight-layer indices, e.g. (0,), got "
                             f"{frozen!r}.")
        frozen = tuple(_whole(k, "frozen entries", 0) for k in frozen)
        if len(set(frozen)) != len(frozen):
            raise ValueError(f"frozen lists a layer more than once ({list(frozen)}); give each "
                             "index once.")
        object.__setattr__(self, "frozen", tuple(sorted(frozen)))
        lr = self.learning_rate
        if (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr)
                or lr <= 0):
            raise ValueError(f"learning_rate must be a positive finite number, got {lr!r}.")
        object.__setattr__(self, "learning_rate", float(lr))
        object.__setattr__(self, "steps", _whole(self.steps, "steps", 1))
        object.__setattr__(self, "batch_size", _whole(self.batch_size, "batch_size", 0))
        object.__setattr__(self, "eval_every", _whole(self.eval_every, "eval_every", 1))
        object.__setattr__(self, "patience", _whole(self.patience, "patience", 0))
        if self.steps < self.eval_every:
            raise ValueError(f"steps ({self.steps}) is smaller than eval_every "
                             f"({self.eval_every}): the run would never be evaluated; raise steps "
                             "or lower eval_every.")
        width = self.width
        if isinstance(width, (numbers.Integral, np.integer)) and not isinstance(width, bool):
            width = _whole(width, "width", 1)
        elif isinstance(width, Iterable) and not isinstance(width, (str, bytes, dict)):
            width = tuple(_whole(w, "width entries", 1) for w in width)
        else:
            raise ValueError(f"width must be an int or a sequence of ints (one per hidden weight "
                             f"layer), got {width!r}.")
        object.__setattr__(self, "width", width)  # a tuple, so the spec hashes (cache keys)


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """Curves and summaries of a sweep: `S` seeds x `N` sample sizes, `E` evaluations.

    Curves are NaN after a run stopped early (after `stopped_step`) and from the step a diverged run
    broke (at and after `stopped_step`), and at evaluations never reached because every run had
    stopped. `buckets` lists the sample sizes trained together in one masked block (see the module
    docstring), `batch_runs` how many of a bucket's runs one device vmaps together, and `devices`
    the number of devices the runs were sharded over.

    `probe` (with `x_probe`) holds the model's outputs, after the output link, on the probe inputs
    at the best validation evaluation (NaN where diverged); `params` (with `return_params=True`)
    that network's parameters, one flat float32 vector of `P` entries per run (`unravel_params`).
    Both are None otherwise.
    """

    sizes: np.ndarray  # (N,)
    eval_steps: np.ndarray  # (E,)
    train_curve: np.ndarray  # (S, N, E) training MSE on each run's n samples
    val_curve: np.ndarray  # (S, N, E)
    test_curve: np.ndarray  # (S, N, E)
    test_mse: np.ndarray  # (S, N) at the best validation evaluation; NaN where diverged
    train_mse: np.ndarray  # (S, N) at that evaluation; NaN where diverged
    best_step: np.ndarray  # (S, N) step of the best validation evaluation
    stopped_step: np.ndarray  # (S, N) step at which the run stopped (= steps if it never did)
    diverged: np.ndarray  # (S, N) bool
    buckets: tuple = ()
    batch_runs: tuple = ()
    devices: int = 1
    probe: np.ndarray | None = None  # (S, N, n_probe) float64
    params: np.ndarray | None = None  # (S, N, P) float32


# --- Cost model ----------------------------------------------------------------------------------


def _layer_costs(arch: tuple, d: int, widths: tuple) -> list:
    """`(multiply-adds, floats read, floats written)` of each weight layer on one input (a `conv`
    or `local` layer reads its patches; a `dense` on a signal acts at every position)."""
    lengths = signal_lengths(arch, d)
    spatial = any(isinstance(layer, Conv) for layer in arch)
    channels, hidden, costs = (1 if spatial else d), iter(widths), []
    for i, layer in enumerate(arch):
        if isinstance(layer, (Dense, Conv)):
            out = 1 if i == len(arch) - 1 else next(hidden)
            positions = lengths[i] or 1
            fan_in = channels if isinstance(layer, Dense) else layer.filter_size * channels
            costs.append((positions * fan_in * out, positions * fan_in, positions * out))
            channels = out
        elif isinstance(layer, Flatten) and i > 0 and lengths[i - 1] is not None:
            channels *= lengths[i - 1]
    return costs


def _macs_per_sample(arch: tuple, d: int, widths: tuple) -> int:
    """Multiply-adds of one forward pass on one input."""
    return sum(macs for macs, _, _ in _layer_costs(arch, d, widths))


def _runs_per_batch(arch: tuple, d: int, widths: tuple, rows: int, local_runs: int,
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
    floats = sum(read + written for _, read, written in _layer_costs(arch, d, widths))
    k = max(1, min(local_runs, _CPU_BATCH_BYTES // (4 * rows * floats)))
    while local_runs % k:  # lax.map would compile the remainder separately
        k -= 1
    return k


def _widths(arch: tuple, width) -> tuple:
    hidden = hidden_weight_layers(arch)
    if isinstance(width, int):
        return (width,) * len(hidden)
    if len(width) != len(hidden):
        raise ValueError(f"width has {len(width)} entries but the architecture has {len(hidden)} "
                         f"hidden weight layer(s) (layers {list(hidden)}); give one per hidden "
                         "weight layer, or a single int.")
    return tuple(width)


def _check_frozen(arch: tuple, frozen: tuple) -> tuple:
    """`frozen` checked against the architecture's weight layers."""
    count = sum(isinstance(layer, (Dense, Conv)) for layer in arch)
    bad = [k for k in frozen if k >= count]
    if bad:
        raise ValueError(f"frozen names weight layer(s) {bad}, but the architecture has {count} "
                         f"weight layer(s), indexed 0 to {count - 1} from the input (the readout "
                         f"is {count - 1}); use indices in that range.")
    return frozen


def _train_macs(costs: list, frozen: tuple) -> float:
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


def _bucket_seconds(macs: int, weight_layers: int, train: TrainSpec, runs: int, rows: int,
                    eval_rows: int, train_macs: float | None = None) -> float:
    """Seconds, compilation included, for one bucket of `runs` runs (on one device) on `rows` rows
    each, evaluated on `rows` plus `eval_rows` more inputs: 6 flops per multiply-add and row of a
    step (forward and backward; `train_macs` of them, `macs` by default, see `_train_macs`) and 2
    per evaluated input at `_FLOPS_PER_SECOND`, a fixed `_SECONDS_PER_STEP` a step, and
    `_COMPILE_PER_LAYER` per weight layer."""
    evals = train.steps / train.eval_every
    train_macs = macs if train_macs is None else train_macs
    flops = runs * (6.0 * train_macs * train.steps * (train.batch_size or rows)
                    + 2.0 * macs * evals * (rows + eval_rows))
    return (flops / _FLOPS_PER_SECOND + train.steps * _SECONDS_PER_STEP
            + _COMPILE_PER_LAYER * weight_layers)


def estimate_cost(layers: Iterable[Any], d: int, n_max: int, runs: int, train: TrainSpec, *,
                  sizes: Sequence[int] | None = None, n_eval: int | None = None,
                  n_probe: int = 0) -> float:
    """Rough wall-clock seconds of a sweep of `runs` runs on the reference CPU (2 cores, one
    device), compilation included, before any work. For one bucket of runs on `rows` rows each:

        flops   = runs * (6 * train_macs * steps * step_rows
                          + 2 * macs * (steps / eval_every) * (rows + n_eval))
        seconds = flops / 6e10 + steps * 2.5e-5 + 0.15 * weight_layers

    plus 1 s for the sweep. `macs` is the multiply-adds of one forward pass on one input, a
    training step costs about 6 flops per multiply-add and row (forward and backward) on
    `step_rows` (`batch_size`, or `rows` for full batch), and an evaluation 2 per input.
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
    8.0
    >>> sizes = [16, 32, 64, 128, 256, 512]
    >>> round(estimate_cost(engine.mlp(2), 16, 512, 24, train, sizes=sizes), 1)
    5.0
    """
    if not isinstance(train, TrainSpec):
        raise ValueError(f"train must be a TrainSpec, got {type(train).__name__}.")
    arch = parse_layers(layers)
    d = _whole(d, "d", 1)
    n_max = _whole(n_max, "n_max", 1)
    runs = _whole(runs, "runs", 1)
    n_eval = 2 * n_max if n_eval is None else _whole(n_eval, "n_eval", 0)
    n_probe = _whole(n_probe, "n_probe", 0)
    widths = _widths(arch, train.width)
    frozen = _check_frozen(arch, train.frozen)
    extra = 0.0
    n_eval += n_probe  # probe inputs join every evaluation
    stage = _split_frozen_head(arch, d, widths, frozen)
    if stage is not None:  # the head runs once on every input; the program trains the rest
        full_macs = _macs_per_sample(arch, d, widths)
        arch, d, widths, frozen = stage.arch, stage.d, stage.widths, stage.frozen
        head_macs = full_macs - _macs_per_sample(arch, d, widths)
        extra += (2.0 * runs * (n_max + n_eval) * head_macs / _FLOPS_PER_SECOND
                  + _COMPILE_PER_LAYER * stage.weight_layers)
    costs = _layer_costs(arch, d, widths)
    macs = _macs_per_sample(arch, d, widths)
    train_macs = _train_macs(costs, frozen)
    weight_layers = len(costs)
    if sizes is None:
        return (_bucket_seconds(macs, weight_layers, train, runs, n_max, n_eval, train_macs)
                + _COMPILE_SECONDS + extra)
    sizes = [_whole(n, "sizes entries", 1) for n in sizes]
    if not sizes or sizes != sorted(set(sizes)) or sizes[-1] > n_max:
        raise ValueError(f"sizes must be increasing and at most n_max = {n_max}, got {sizes}.")
    seeds = -(-runs // len(sizes))
    buckets = _plan_buckets(sizes, macs, weight_layers, seeds, 1, n_eval, train, train_macs)
    return _COMPILE_SECONDS + extra + sum(
        _bucket_seconds(macs, weight_layers, train, seeds * len(b), sizes[b[-1]], n_eval,
                        train_macs)
        for b in buckets)


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
    (`_layer_costs`) and `F_max` the largest layer's share, every bucket of `r` runs on `rows` rows
    (the buckets `train_sweep` plans) holds, in float32:

        data  = r * (rows (d + 1) + n_val (d + 1) [+ n_test (d + 1)] [+ n_probe d])
        state = r * (P (1 + optimizer slots + return_params) + n_probe)

    (the bracketed terms when the test set and probes are per seed; Adam keeps two slots per
    parameter, momentum one, SGD none). These are built as numpy arrays, then copied to the device
    (both copies exist while `jax.device_put` runs), and the program, mapped over batches of `k`
    runs (`_runs_per_batch`), writes a new state beside its input, with a working set per batch of

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
    d = _whole(d, "d", 1)
    n_max = _whole(n_max, "n_max", 1)
    runs = _whole(runs, "runs", 1)
    n_val = n_max if n_val is None else _whole(n_val, "n_val", 1)
    n_test = n_max if n_test is None else _whole(n_test, "n_test", 1)
    n_probe = _whole(n_probe, "n_probe", 0)
    sizes = [n_max] if sizes is None else [_whole(n, "sizes entries", 1) for n in sizes]
    if not sizes or sizes != sorted(set(sizes)) or sizes[-1] > n_max:
        raise ValueError(f"sizes must be increasing and at most n_max = {n_max}, got {sizes}.")
    widths = _widths(arch, train.width)
    frozen = _check_frozen(arch, train.frozen)
    devices = jax.local_devices()
    n_dev, platform = len(devices), devices[0].platform
    seeds = -(-runs // len(sizes))
    p_all = _unravel_size(arch, d, widths)
    total = seeds * p_all  # the initial parameters
    stage = _split_frozen_head(arch, d, widths, frozen)
    if stage is not None:
        channels = stage.d
        m = n_val + n_test + n_probe
        total += seeds * m * channels + 2 * seeds * m * (d + channels)  # features; head running
        arch, widths, frozen = stage.arch, stage.widths, stage.frozen
        p_trained = _unravel_size(arch, channels, widths)
        test_per_seed = True  # features differ from seed to seed
    else:
        channels, p_trained = d, p_all
    costs = _layer_costs(arch, channels, widths)
    floats = sum(read + written for _, read, written in costs)
    largest = max(read + written for _, read, written in costs)
    slots = {"adam": 2, "momentum": 1}.get(train.optimizer, 0)
    buckets = _plan_buckets(sizes, sum(c[0] for c in costs), len(costs), seeds, n_dev,
                            n_val + n_test, train, _train_macs(costs, frozen))
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
        k = _runs_per_batch(arch, channels, widths, train.batch_size or rows, r // n_dev,
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
    at `total`; sweeps run one after another at `sequential_peak`."""

    arrays: int
    compile: int
    program: int

    @property
    def total(self) -> int:
        return self.arrays + self.compile + self.program


def sequential_peak(memories: Iterable[SweepMemory]) -> int:
    """Peak bytes of sweeps run one after another: the largest `arrays + compile` (each sweep's
    arrays and compilation are given back when it returns) plus every compiled `program` (they
    stay cached).

    >>> sequential_peak([SweepMemory(5, 10, 1), SweepMemory(20, 2, 1)])
    24
    """
    memories = list(memories)
    return (max(m.arrays + m.compile for m in memories) + sum(m.program for m in memories)
            if memories else 0)


# --- Buckets of sample sizes ---------------------------------------------------------------------


def _plan_buckets(sizes: Sequence[int], macs: int, weight_layers: int, n_seeds: int,
                  n_devices: int, eval_rows: int, train: TrainSpec,
                  train_macs: float | None = None) -> tuple:
    """Partition `sizes` (increasing) into consecutive buckets, each padded to its largest size,
    minimising the estimated time on one device, compilation included (`_bucket_seconds` of each
    bucket's share of runs; dynamic programming over the cut points)."""
    count = len(sizes)

    def cost(i, j):  # the bucket sizes[i:j]
        runs = -(-n_seeds * (j - i) // n_devices)
        return _bucket_seconds(macs, weight_layers, train, runs, sizes[j - 1], eval_rows,
                               train_macs)

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


def _check_buckets(buckets, sizes: np.ndarray) -> tuple:
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


# --- The compiled program ------------------------------------------------------------------------


def _optimizer(name: str, learning_rate) -> optax.GradientTransformation:
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "momentum":
        return optax.sgd(learning_rate, momentum=0.9)
    return optax.sgd(learning_rate)


def _link(output: str) -> Callable:
    """The output link of `TrainSpec.output`: identity, or the logistic sigmoid."""
    return jax.nn.sigmoid if output == "sigmoid" else (lambda z: z)


def _mse(arch: tuple, params, x, y, n, link: Callable = lambda z: z):
    """Mean square error over the first `n` rows of `x` (rows at and after `n` are masked out)."""
    r = link(apply(arch, params, x)) - y
    mask = jnp.arange(x.shape[0]) < n
    return jnp.sum(jnp.where(mask, r * r, 0.0)) / n.astype(r.dtype)


def _trainable_mask(arch: tuple, d: int, widths: tuple, frozen: tuple) -> np.ndarray:
    """`(P,)` bool over the flat parameters: False for the weights and biases of frozen layers."""
    shapes = jax.eval_shape(lambda: init(arch, d, key=jax.random.PRNGKey(0), width=widths,
                                         dtype=jnp.float32))
    weight_layers = [p for p in shapes if p]
    return np.concatenate([np.full(math.prod(leaf.shape), k not in frozen)
                           for k, pair in enumerate(weight_layers) for leaf in pair])


@functools.lru_cache(maxsize=16)
def _program(arch: tuple, d: int, widths: tuple, optimizer: str, batch_size: int, eval_every: int,
             mesh: Mesh, shared_test: bool, batches: tuple, frozen: tuple = (),
             output: str = "linear", keep_best: bool = False):
    """The training program, jitted over a tuple of buckets (each a dict of per-run arrays with a
    leading run axis, sharded over `mesh`; `batches[g]` runs of bucket `g` vmapped together, in a
    `lax.map` over the device's share). Cached on everything static; jit caches shapes.

    `frozen` layers enter the loss through `lax.stop_gradient` and their updates are masked;
    `output` is the link between the network and the loss; `keep_best` carries a copy of the
    parameters at the best validation evaluation in the state (`best_params`). Probe inputs
    (`xp`, in the shared test dict or per run) join the evaluation's forward pass, and their
    outputs at the best evaluation are kept (`best_probe`).

    It takes `eval_every` steps (unless `hyper["train"]` is false: the first call only evaluates,
    at step 0), then evaluates at step `hyper["at"]` and updates the early-stopping bookkeeping.
    Compilation, not arithmetic, dominates a short sweep on a CPU, so the program is kept small:
    parameters are one flat vector per run (the optimizer and the masked updates are then a few
    fused loops instead of a few per weight array), each bucket has one forward pass for the step
    and one evaluation on the training, validation and test inputs together, and the initial
    parameters come from `engine.networks.init`, compiled once per architecture.
    """
    f32 = jnp.float32
    runs = PartitionSpec("runs")
    rep = PartitionSpec()
    unravel = _unravel(arch, d, widths)
    link = _link(output)
    trainable = _trainable_mask(arch, d, widths, frozen) if frozen else None

    def unravel_for_loss(flat):
        """Parameters for the loss: frozen layers cut out of the gradient, so their weight
        gradients (and the backward pass below the lowest trained layer) are never computed."""
        params = unravel(flat)
        if not frozen:
            return params
        out, k = [], 0
        for p in params:
            if p:  # a weight layer, the k-th from the input
                p = tuple(jax.lax.stop_gradient(a) for a in p) if k in frozen else p
                k += 1
            out.append(p)
        return tuple(out)

    def evaluate(params, data, test):
        """Training (first `n` rows), validation and test MSE, and the outputs on the probe
        inputs (None without them), from one forward pass."""
        xt, yt = (test["xt"], test["yt"]) if shared_test else (data["xt"], data["yt"])
        xp = test.get("xp", data.get("xp"))
        rows, n_val, n_test = data["x"].shape[0], data["xv"].shape[0], xt.shape[0]
        inputs = [data["x"], data["xv"], xt] + ([] if xp is None else [xp])
        out = link(apply(arch, unravel(params), jnp.concatenate(inputs)))
        end = rows + n_val + n_test
        r2 = (out[:end] - jnp.concatenate([data["y"], data["yv"], yt])) ** 2
        mask = jnp.arange(rows) < data["n"]
        train = jnp.sum(jnp.where(mask, r2[:rows], 0.0)) / data["n"].astype(f32)
        probe = None if xp is None else out[end:]
        return train, jnp.mean(r2[rows:rows + n_val]), jnp.mean(r2[rows + n_val:]), probe

    def step_run(state, data, key, hyper, t):
        opt = _optimizer(optimizer, hyper["lr"])
        x, y, n = data["x"], data["y"], data["n"]

        def loss_fn(flat):
            params = unravel_for_loss(flat)
            if batch_size:
                stream = jax.random.fold_in(jax.random.fold_in(key, _BATCH_STREAM), data["seed"])
                k = jax.random.fold_in(jax.random.fold_in(stream, n), t)
                idx = jax.random.randint(k, (batch_size,), 0, n)
                r = link(apply(arch, params, x[idx])) - y[idx]
                return jnp.mean(r * r)
            return _mse(arch, params, x, y, n, link)

        loss, grads = jax.value_and_grad(loss_fn)(state["params"])
        updates, new_opt = opt.update(grads, state["opt"], state["params"])
        new_params = state["params"] + updates
        if frozen:
            # Their gradients are zero already; masking makes "unchanged" exact (p + 0.0 would
            # turn -0.0 into +0.0) and keeps their optimizer state as it was.
            new_params = jnp.where(trainable, new_params, state["params"])
            new_opt = jax.tree.map(
                lambda old, new: jnp.where(trainable, new, old) if new.shape == trainable.shape
                else new, state["opt"], new_opt)
        live = ~state["frozen"] & ~state["diverged"] & (t < hyper["steps"])
        bad = live & ~(jnp.isfinite(loss) & (loss <= DIVERGENCE_FACTOR * state["ref"]))
        take = live & ~bad

        def keep(old, new):
            return jnp.where(take, new, old)

        return {**state, "params": keep(state["params"], new_params),
                "opt": jax.tree.map(keep, state["opt"], new_opt),
                "diverged": state["diverged"] | bad,
                "stopped": jnp.where(bad, t, state["stopped"])}

    def eval_run(state, data, test, hyper):
        at = hyper["at"]
        train, val, tst, probe = evaluate(state["params"], data, test)
        # The reference for divergence is the initial training MSE (tiny floor: a perfect start).
        ref = jnp.where(at == 0, jnp.maximum(train, jnp.finfo(f32).tiny), state["ref"])
        live = ~state["frozen"] & ~state["diverged"]
        bad = live & ~(jnp.isfinite(train) & jnp.isfinite(val) & (train <= DIVERGENCE_FACTOR * ref))
        live = live & ~bad
        better = live & (val < state["best_val"])
        wait = jnp.where(better, 0, jnp.where(live, state["wait"] + 1, state["wait"]))
        stop = live & (hyper["patience"] > 0) & (wait >= hyper["patience"])
        state = {**state, "ref": ref, "diverged": state["diverged"] | bad,
                 "frozen": state["frozen"] | stop,
                 "stopped": jnp.where(bad | stop, at, state["stopped"]), "wait": wait,
                 "best_val": jnp.where(better, val, state["best_val"]),
                 "best_train": jnp.where(better, train, state["best_train"]),
                 "best_test": jnp.where(better, tst, state["best_test"]),
                 "best_step": jnp.where(better, at, state["best_step"])}
        if keep_best:
            state["best_params"] = jnp.where(better, state["params"], state["best_params"])
        if probe is not None:
            state["best_probe"] = jnp.where(better, probe, state["best_probe"])
        return state, (train, val, tst)

    def chunk_local(states, datas, test, key, hyper):
        ts = hyper["t0"] + jnp.arange(eval_every, dtype=jnp.int32)

        def chunk_run(args):  # one run: `eval_every` steps, then an evaluation
            state, data = args

            def steps(state):
                return jax.lax.scan(lambda s, t: (step_run(s, data, key, hyper, t), None),
                                    state, ts)[0]

            # `hyper["train"]` is the same for every run, so this stays a branch under vmap.
            state = jax.lax.cond(hyper["train"], steps, lambda state: state, state)
            return eval_run(state, data, test, hyper)

        out = [jax.lax.map(chunk_run, (state, data), batch_size=k)
               for state, data, k in zip(states, datas, batches)]
        states = tuple(s for s, _ in out)
        done = tuple(s["frozen"] | s["diverged"] for s in states)
        return states, (tuple(m for _, m in out), done)

    return jax.jit(jax.shard_map(chunk_local, mesh=mesh, in_specs=(runs, runs, rep, rep, rep),
                                 out_specs=(runs, runs)), donate_argnums=0)


def _unravel(arch: tuple, d: int, widths: tuple) -> Callable:
    """The inverse of `_ravel`: a flat vector to the parameter tuple of `engine.networks.init`."""
    shapes = jax.eval_shape(lambda: init(arch, d, key=jax.random.PRNGKey(0), width=widths,
                                         dtype=jnp.float32))
    leaves, treedef = jax.tree.flatten(shapes)
    offsets = np.cumsum([0] + [math.prod(leaf.shape) for leaf in leaves]).tolist()

    def unravel(flat):
        return jax.tree.unflatten(treedef, [flat[a:b].reshape(leaf.shape) for a, b, leaf
                                            in zip(offsets[:-1], offsets[1:], leaves)])

    return unravel


def _ravel(params) -> np.ndarray:
    """Every weight and bias of one network, in `jax.tree.leaves` order, as one float32 vector."""
    return np.concatenate([np.asarray(leaf, np.float32).ravel()
                           for leaf in jax.tree.leaves(params)])


def ravel_params(params) -> np.ndarray:
    """The parameters of one network (`engine.networks.init`) as the flat float32 vector a sweep
    trains: every weight and bias, layer by layer from the input, `W` before `b`, each in C order.

    Run `s` of a sweep starts from `ravel_params(init(layers, d, key=jax.random.fold_in(key,
    seeds[s]), width=width))`.
    """
    return _ravel(params)


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
    d = _whole(d, "d", 1)
    signal_lengths(arch, d)
    widths = _widths(arch, TrainSpec(width=width).width)
    # jax arrays (also traced ones, to differentiate through) stay as they are
    flat = flat if isinstance(flat, jax.Array) else np.asarray(flat, np.float32)
    size = _unravel_size(arch, d, widths)
    if flat.shape != (size,):
        raise ValueError(f"flat must have shape ({size},) for this architecture, d = {d} and "
                         f"width {width!r}, got {flat.shape}.")
    return tuple(tuple(jnp.asarray(a) for a in p)
                 for p in _unravel(arch, d, widths)(flat))


# --- A frozen head, evaluated once ----------------------------------------------------------------

_PRECOMPUTE_FROZEN_HEAD = True  # tests switch it off to compare with the masked-gradient path


@dataclasses.dataclass(frozen=True)
class _Stage:
    """The trained part of a network whose first `weight_layers` weight layers are frozen: `arch`
    is `layers[layers:]` on inputs of `d` features (the head's output channels), with hidden
    `widths` and the remaining `frozen` indices; the head's parameters are the first `size`
    entries of the flat vector."""
    layers: int
    weight_layers: int
    size: int
    arch: tuple
    d: int
    widths: tuple
    frozen: tuple


def _split_frozen_head(arch: tuple, d: int, widths: tuple, frozen: tuple) -> _Stage | None:
    """The split of a vector network (no `conv`/`local`) whose weight layers `0..k-1` are frozen
    and `k` is trained, at the layer before weight layer `k`; None when there is no such head (or
    `_PRECOMPUTE_FROZEN_HEAD` is off). Its outputs do not change during training, so computing
    them once removes the head from every step, forward and backward."""
    if not _PRECOMPUTE_FROZEN_HEAD or is_spatial(arch):
        return None
    weight_at = [i for i, layer in enumerate(arch) if isinstance(layer, (Dense, Conv))]
    k = 0
    while k < len(weight_at) and k in frozen:
        k += 1
    if k == 0 or k == len(weight_at):
        return None
    cut = weight_at[k]
    size = sum(a * b + b for a, b in zip((d,) + widths[:k - 1], widths[:k]))
    return _Stage(layers=cut, weight_layers=k, size=size, arch=arch[cut:], d=widths[k - 1],
                  widths=widths[k:], frozen=tuple(j - k for j in frozen if j >= k))


@functools.lru_cache(maxsize=16)
def _head_program(head: tuple, d: int, widths: tuple):
    """Outputs `(R, m, C)` of a frozen head (dense layers and activations, the formulas of
    `engine.networks`) for `(R, size)` flat head parameters on `(R, m, d)` inputs, run by run."""
    shapes, fan_in = [], d
    for width in widths:
        shapes += [(fan_in, width), (width,)]
        fan_in = width
    offsets = np.cumsum([0] + [math.prod(shape) for shape in shapes]).tolist()

    def one(args):
        flat, h = args
        pieces = iter(flat[a:b].reshape(shape)
                      for a, b, shape in zip(offsets[:-1], offsets[1:], shapes))
        for layer in head:
            if isinstance(layer, Dense):
                w, b = next(pieces), next(pieces)
                h = layer.w_std / math.sqrt(w.shape[0]) * jnp.matmul(h, w) + layer.b_std * b[None]
            elif isinstance(layer, Activation):
                h = activation_fn(layer.fn)(h)
            # `flatten` on vectors changes nothing
        return h

    return jax.jit(lambda flats, xs: jax.lax.map(one, (flats, xs)))


# --- Validation ----------------------------------------------------------------------------------


def _array(value: Any, name: str, ndims: tuple, shape_hint: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {shape_hint}.") from None
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must have shape {shape_hint}, got shape {arr.shape}.")
    return arr


def _check_finite(arr: np.ndarray, name: str, what: str) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has non-finite values in {what}; remove or replace them.")


def _check_data(x_train, y_train, x_val, y_val, x_test, y_test, sizes) -> tuple:
    x = _array(x_train, "x_train", (3,), "(S, n_max, d)")
    s_count, n_max, d = x.shape
    if s_count < 1 or n_max < 1 or d < 1:
        raise ValueError(f"x_train must have shape (S, n_max, d) with S, n_max, d >= 1, got "
                         f"{x.shape}.")
    y = _array(y_train, "y_train", (2,), f"(S, n_max) = ({s_count}, {n_max})")
    if y.shape != (s_count, n_max):
        raise ValueError(f"y_train must have shape (S, n_max) = ({s_count}, {n_max}) to match "
                         f"x_train, got {y.shape}.")
    xv = _array(x_val, "x_val", (3,), f"(S, n_val, d) = ({s_count}, n_val, {d})")
    if xv.shape[0] != s_count or xv.shape[2] != d or xv.shape[1] < 1:
        raise ValueError(f"x_val must have shape (S, n_val, d) = ({s_count}, n_val, {d}) with "
                         f"n_val >= 1 (one validation set per seed), got {xv.shape}.")
    yv = _array(y_val, "y_val", (2,), f"(S, n_val) = {xv.shape[:2]}")
    if yv.shape != xv.shape[:2]:
        raise ValueError(f"y_val must have shape (S, n_val) = {xv.shape[:2]}, got {yv.shape}.")
    xt = _array(x_test, "x_test", (2, 3), f"(n_test, {d}) or ({s_count}, n_test, {d})")
    if xt.shape[-1] != d or xt.shape[-2] < 1 or (xt.ndim == 3 and xt.shape[0] != s_count):
        raise ValueError(f"x_test must have shape (n_test, {d}) (shared by all runs) or "
                         f"({s_count}, n_test, {d}) (one per seed), got {xt.shape}.")
    yt = _array(y_test, "y_test", (xt.ndim - 1,), f"{xt.shape[:-1]}")
    if yt.shape != xt.shape[:-1]:
        raise ValueError(f"y_test must have shape {xt.shape[:-1]} to match x_test, got {yt.shape}.")

    try:
        raw = np.asarray(sizes)
    except (TypeError, ValueError):
        raw = np.asarray([], dtype=object)
    if raw.ndim != 1 or raw.size == 0 or not all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            for v in raw.tolist()):
        raise ValueError(f"sizes must be a non-empty list of whole numbers, e.g. [16, 64, 256], "
                         f"got {sizes!r}.")
    sizes = raw.astype(np.int64)
    if sizes[0] < 1 or np.any(np.diff(sizes) <= 0):
        raise ValueError(f"sizes must be positive and strictly increasing, got {sizes.tolist()}.")
    if sizes[-1] > n_max:
        raise ValueError(f"The largest size {int(sizes[-1])} exceeds the {n_max} training rows "
                         "per seed; give more rows in x_train or smaller sizes.")
    used = int(sizes[-1])
    _check_finite(x[:, :used], "x_train", f"its first {used} rows")
    _check_finite(y[:, :used], "y_train", f"its first {used} rows")
    for arr, name in ((xv, "x_val"), (yv, "y_val"), (xt, "x_test"), (yt, "y_test")):
        _check_finite(arr, name, "it")
    return x, y, xv, yv, xt, yt, sizes


def _unravel_size(arch: tuple, d: int, widths: tuple) -> int:
    """Number of parameters `P` of the flat vector."""
    shapes = jax.eval_shape(lambda: init(arch, d, key=jax.random.PRNGKey(0), width=widths,
                                         dtype=jnp.float32))
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))


def _check_init(init_params, s_count: int, size: int) -> np.ndarray:
    flat = _array(init_params, "init_params", (2,), f"(S, P) = ({s_count}, {size})")
    if flat.shape != (s_count, size):
        raise ValueError(f"init_params must have shape (S, P) = ({s_count}, {size}) (one flat "
                         f"parameter vector per seed, as ravel_params gives), got {flat.shape}.")
    _check_finite(flat, "init_params", "it")
    return flat


def _check_probe(x_probe, s_count: int, d: int) -> np.ndarray | None:
    if x_probe is None:
        return None
    xp = _array(x_probe, "x_probe", (2, 3), f"(n_probe, {d}) or ({s_count}, n_probe, {d})")
    if xp.shape[-1] != d or xp.shape[-2] < 1 or (xp.ndim == 3 and xp.shape[0] != s_count):
        raise ValueError(f"x_probe must have shape (n_probe, {d}) (shared by all runs) or "
                         f"({s_count}, n_probe, {d}) (one per seed), got {xp.shape}.")
    _check_finite(xp, "x_probe", "it")
    return xp


def _check_devices(devices) -> tuple:
    if devices is None:
        return tuple(jax.local_devices())
    devices = tuple(devices)
    if not devices or not all(isinstance(dev, jax.Device) for dev in devices):
        raise ValueError("devices must be a non-empty sequence of jax devices, e.g. "
                         "jax.local_devices().")
    if len(set(devices)) != len(devices):
        raise ValueError("devices lists a device more than once; give each device once.")
    return devices


def _check_seeds(seeds, s_count: int) -> np.ndarray:
    if seeds is None:
        return np.arange(s_count)
    values = list(seeds)
    if len(values) != s_count or not all(
            isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)
            for v in values):
        raise ValueError(f"seeds must list {s_count} whole numbers (one per training set), got "
                         f"{seeds!r}.")
    arr = np.asarray(values, dtype=np.int64)
    if arr.min() < 0 or arr.max() >= _MAX_SEED or len(set(values)) != s_count:
        raise ValueError(f"seeds must be distinct whole numbers in [0, 2**31), got {values}.")
    return arr


# --- The sweep -----------------------------------------------------------------------------------

# Per-run summaries fetched from the final state, with their numpy dtypes.
_SUMMARY = {"best_train": np.float64, "best_test": np.float64, "best_step": np.int64,
            "stopped": np.int64, "diverged": bool}


def train_sweep(layers: Iterable[Any], x_train, y_train, x_val, y_val, x_test, y_test, *,
                sizes: Sequence[int], train: TrainSpec, key, progress: Callable | None = None,
                devices: Sequence[Any] | None = None, seeds: Sequence[int] | None = None,
                buckets: Sequence[Sequence[int]] | None = None, x_probe=None,
                return_params: bool = False, init_params=None) -> SweepResult:
    """Train `layers` on every (seed, sample size) pair; one compiled program for the grid.

    Args:
        layers: layer dicts (or a parsed architecture), as for `engine.networks`.
        x_train, y_train: `(S, n_max, d)` and `(S, n_max)`, one training set per seed. Rows beyond
            `max(sizes)` are never read (they may hold anything).
        x_val, y_val: `(S, n_val, d)` and `(S, n_val)`: one validation set per seed, shared by all
            sizes of that seed; it picks the reported evaluation and drives early stopping.
        x_test, y_test: `(n_test, d)` and `(n_test,)` shared by every run, or `(S, n_test, d)` and
            `(S, n_test)`, one per seed.
        sizes: increasing sample sizes `n <= n_max`; run `(s, i)` trains on rows `:sizes[i]`.
        train: a `TrainSpec`.
        key: a `jax.random` key; see the module docstring for how runs derive theirs.
        progress: called as `progress(done_steps, total_steps)` after every chunk of `eval_every`
            steps, and once with `done_steps == total_steps` at the end (also when every run stopped
            early).
        devices: devices to shard the runs over (default `jax.local_devices()`).
        seeds: the index each training set's key is folded with (default `0, ..., S - 1`), so a
            loop of one-seed calls with `seeds=[s]` reproduces row `s` of a sweep.
        buckets: sizes trained together in one vmapped block, padded and masked to the largest,
            as consecutive groups of `sizes` (e.g. `[[16, 32], [64]]`); None lets the cost model
            choose (module docstring). Results do not depend on it beyond float32 rounding.
        x_probe: `(n_probe, d)` inputs shared by every run, or `(S, n_probe, d)`, one set per seed:
            `SweepResult.probe` then holds each run's outputs on them (after `train.output`'s
            link) at its best validation evaluation. None (the default) costs nothing.
        return_params: whether `SweepResult.params` holds each run's flat parameters at its best
            validation evaluation (`unravel_params` turns a row back into a network).
        init_params: `(S, P)` flat initial parameters, one row per seed (`ravel_params` of an
            `engine.networks.init` result), instead of the draws from `key`; minibatch indices
            still come from `key` and `seeds`.

    Returns:
        A `SweepResult` with numpy arrays (float64 for errors).
    """
    if not isinstance(train, TrainSpec):
        raise ValueError(f"train must be a TrainSpec, got {type(train).__name__}.")
    if progress is not None and not callable(progress):
        raise ValueError("progress must be a callable progress(done_steps, total_steps) or None.")
    arch = parse_layers(layers)
    x, y, xv, yv, xt, yt, sizes = _check_data(x_train, y_train, x_val, y_val, x_test, y_test, sizes)
    s_count, n_max, d = x.shape
    signal_lengths(arch, d)
    widths = _widths(arch, train.width)
    if train.batch_size > n_max:
        raise ValueError(f"batch_size {train.batch_size} exceeds the {n_max} training rows per "
                         "seed; use a smaller batch_size, or 0 for full batch.")
    seed_ids = _check_seeds(seeds, s_count)
    devices = _check_devices(devices)
    frozen = _check_frozen(arch, train.frozen)
    xp = _check_probe(x_probe, s_count, d)
    if not isinstance(return_params, (bool, np.bool_)):
        raise ValueError(f"return_params must be True or False, got {return_params!r}.")
    keep_best = bool(return_params)
    try:
        jax.random.fold_in(key, 0)
    except Exception:
        raise ValueError(f"key must be a jax.random key, e.g. jax.random.PRNGKey(0), got "
                         f"{key!r}.") from None

    mesh = Mesh(np.asarray(devices), ("runs",))
    n_dev = len(devices)
    shared_test = xt.ndim == 2
    stage = _split_frozen_head(arch, d, widths, frozen)
    if buckets is None:
        trained = (arch, d, widths, frozen) if stage is None else (stage.arch, stage.d,
                                                                     stage.widths, stage.frozen)
        costs = _layer_costs(*trained[:3])
        buckets = _plan_buckets(sizes.tolist(), sum(c[0] for c in costs), len(costs), s_count,
                                n_dev, xv.shape[1] + xt.shape[-2], train,
                                _train_macs(costs, trained[3]))
    else:
        buckets = _check_buckets(buckets, sizes)

    # Seed s's network from `init` (one compiled program per architecture, whatever the sweep's
    # shapes), as one flat float32 vector.
    if init_params is None:
        flat = np.stack([_ravel(init(arch, d, key=jax.random.fold_in(key, int(seed)),
                                     width=widths, dtype=jnp.float32)) for seed in seed_ids])
    else:
        flat = _check_init(init_params, s_count, _unravel_size(arch, d, widths))
    steps, every = train.steps, train.eval_every

    # A frozen head (the frozen weight layers nearest the input) is evaluated once per seed; the
    # program then trains the rest of the network on its outputs (module docstring).
    if stage is not None:
        head_prog = _head_program(arch[:stage.layers], d, widths[:stage.weight_layers])
        head_params = jax.device_put(flat[:, :stage.size], devices[0])

        def featurize(inputs, seeds_of=None):  # (S or runs, m, d) -> (S or runs, m, C)
            params = head_params if seeds_of is None else head_params[seeds_of]
            return np.asarray(head_prog(params, jax.device_put(inputs, devices[0])))

        # validation, test and probe inputs of each seed in one call (one compiled shape)
        per_seed = [xv, np.broadcast_to(xt, (s_count, *xt.shape[-2:])) if shared_test else xt]
        if xp is not None:
            per_seed.append(np.broadcast_to(xp, (s_count, *xp.shape[-2:])) if xp.ndim == 2
                            else xp)
        cuts = np.cumsum([a.shape[1] for a in per_seed])[:-1]
        xv, xt, *rest = np.split(featurize(np.concatenate(per_seed, axis=1)), cuts, axis=1)
        xp = rest[0] if rest else None
        yt = np.broadcast_to(yt, (s_count, yt.shape[-1])) if shared_test else yt
        shared_test = False  # features differ from seed to seed
        t_arch, t_d, t_widths, t_frozen = stage.arch, stage.d, stage.widths, stage.frozen
        t_flat = flat[:, stage.size:]
    else:
        t_arch, t_d, t_widths, t_frozen, t_flat = arch, d, widths, frozen, flat
    opt_shapes = jax.eval_shape(_optimizer(train.optimizer, train.learning_rate).init,
                                jax.ShapeDtypeStruct(t_flat.shape[1:], np.float32))

    # Per-bucket arrays, run r = (seed, size) seed-major, padded with frozen copies of run 0.
    datas, states, run_index, batches = [], [], [], []
    for bucket in buckets:
        rows = int(sizes[bucket[-1]])
        pairs = [(s, i) for s in range(s_count) for i in bucket]
        order = pairs + [pairs[0]] * (-len(pairs) % n_dev)
        runs = len(order)
        seed_of = np.array([s for s, _ in order])
        n_of = np.array([sizes[i] for _, i in order], dtype=np.int32)
        bx = x[seed_of, :rows].copy()
        by = y[seed_of, :rows].copy()
        beyond = np.arange(rows)[None, :] >= n_of[:, None]
        bx[beyond] = 0.0  # rows at and after n: zeros, and masked out of the loss
        by[beyond] = 0.0
        real = np.arange(runs) < len(pairs)
        if stage is not None:
            bx = featurize(bx, seed_of)  # rows beyond n still masked out of the loss
        data = {"x": bx, "y": by, "n": n_of, "seed": seed_ids[seed_of].astype(np.int32),
                "xv": xv[seed_of], "yv": yv[seed_of]}
        if not shared_test:
            data["xt"], data["yt"] = xt[seed_of], yt[seed_of]
        if xp is not None and xp.ndim == 3:
            data["xp"] = xp[seed_of]
        datas.append(data)
        states.append({
            "params": t_flat[seed_of],
            # the optimiser's state starts at zero (as `init` makes it for Adam and SGD, with or
            # without momentum)
            "opt": jax.tree.map(lambda a: np.zeros((runs, *a.shape), a.dtype), opt_shapes),
            "frozen": ~real, "diverged": np.zeros(runs, bool),
            "stopped": np.full(runs, steps, np.int32), "ref": np.full(runs, np.inf, np.float32),
            "best_val": np.full(runs, np.inf, np.float32),
            "best_train": np.full(runs, np.nan, np.float32),
            "best_test": np.full(runs, np.nan, np.float32),
            "best_step": np.zeros(runs, np.int32), "wait": np.zeros(runs, np.int32),
            **({"best_params": t_flat[seed_of]} if keep_best else {}),
            **({"best_probe": np.full((runs, xp.shape[-2]), np.nan, np.float32)}
               if xp is not None else {})})
        run_index.append(pairs)
        batches.append(_runs_per_batch(t_arch, t_d, t_widths, train.batch_size or rows,
                                       runs // n_dev, devices[0].platform))
    batches = tuple(batches)

    run_sharding = NamedSharding(mesh, PartitionSpec("runs"))
    replicated = NamedSharding(mesh, PartitionSpec())
    datas = jax.device_put(tuple(datas), run_sharding)
    states = jax.device_put(tuple(states), run_sharding)
    test = {"xt": xt, "yt": yt} if shared_test else {}
    if xp is not None and xp.ndim == 2:
        test["xp"] = xp
    test = jax.device_put(test, replicated)
    key = jax.device_put(key, replicated)
    hyper = {"lr": np.float32(train.learning_rate), "steps": np.int32(steps),
             "patience": np.int32(train.patience), "t0": np.int32(0), "at": np.int32(0),
             "train": np.bool_(False)}
    chunk = _program(t_arch, t_d, t_widths, train.optimizer, train.batch_size, every, mesh,
                     shared_test, batches, t_frozen, train.output, keep_best)

    n_chunks = -(-steps // every)
    eval_steps = np.minimum(np.arange(n_chunks + 1) * every, steps)
    history = []
    for c in range(n_chunks + 1):  # chunk 0 only evaluates the initial networks
        hyper.update(t0=np.int32(max(c - 1, 0) * every), at=np.int32(eval_steps[c]),
                     train=np.bool_(c > 0))
        states, (metrics, done) = chunk(states, datas, test, key, jax.device_put(hyper, replicated))
        metrics, done = jax.device_get((metrics, done))
        history.append(metrics)
        if all(bool(flags[:len(pairs)].all()) for flags, pairs in zip(done, run_index)):
            break  # every run stopped early or diverged
        if progress is not None and 0 < c < n_chunks:
            progress(int(eval_steps[c]), steps)
    if progress is not None:
        progress(steps, steps)
    final = jax.device_get([{name: state[name] for name in _SUMMARY} for state in states])
    if keep_best:
        best = jax.device_get([state["best_params"] for state in states])
    if xp is not None:
        best_probe = jax.device_get([state["best_probe"] for state in states])

    n_sizes, n_evals = len(sizes), n_chunks + 1
    curves = np.full((3, s_count, n_sizes, n_evals), np.nan)
    fields = {name: np.zeros((s_count, n_sizes), dtype) for name, dtype in _SUMMARY.items()}
    for g, pairs in enumerate(run_index):
        r = len(pairs)
        seeds_g = np.array([s for s, _ in pairs])
        sizes_g = np.array([i for _, i in pairs])
        for e, evals in enumerate(history):
            for m in range(3):
                curves[m, seeds_g, sizes_g, e] = evals[g][m][:r]
        for name in fields:
            fields[name][seeds_g, sizes_g] = final[g][name][:r]
    # Blank what a plot must not draw: after an early stop, and from the step a run diverged.
    div = fields["diverged"][..., None]
    cut = fields["stopped"][..., None]
    blank = np.where(div, eval_steps >= cut, eval_steps > cut)
    curves[np.broadcast_to(blank, curves.shape)] = np.nan
    test_mse = np.where(fields["diverged"], np.nan, fields["best_test"])
    train_mse = np.where(fields["diverged"], np.nan, fields["best_train"])
    params = probe = None
    if keep_best:
        params = np.zeros((s_count, n_sizes, flat.shape[1]), np.float32)
        params[:] = flat[:, None, :]  # a frozen head stays as drawn
        for g, pairs in enumerate(run_index):
            params[[s for s, _ in pairs], [i for _, i in pairs], flat.shape[1] - t_flat.shape[1]:] \
                = best[g][:len(pairs)]
    if xp is not None:
        probe = np.full((s_count, n_sizes, xp.shape[-2]), np.nan)
        for g, pairs in enumerate(run_index):
            probe[[s for s, _ in pairs], [i for _, i in pairs]] = best_probe[g][:len(pairs)]
        probe[fields["diverged"]] = np.nan
    return SweepResult(
        sizes=sizes.copy(), eval_steps=eval_steps.astype(np.int64),
        train_curve=curves[0], val_curve=curves[1], test_curve=curves[2],
        test_mse=test_mse, train_mse=train_mse, best_step=fields["best_step"],
        stopped_step=fields["stopped"], diverged=fields["diverged"],
        buckets=tuple(tuple(int(sizes[i]) for i in bucket) for bucket in buckets),
        batch_runs=batches, devices=n_dev, probe=probe,
        params=params if return_params else None)

