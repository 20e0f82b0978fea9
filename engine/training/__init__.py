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
  that minimise the estimated time, compilation included (`plan.plan_buckets`): masking a size-16
  run up to 512 rows would cost 32 times its work in full batch, while each bucket adds
  compilation (about 0.9 s plus 0.17 s per weight layer on the reference CPU). So long full-batch
  budgets keep large sizes apart and merge small ones; with minibatches a step costs `batch_size`
  rows whatever `n` is, and all sizes share one bucket. `SweepResult.buckets` shows the choice;
  `buckets=` overrides it.
- Runs vmapped together: accelerators vmap all of a device's runs of a bucket. On a CPU, runs
  vmapped together share the caches, so a batch holds only a few MiB of activations and a
  `lax.map` goes through the batches (`plan.runs_per_batch`; `SweepResult.batch_runs`).
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

The package, one concept per module:

- `spec`: `TrainSpec` (how to train) and `SweepResult` (what a sweep returns);
- `plan`: the buckets of sample sizes, and the time and memory of a sweep from its shapes alone
  (`estimate_cost`, `estimate_memory`), before any work;
- `params`: a network's parameters as the flat vector a sweep trains;
- `head`: a frozen head evaluated once (the forward pass of `engine.networks.features`);
- `program`: the compiled program and its typed run state (`RunState`, `Hyper`);
- `checks`: `train_sweep`'s argument checks;
- `sweep`: `train_sweep`, which lays the runs out and gathers the results.

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

from engine.training.params import ravel_params, unravel_params
from engine.training.plan import (SWEEPS_AT_ONCE, SweepMemory, concurrent_seconds, estimate_cost,
                                  estimate_memory, sequential_peak)
from engine.training.program import DIVERGENCE_FACTOR
from engine.training.spec import OPTIMIZERS, OUTPUTS, SweepResult, TrainSpec
from engine.training.sweep import train_sweep

__all__ = ["DIVERGENCE_FACTOR", "OPTIMIZERS", "OUTPUTS", "SWEEPS_AT_ONCE", "SweepMemory",
           "SweepResult", "TrainSpec", "concurrent_seconds", "estimate_cost", "estimate_memory", "ravel_params",
           "sequential_peak", "train_sweep", "unravel_params"]
