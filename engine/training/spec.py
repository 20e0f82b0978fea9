"""What a sweep is asked to do (`TrainSpec`) and what it returns (`SweepResult`).

`TrainSpec` checks its own fields on construction; `check_frozen` checks its `frozen` indices
against an architecture.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Iterable

import numpy as np

from engine.guard import whole
from engine.specs import Architecture, Conv, Dense

OPTIMIZERS = ("adam", "sgd", "momentum")
OUTPUTS = ("linear", "sigmoid")  # the link between the network and the loss (`TrainSpec.output`)


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
        frozen = tuple(whole(k, "frozen entries", 0) for k in frozen)
        if len(set(frozen)) != len(frozen):
            raise ValueError(f"frozen lists a layer more than once ({list(frozen)}); give each "
                             "index once.")
        object.__setattr__(self, "frozen", tuple(sorted(frozen)))
        lr = self.learning_rate
        if (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr)
                or lr <= 0):
            raise ValueError(f"learning_rate must be a positive finite number, got {lr!r}.")
        object.__setattr__(self, "learning_rate", float(lr))
        object.__setattr__(self, "steps", whole(self.steps, "steps", 1))
        object.__setattr__(self, "batch_size", whole(self.batch_size, "batch_size", 0))
        object.__setattr__(self, "eval_every", whole(self.eval_every, "eval_every", 1))
        object.__setattr__(self, "patience", whole(self.patience, "patience", 0))
        if self.steps < self.eval_every:
            raise ValueError(f"steps ({self.steps}) is smaller than eval_every "
                             f"({self.eval_every}): the run would never be evaluated; raise steps "
                             "or lower eval_every.")
        width = self.width
        if isinstance(width, (numbers.Integral, np.integer)) and not isinstance(width, bool):
            width = whole(width, "width", 1)
        elif isinstance(width, Iterable) and not isinstance(width, (str, bytes, dict)):
            width = tuple(whole(w, "width entries", 1) for w in width)
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



def check_frozen(arch: Architecture, frozen: tuple) -> tuple:
    """`frozen` checked against the architecture's weight layers."""
    count = sum(isinstance(layer, (Dense, Conv)) for layer in arch)
    bad = [k for k in frozen if k >= count]
    if bad:
        raise ValueError(f"frozen names weight layer(s) {bad}, but the architecture has {count} "
                         f"weight layer(s), indexed 0 to {count - 1} from the input (the readout "
                         f"is {count - 1}); use indices in that range.")
    return frozen
