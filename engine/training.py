"""Training the finite networks of `engine.networks`: whole sweeps as one compiled program.

A sweep trains one architecture on a grid of runs, seeds x sample sizes. Run `(s, i)` trains on the
first `n = sizes[i]` rows of seed `s`'s training set with the square loss

    L(theta) = 1/n * sum_{j < n} (f_theta(x_j) - y_j)^2          (full batch), or
    L_t(theta) = 1/b * sum_{k < b} (f_theta(x_{j_k}) - y_{j_k})^2  (minibatch, j_k ~ U{0..n-1}),

by an optax optimizer (Adam, SGD, SGD with momentum 0.9) for a fixed step budget, evaluating the
train/validation/test MSE every `eval_every` steps and stopping a run early after `patience`
evaluations without a new best validation MSE. The reported test MSE is the one at the best
validation evaluation (step 0, the untrained network, included).

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
numpy float64.

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
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any, Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from engine.networks import apply, hidden_weight_layers, init
from engine.specs import Conv, Dense, Flatten, parse_layers, signal_lengths

__all__ = ["OPTIMIZERS", "SweepResult", "TrainSpec", "estimate_cost", "train_sweep"]

OPTIMIZERS = ("adam", "sgd", "momentum")
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

    The scales `w_std`, `b_std` belong to the layers, not here.
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-2
    steps: int = 2000
    batch_size: int = 0
    eval_every: int = 50
    patience: int = 10
    width: int | tuple = 64

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}; use one of "
                             f"{', '.join(OPTIMIZERS)}.")
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


def _bucket_seconds(macs: int, weight_layers: int, train: TrainSpec, runs: int, rows: int,
                    eval_rows: int) -> float:
    """Seconds, compilation included, for one bucket of `runs` runs (on one device) on `rows` rows
    each, evaluated on `rows` plus `eval_rows` more inputs: 6 flops per multiply-add and row of a
    step (forward and backward) and 2 per evaluated input at `_FLOPS_PER_SECOND`, a fixed
    `_SECONDS_PER_STEP` a step, and `_COMPILE_PER_LAYER` per weight layer."""
    evals = train.steps / train.eval_every
    flops = runs * macs * (6.0 * train.steps * (train.batch_size or rows)
                           + 2.0 * evals * (rows + eval_rows))
    return (flops / _FLOPS_PER_SECOND + train.steps * _SECONDS_PER_STEP
            + _COMPILE_PER_LAYER * weight_layers)


def estimate_cost(layers: Iterable[Any], d: int, n_max: int, runs: int, train: TrainSpec, *,
                  sizes: Sequence[int] | None = None, n_eval: int | None = None) -> float:
    """Rough wall-clock seconds of a sweep of `runs` runs on the reference CPU (2 cores, one
    device), compilation included, before any work. For one bucket of runs on `rows` rows each:

        flops   = runs * macs * (6 * steps * step_rows
                                 + 2 * (steps / eval_every) * (rows + n_eval))
        seconds = flops / 6e10 + steps * 2.5e-5 + 0.15 * weight_layers

    plus 1 s for the sweep. `macs` is the multiply-adds of one forward pass on one input, a
    training step costs about 6 flops per multiply-add and row (forward and backward) on
    `step_rows` (`batch_size`, or `rows` for full batch), and an evaluation 2 per input. Without
    `sizes`, all runs are one bucket at `n_max` rows: an upper bound for full batch, where smaller
    sizes compute fewer rows. With `sizes` (the sweep's sample sizes, `runs` spread evenly over
    them) the estimate follows the buckets `train_sweep` would choose. `n_eval` is the number of
    validation plus test inputs (default `2 * n_max`).

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
    widths = _widths(arch, train.width)
    macs = _macs_per_sample(arch, d, widths)
    weight_layers = len(_layer_costs(arch, d, widths))
    if sizes is None:
        return _bucket_seconds(macs, weight_layers, train, runs, n_max, n_eval) + _COMPILE_SECONDS
    sizes = [_whole(n, "sizes entries", 1) for n in sizes]
    if not sizes or sizes != sorted(set(sizes)) or sizes[-1] > n_max:
        raise ValueError(f"sizes must be increasing and at most n_max = {n_max}, got {sizes}.")
    seeds = -(-runs // len(sizes))
    buckets = _plan_buckets(sizes, macs, weight_layers, seeds, 1, n_eval, train)
    return _COMPILE_SECONDS + sum(
        _bucket_seconds(macs, weight_layers, train, seeds * len(b), sizes[b[-1]], n_eval)
        for b in buckets)


# --- Buckets of sample sizes ---------------------------------------------------------------------


def _plan_buckets(sizes: Sequence[int], macs: int, weight_layers: int, n_seeds: int,
                  n_devices: int, eval_rows: int, train: TrainSpec) -> tuple:
    """Partition `sizes` (increasing) into consecutive buckets, each padded to its largest size,
    minimising the estimated time on one device, compilation included (`_bucket_seconds` of each
    bucket's share of runs; dynamic programming over the cut points)."""
    count = len(sizes)

    def cost(i, j):  # the bucket sizes[i:j]
        runs = -(-n_seeds * (j - i) // n_devices)
        return _bucket_seconds(macs, weight_layers, train, runs, sizes[j - 1], eval_rows)

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


def _mse(arch: tuple, params, x, y, n):
    """Mean square error over the first `n` rows of `x` (rows at and after `n` are masked out)."""
    r = apply(arch, params, x) - y
    mask = jnp.arange(x.shape[0]) < n
    return jnp.sum(jnp.where(mask, r * r, 0.0)) / n.astype(r.dtype)


@functools.lru_cache(maxsize=16)
def _program(arch: tuple, d: int, widths: tuple, optimizer: str, batch_size: int, eval_every: int,
              mesh: Mesh, shared_test: bool, batches: tuple):
    """The training program, jitted over a tuple of buckets (each a dict of per-run arrays with a
    leading run axis, sharded over `mesh`; `batches[g]` runs of bucket `g` vmapped together, in a
    `lax.map` over the device's share). Cached on everything static; jit caches shapes.

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

    def evaluate(params, data, test):
        """Training (first `n` rows), validation and test MSE, from one forward pass."""
        xt, yt = (test["xt"], test["yt"]) if shared_test else (data["xt"], data["yt"])
        rows, n_val = data["x"].shape[0], data["xv"].shape[0]
        out = apply(arch, unravel(params), jnp.concatenate([data["x"], data["xv"], xt]))
        r2 = (out - jnp.concatenate([data["y"], data["yv"], yt])) ** 2
        mask = jnp.arange(rows) < data["n"]
        train = jnp.sum(jnp.where(mask, r2[:rows], 0.0)) / data["n"].astype(f32)
        return train, jnp.mean(r2[rows:rows + n_val]), jnp.mean(r2[rows + n_val:])

    def step_run(state, data, key, hyper, t):
        opt = _optimizer(optimizer, hyper["lr"])
        x, y, n = data["x"], data["y"], data["n"]

        def loss_fn(flat):
            params = unravel(flat)
            if batch_size:
                stream = jax.random.fold_in(jax.random.fold_in(key, _BATCH_STREAM), data["seed"])
                k = jax.random.fold_in(jax.random.fold_in(stream, n), t)
                idx = jax.random.randint(k, (batch_size,), 0, n)
                r = apply(arch, params, x[idx]) - y[idx]
                return jnp.mean(r * r)
            return _mse(arch, params, x, y, n)

        loss, grads = jax.value_and_grad(loss_fn)(state["params"])
        updates, new_opt = opt.update(grads, state["opt"], state["params"])
        new_params = state["params"] + updates
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
        train, val, tst = evaluate(state["params"], data, test)
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
                buckets: Sequence[Sequence[int]] | None = None) -> SweepResult:
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
    try:
        jax.random.fold_in(key, 0)
    except Exception:
        raise ValueError(f"key must be a jax.random key, e.g. jax.random.PRNGKey(0), got "
                         f"{key!r}.") from None

    mesh = Mesh(np.asarray(devices), ("runs",))
    n_dev = len(devices)
    shared_test = xt.ndim == 2
    if buckets is None:
        costs = _layer_costs(arch, d, widths)
        buckets = _plan_buckets(sizes.tolist(), sum(c[0] for c in costs), len(costs), s_count,
                                n_dev, xv.shape[1] + xt.shape[-2], train)
    else:
        buckets = _check_buckets(buckets, sizes)

    # Seed s's network from `init` (one compiled program per architecture, whatever the sweep's
    # shapes), as one flat float32 vector.
    flat = np.stack([_ravel(init(arch, d, key=jax.random.fold_in(key, int(seed)), width=widths,
                                 dtype=jnp.float32)) for seed in seed_ids])
    opt_shapes = jax.eval_shape(_optimizer(train.optimizer, train.learning_rate).init,
                                jax.ShapeDtypeStruct(flat.shape[1:], np.float32))
    steps, every = train.steps, train.eval_every

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
        data = {"x": bx, "y": by, "n": n_of, "seed": seed_ids[seed_of].astype(np.int32),
                "xv": xv[seed_of], "yv": yv[seed_of]}
        if not shared_test:
            data["xt"], data["yt"] = xt[seed_of], yt[seed_of]
        datas.append(data)
        states.append({
            "params": flat[seed_of],
            # the optimiser's state starts at zero (as `init` makes it for Adam and SGD, with or
            # without momentum)
            "opt": jax.tree.map(lambda a: np.zeros((runs, *a.shape), a.dtype), opt_shapes),
            "frozen": ~real, "diverged": np.zeros(runs, bool),
            "stopped": np.full(runs, steps, np.int32), "ref": np.full(runs, np.inf, np.float32),
            "best_val": np.full(runs, np.inf, np.float32),
            "best_train": np.full(runs, np.nan, np.float32),
            "best_test": np.full(runs, np.nan, np.float32),
            "best_step": np.zeros(runs, np.int32), "wait": np.zeros(runs, np.int32)})
        run_index.append(pairs)
        batches.append(_runs_per_batch(arch, d, widths, train.batch_size or rows, runs // n_dev,
                                       devices[0].platform))
    batches = tuple(batches)

    run_sharding = NamedSharding(mesh, PartitionSpec("runs"))
    replicated = NamedSharding(mesh, PartitionSpec())
    datas = jax.device_put(tuple(datas), run_sharding)
    states = jax.device_put(tuple(states), run_sharding)
    test = jax.device_put({"xt": xt, "yt": yt} if shared_test else {}, replicated)
    key = jax.device_put(key, replicated)
    hyper = {"lr": np.float32(train.learning_rate), "steps": np.int32(steps),
             "patience": np.int32(train.patience), "t0": np.int32(0), "at": np.int32(0),
             "train": np.bool_(False)}
    chunk = _program(arch, d, widths, train.optimizer, train.batch_size, every, mesh, shared_test,
                     batches)

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
    return SweepResult(
        sizes=sizes.copy(), eval_steps=eval_steps.astype(np.int64),
        train_curve=curves[0], val_curve=curves[1], test_curve=curves[2],
        test_mse=test_mse, train_mse=train_mse, best_step=fields["best_step"],
        stopped_step=fields["stopped"], diverged=fields["diverged"],
        buckets=tuple(tuple(int(sizes[i]) for i in bucket) for bucket in buckets),
        batch_runs=batches, devices=n_dev)
