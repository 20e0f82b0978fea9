"""The compiled training program: `eval_every` steps of every run, then an evaluation.

Each run's state is a `RunState` (a pytree of per-run arrays with a leading run axis); the
program maps over a sweep's buckets of runs, steps them by `lax.scan`, and keeps the
early-stopping bookkeeping on the device, so the Python loop of `train_sweep` only reads what to
report. The learning rate, step budget and patience are `Hyper` arguments, not constants: changing
them does not recompile.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, PartitionSpec

from engine.networks import apply
from engine.training.params import trainable_mask, unraveller
from engine.specs import Architecture

DIVERGENCE_FACTOR = 1e6  # a loss above this times the initial training MSE counts as diverged
BATCH_STREAM = 2 ** 32 - 1  # fold_in index of the minibatch stream; seeds stay below 2**31
CPU_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}
"""XLA's options for the training program on a CPU: LLVM's optimisation level 1 instead of XLA's
default 2. A cold training view is mostly compilation, and at level 1 the programs compile faster
and run as fast, with the same results to float32 rounding (the default views to the bit;
`tests/test_xla_flags.py`; README, "make test", for the measurements). Every other program, the
kernels' included, compiles with XLA's defaults."""


class RunState(NamedTuple):
    """One bucket's runs, each entry with a leading run axis.

    `halted` marks a run that takes no more steps: it stopped early (patience ran out), diverged,
    or is a padding copy; `stopped` is the step at which it stopped (the budget if it never did).
    `best_*` are taken at the best validation evaluation so far; `best_params` and `best_probe`
    are None unless asked for.
    """

    params: Any  # (R, P) float32, the flat parameters
    opt: Any  # the optimizer's state, a pytree of (R, ...) arrays
    halted: Any  # (R,) bool
    diverged: Any  # (R,) bool
    stopped: Any  # (R,) int32
    ref: Any  # (R,) float32, the initial training MSE (divergence reference)
    best_val: Any  # (R,) float32
    best_train: Any  # (R,) float32
    best_test: Any  # (R,) float32
    best_step: Any  # (R,) int32
    wait: Any  # (R,) int32, evaluations since the last new best
    best_params: Any = None  # (R, P) float32, with `keep_best`
    best_probe: Any = None  # (R, n_probe) float32, with probe inputs


class Hyper(NamedTuple):
    """What changes between the calls of one program, without recompiling it."""

    lr: Any  # float32 learning rate
    steps: Any  # int32 step budget
    patience: Any  # int32, 0 never stops early
    t0: Any  # int32, the first step of this chunk
    at: Any  # int32, the step of this chunk's evaluation
    train: Any  # bool, False for the first call, which only evaluates the initial networks


def initial_state(params: np.ndarray, opt_shapes, padding: np.ndarray, steps: int, *,
                  keep_best: bool, n_probe: int | None) -> RunState:
    """The state of `R` runs starting from `params` `(R, P)`: optimizer slots at zero (as optax's
    `init` makes them for Adam and SGD, with or without momentum), `padding` runs halted."""
    runs = params.shape[0]
    return RunState(
        params=params,
        opt=jax.tree.map(lambda a: np.zeros((runs, *a.shape), a.dtype), opt_shapes),
        halted=padding.copy(), diverged=np.zeros(runs, bool),
        stopped=np.full(runs, steps, np.int32), ref=np.full(runs, np.inf, np.float32),
        best_val=np.full(runs, np.inf, np.float32),
        best_train=np.full(runs, np.nan, np.float32),
        best_test=np.full(runs, np.nan, np.float32),
        best_step=np.zeros(runs, np.int32), wait=np.zeros(runs, np.int32),
        best_params=params.copy() if keep_best else None,
        best_probe=None if n_probe is None else np.full((runs, n_probe), np.nan, np.float32))


def optimizer(name: str, learning_rate) -> optax.GradientTransformation:
    """`optax.adam`, `optax.sgd` with momentum 0.9, or plain `optax.sgd`."""
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "momentum":
        return optax.sgd(learning_rate, momentum=0.9)
    return optax.sgd(learning_rate)


def link(output: str) -> Callable:
    """The output link of `TrainSpec.output`: identity, or the logistic sigmoid."""
    return jax.nn.sigmoid if output == "sigmoid" else (lambda z: z)


def _mse(arch: Architecture, params, x, y, n, link: Callable = lambda z: z):
    """Mean square error over the first `n` rows of `x` (rows at and after `n` are masked out)."""
    r = link(apply(arch, params, x)) - y
    mask = jnp.arange(x.shape[0]) < n
    return jnp.sum(jnp.where(mask, r * r, 0.0)) / n.astype(r.dtype)


@functools.lru_cache(maxsize=16)
def program(arch: Architecture, d: int, widths: tuple, optimizer_name: str, batch_size: int,
            eval_every: int, mesh: Mesh, shared_test: bool, batches: tuple, frozen: tuple = (),
            output: str = "linear", keep_best: bool = False):
    """The training program, jitted over a tuple of buckets (each a `RunState` and a dict of
    per-run data with a leading run axis, sharded over `mesh`; `batches[g]` runs of bucket `g`
    vmapped together, in a `lax.map` over the device's share). Cached on everything static; jit
    caches shapes.

    `frozen` layers enter the loss through `lax.stop_gradient` and their updates are masked;
    `output` is the link between the network and the loss; `keep_best` carries a copy of the
    parameters at the best validation evaluation in the state (`best_params`). Probe inputs
    (`xp`, in the shared test dict or per run) join the evaluation's forward pass, and their
    outputs at the best evaluation are kept (`best_probe`).

    It takes `eval_every` steps (unless `hyper.train` is false: the first call only evaluates,
    at step 0), then evaluates at step `hyper.at` and updates the early-stopping bookkeeping.
    Compilation, not arithmetic, dominates a short sweep on a CPU, so the program is kept small:
    parameters are one flat vector per run, each bucket has one forward pass for the step and one
    evaluation on the training, validation and test inputs together, and the initial parameters
    come from `engine.networks.init`, compiled once per architecture.
    """
    f32 = jnp.float32
    runs = PartitionSpec("runs")
    rep = PartitionSpec()
    unravel = unraveller(arch, d, widths)
    to_output = link(output)
    trainable = trainable_mask(arch, d, widths, frozen) if frozen else None

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
        out = to_output(apply(arch, unravel(params), jnp.concatenate(inputs)))
        end = rows + n_val + n_test
        r2 = (out[:end] - jnp.concatenate([data["y"], data["yv"], yt])) ** 2
        mask = jnp.arange(rows) < data["n"]
        train = jnp.sum(jnp.where(mask, r2[:rows], 0.0)) / data["n"].astype(f32)
        probe = None if xp is None else out[end:]
        return train, jnp.mean(r2[rows:rows + n_val]), jnp.mean(r2[rows + n_val:]), probe

    def step_run(state: RunState, data, key, hyper: Hyper, t) -> RunState:
        opt = optimizer(optimizer_name, hyper.lr)
        x, y, n = data["x"], data["y"], data["n"]

        def loss_fn(flat):
            params = unravel_for_loss(flat)
            if batch_size:
                stream = jax.random.fold_in(jax.random.fold_in(key, BATCH_STREAM), data["seed"])
                k = jax.random.fold_in(jax.random.fold_in(stream, n), t)
                idx = jax.random.randint(k, (batch_size,), 0, n)
                r = to_output(apply(arch, params, x[idx])) - y[idx]
                return jnp.mean(r * r)
            return _mse(arch, params, x, y, n, to_output)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        updates, new_opt = opt.update(grads, state.opt, state.params)
        new_params = state.params + updates
        if frozen:
            # Their gradients are zero already; masking makes "unchanged" exact (p + 0.0 would
            # turn -0.0 into +0.0) and keeps their optimizer state as it was.
            new_params = jnp.where(trainable, new_params, state.params)
            new_opt = jax.tree.map(
                lambda old, new: jnp.where(trainable, new, old) if new.shape == trainable.shape
                else new, state.opt, new_opt)
        live = ~state.halted & ~state.diverged & (t < hyper.steps)
        bad = live & ~(jnp.isfinite(loss) & (loss <= DIVERGENCE_FACTOR * state.ref))
        take = live & ~bad

        def keep(old, new):
            return jnp.where(take, new, old)

        return state._replace(params=keep(state.params, new_params),
                              opt=jax.tree.map(keep, state.opt, new_opt),
                              diverged=state.diverged | bad,
                              stopped=jnp.where(bad, t, state.stopped))

    def eval_run(state: RunState, data, test, hyper: Hyper):
        at = hyper.at
        train, val, tst, probe = evaluate(state.params, data, test)
        # The reference for divergence is the initial training MSE (tiny floor: a perfect start).
        ref = jnp.where(at == 0, jnp.maximum(train, jnp.finfo(f32).tiny), state.ref)
        live = ~state.halted & ~state.diverged
        bad = live & ~(jnp.isfinite(train) & jnp.isfinite(val) & (train <= DIVERGENCE_FACTOR * ref))
        live = live & ~bad
        better = live & (val < state.best_val)
        wait = jnp.where(better, 0, jnp.where(live, state.wait + 1, state.wait))
        stop = live & (hyper.patience > 0) & (wait >= hyper.patience)
        state = state._replace(
            ref=ref, diverged=state.diverged | bad, halted=state.halted | stop,
            stopped=jnp.where(bad | stop, at, state.stopped), wait=wait,
            best_val=jnp.where(better, val, state.best_val),
            best_train=jnp.where(better, train, state.best_train),
            best_test=jnp.where(better, tst, state.best_test),
            best_step=jnp.where(better, at, state.best_step))
        if keep_best:
            state = state._replace(best_params=jnp.where(better, state.params, state.best_params))
        if probe is not None:
            state = state._replace(best_probe=jnp.where(better, probe, state.best_probe))
        return state, (train, val, tst)

    def chunk_local(states, datas, test, key, hyper: Hyper):
        ts = hyper.t0 + jnp.arange(eval_every, dtype=jnp.int32)

        def chunk_run(args):  # one run: `eval_every` steps, then an evaluation
            state, data = args

            def steps(state):
                return jax.lax.scan(lambda s, t: (step_run(s, data, key, hyper, t), None),
                                    state, ts)[0]

            # `hyper.train` is the same for every run, so this stays a branch under vmap.
            state = jax.lax.cond(hyper.train, steps, lambda state: state, state)
            return eval_run(state, data, test, hyper)

        out = [jax.lax.map(chunk_run, (state, data), batch_size=k)
               for state, data, k in zip(states, datas, batches)]
        states = tuple(s for s, _ in out)
        done = tuple(s.halted | s.diverged for s in states)
        return states, (tuple(m for _, m in out), done)

    on_cpu = mesh.devices.flat[0].platform == "cpu"
    return jax.jit(jax.shard_map(chunk_local, mesh=mesh, in_specs=(runs, runs, rep, rep, rep),
                                 out_specs=(runs, runs)), donate_argnums=0,
                   compiler_options=CPU_COMPILER_OPTIONS if on_cpu else None)
