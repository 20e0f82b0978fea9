"""The Learning curves page's "Watch it learn" view: a finite network trained step by step on the
hypercube, each target mode's learned fraction beside its NTK's exact prediction.

A training set of `n` distinct points `X` of `{-1, +1}^d` (drawn without replacement) carries the
target `y(x) = sum_S v_S chi_S(x)` (the Theory view's targets: chosen Walsh modes, or a k-local or
k-global label). A network (`engine.networks`, NTK parameterisation) is trained by full-batch
gradient descent on `L = (1 / 2n) sum_i (f(x_i) - y_i)^2` with learning rate `eta_s` at step `s`,
which a visitor may change between chunks of steps.

**What is measured, exactly.** After each chunk the network is evaluated on all `N = 2^d` points, so
its Walsh coefficients `f_S = 2^-d sum_x f(x) chi_S(x)` are exact (one Walsh–Hadamard transform):
the test error is the population MSE `sum_S (f_S - v_S)^2`, and the learned fraction of a target
component `C` (one chosen mode, or for a label one spectrum level that carries part of it) is the
projection `<f_C, v_C> / <v_C, v_C>`: 0 when the network has none of it, 1 when it has all of it.

**The NTK's prediction.** The linearised network of the infinite-width limit, started from this
network's own initial function `f_0` and trained by the same steps, is exact in closed form:
with `Theta` the infinite-width NTK (`engine.spectra.hypercube_kernel_row`: on the cube one row is
the whole kernel, `Theta(x_X, x_Y) = row[X ^ Y]`) and `Theta(X, X) / n = V diag(mu) V^T`,

    r_t = y - f_t(X) = V diag(P_t) V^T r_0,            P_t = prod_{s < t} (1 - eta_s mu),
    f_t(x) = f_0(x) + Theta(x, X) V diag(g_t) V^T r_0,  g_t = (1 - P_t) / (n mu)
                                                         (= sum_s eta_s / n where mu = 0),

since `sum_s eta_s mu P_s = 1 - P_t`. With a constant rate each direction relaxes as
`(1 - eta mu)^t ~ exp(-eta mu t)`, and is stable for `eta < 2 / mu_max`
(`LiveSetup.stable_rate`). A wide network follows this prediction (the lazy regime; Jacot et al.
2018; Lee et al. 2019); a narrow one, or one trained at a large rate, departs from it as its
features move (`tests/test_live.py` measures both).

References:
    Jacot, Gabriel & Hongler, "Neural Tangent Kernel", NeurIPS 2018.
    Lee, Xiao, Schoenholz, Bahri, Novak, Sohl-Dickstein & Pennington, "Wide Neural Networks of Any
        Depth Evolve as Linear Models Under Gradient Descent", NeurIPS 2019, arXiv:1902.06720.
    Xiao, "Eigenspace Restructuring: a Principle of Space and Frequency in Neural Networks",
        COLT 2022, arXiv:2112.05611.
    Mori & Ueda, "Interplay between depth of neural networks and locality of target functions",
        arXiv:2201.12082 (2022).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from engine import guard, networks, spectra, walsh
from engine.cache import Progress, cached
from engine.experiments import kernel_theory as kt
from engine.presets import Preset, Presets
from engine.specs import parse_layers

ARCHITECTURES = {"mlp": "MLP", "tree_cnn": "Tree CNN", "tree_lcn": "Tree LCN"}
ACTIVATIONS = ("relu", "erf", "gelu")
D_MIN, D_MAX = 4, 12
"""Up to `2^12` points, on which the network is evaluated after every chunk of steps."""
DEPTH_MAX = 4
WIDTH_MIN, WIDTH_MAX = 4, 8192
N_MIN = 8
N_MAX = 1024
RATE_MIN, RATE_DEFAULT, RATE_MAX = 0.01, 2.0, 100.0
"""The learning rate's range (`advance` refuses others) and the rate a run starts with."""
SEED_MAX = 10_000
STEPS_PER_FRAME = 10
"""The steps of one chunk (one frame) a page starts with; the visitor may choose others."""
COMPONENTS_MAX = 8
"""A label's components drawn: the spectrum levels carrying most of its variance."""
MAX_STEPS = 100_000
"""A run stops growing here (its history would outgrow a page)."""
FLOPS_PER_SECOND = 4e10
STEP_S = 5e-4
FRAME_S = 5e-3
"""`chunk_seconds`' constants (float32 on the reference CPU, where they were measured)."""
CHUNK_BUDGET_S = 2.0
"""Largest estimated time of one step and one evaluation on the cube: beyond it a run is no longer
live, and the setup is refused before any work."""
TIME_BUDGET_S = 30.0
"""Largest estimated time of the setup (spectrum, eigendecomposition, compile)."""


@dataclasses.dataclass(frozen=True)
class LiveSpec:
    """One "Watch it learn" setup (the play state is not part of it).

    The architecture fields mean what they mean on the Theory view (`kt.TheorySpec`): `depth` is
    an MLP's hidden layers, `filter_size` a tree's patch; the readout is `flatten`. `target` and
    `modes` / `k` are the Theory view's. `width` is the channels of every hidden layer; `n`
    distinct training points, drawn with `seed`, which also draws the network's initialisation
    (so a reset replays a run exactly). The learning rate is not part of it: a visitor may change
    it between chunks of one run (`advance`).
    """
    arch: str = "mlp"
    d: int = guard.bounded(10, D_MIN, D_MAX, label="Input dimension d")
    depth: int = guard.bounded(2, 1, DEPTH_MAX, label="Depth (hidden layers)")
    filter_size: int = 2
    activation: str = "relu"
    width: int = guard.bounded(256, WIDTH_MIN, WIDTH_MAX, label="Width (channels)")
    target: str = "modes"
    modes: tuple = ((1, 0), (2, 1), (3, 2))
    k: int = 2
    n: int = guard.bounded(256, N_MIN, N_MAX, label="Training points n")
    seed: int = guard.bounded(0, 0, SEED_MAX, label="Seed")

    def theory_spec(self) -> kt.TheorySpec:
        """The Theory view of the same kernel and target (its NTK)."""
        return kt.TheorySpec(arch=self.arch, d=self.d, depth=self.depth,
                             filter_size=self.filter_size, activation=self.activation,
                             kernel="ntk", target=self.target, modes=self.modes, k=self.k)


def normalise_live(spec: LiveSpec) -> LiveSpec:
    """Validate a setup and reset the fields it ignores, before any work (`ValueError` with what to
    change)."""
    if not isinstance(spec, LiveSpec):
        raise ValueError("Expected a LiveSpec.")
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {guard.shown(spec.arch)}; choose one of "
                         f"{', '.join(ARCHITECTURES)}.")
    if spec.activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {guard.shown(spec.activation)}; choose one of "
                         f"{', '.join(ACTIVATIONS)}.")
    guard.check_ranges(spec)
    if spec.n > 2 ** spec.d:
        raise ValueError(f"n = {spec.n} is more than the {2 ** spec.d} points of the cube at "
                         f"d = {spec.d}: choose n <= {2 ** spec.d} or a larger d.")
    theory = kt.normalise_theory(spec.theory_spec())
    spec = dataclasses.replace(spec, depth=theory.depth, filter_size=theory.filter_size,
                               modes=theory.modes, k=theory.k)
    seconds = chunk_seconds(spec, 1)
    if seconds > CHUNK_BUDGET_S:
        raise ValueError(f"One training step of this network takes about {seconds:.1f} s here, "
                         "too slow to watch: choose a smaller width, n or d.")
    return spec


def live_layers(spec: LiveSpec) -> list[dict]:
    """The layer list of a (normalised) setup: the Theory view's."""
    return kt.theory_layers(spec.theory_spec())


def _multiply_adds(spec: LiveSpec) -> float:
    """Multiply-adds of the network on one input: each weight once per position it is used at
    (a shared conv's at each output position, a local layer's and a dense layer's once)."""
    arch = parse_layers(live_layers(spec))
    lengths = arch.lengths(spec.d)
    shapes = networks.param_shapes(arch, spec.d, networks.resolve_widths(arch, spec.width))
    return float(sum(math.prod(shape[0]) * (lengths[i] if getattr(layer, "shared", False) else 1)
                     for i, (layer, shape) in enumerate(zip(arch, shapes)) if shape))


def chunk_seconds(spec: LiveSpec, steps: int) -> float:
    """Estimated seconds of one chunk (`advance`): `steps` gradient steps on the `n` training
    points (forward and backward: 6 flops per multiply-add and input) and one evaluation on the
    `2^d` points of the cube (2 per multiply-add), at `FLOPS_PER_SECOND`, plus `STEP_S` per step
    and `FRAME_S` per chunk for dispatch and the frame's transforms. Measured on the reference
    CPU (2 cores, float32): MLP width 4096 (d = 8, n = 128, 25 steps) 7.5 s, width 256 (d = 10,
    n = 256) 0.11 s, width 16 0.017 s."""
    flops = _multiply_adds(spec) * (6.0 * spec.n * steps + 2.0 * 2 ** spec.d)
    return FRAME_S + STEP_S * steps + flops / FLOPS_PER_SECOND


def setup_seconds(spec: LiveSpec) -> float:
    """Estimated time of `setup`: the kernel's spectrum on the cube (`2e-6` s a point), the
    `n x n` eigendecomposition (`3e-9 n^3` s) and 1 s to start."""
    return 1.0 + 2e-6 * 2 ** spec.d + 3e-9 * spec.n ** 3


def setup_bytes(spec: LiveSpec) -> int:
    """Peak memory of `setup` and of a run: the spectrum (`kt.theory_bytes`' part, about 200
    bytes per point of the cube), the Gram matrix and eigenvectors (3 `n x n`), and a run's
    `Theta(cube, X)` and `Theta(cube, X) V` (`N x n` each), its parameters and their gradient
    (4 bytes each), and the activations of the cube's evaluation (4 bytes per multiply-add and
    point, an upper bound)."""
    points, n = 2 ** spec.d, spec.n
    params = networks.parameter_count(live_layers(spec), spec.d, width=spec.width)
    return int(guard.RUNTIME_BYTES + 200 * points + 8 * (3 * n * n + 2 * points * n)
               + 8 * params + 4 * points * max(spec.width, spec.d) * (spec.depth + 2))


@dataclasses.dataclass(frozen=True)
class LiveSetup:
    """What every run of one setup shares (cached).

    `layers`; `train` (n,) the training points' indices on the cube (bit `i`: `x_i = -1`),
    `y_train` (n,) their labels and `v` (N,) the target's Walsh coefficients (unit variance);
    `row` (N,) the NTK's row on the cube; `mu` (n,) and `eigenvectors` (n, n) the eigensystem of
    `Theta(X, X) / n`. Components (C,): `component_name`, `component_frequency`,
    `component_spread`, `component_eigenvalue` (the NTK's eigenvalue on it), `component_power`
    (its share of the target's variance) and `component_of` (N,) each set's component, -1 for
    none.
    """
    spec: LiveSpec
    layers: list
    train: np.ndarray
    y_train: np.ndarray
    v: np.ndarray
    row: np.ndarray
    mu: np.ndarray
    eigenvectors: np.ndarray
    component_frequency: np.ndarray
    component_spread: np.ndarray
    component_eigenvalue: np.ndarray
    component_power: np.ndarray
    component_of: np.ndarray

    @property
    def stable_rate(self) -> float:
        """`2 / mu_max`: above it the linearised dynamics diverge along the top direction."""
        return float(2.0 / self.mu.max())


@cached("live.setup", normalise=normalise_live, estimate=setup_seconds, memory=setup_bytes,
        budget_s=TIME_BUDGET_S, advice="choose a smaller n or d")
def setup(spec: LiveSpec, *, progress: Progress = None) -> LiveSetup:
    """The training set, the target's components and the NTK's eigensystem on it (module
    docstring)."""
    layers = live_layers(spec)
    d, n = spec.d, spec.n
    spectrum = spectra.hypercube_spectrum(layers, d, kernel="ntk")
    lam = np.where(np.abs(spectrum.eigenvalues) > kt.CLIP_RTOL * spectrum.eigenvalues.max(),
                   spectrum.eigenvalues, 0.0)
    row = walsh.walsh_hadamard(lam)  # K(x_X, 1): the inverse transform
    v, chosen = kt.target_coefficients(spec.theory_spec(), spectrum)
    members = kt.level_of(spectrum)
    if chosen is not None:
        component_of = np.full(2 ** d, -1, dtype=np.int64)
        component_of[chosen] = np.arange(len(chosen))
        examples, power = chosen, np.full(len(chosen), 1.0 / len(chosen))
    else:
        power_of_level = np.bincount(members, weights=v ** 2)
        carried = np.flatnonzero(power_of_level > 1e-12)
        top = carried[np.argsort(-power_of_level[carried], kind="stable")][:COMPONENTS_MAX]
        index = np.full(len(power_of_level), -1, dtype=np.int64)
        index[top] = np.arange(len(top))
        component_of = np.where(np.abs(v) > 1e-12, index[members], -1)
        examples = np.array([np.flatnonzero(component_of == c)[0] for c in range(len(top))])
        power = power_of_level[top]
    rng = np.random.default_rng(spec.seed)
    train = np.sort(rng.choice(2 ** d, size=n, replace=False)).astype(np.int64)
    y = walsh.walsh_hadamard(v)  # y(x_X) = sum_S v_S chi_S(x_X) on every point
    theta = row[train[:, None] ^ train[None, :]]
    mu, vectors = np.linalg.eigh(theta / n)
    mu = np.where(mu > kt.CLIP_RTOL * mu.max(), mu, 0.0)
    if progress is not None:
        progress(1, 1)
    return LiveSetup(
        spec=spec, layers=layers, train=train, y_train=y[train], v=v, row=row, mu=mu,
        eigenvectors=vectors, component_frequency=spectrum.frequency[examples].astype(np.int64),
        component_spread=spectrum.spread[examples].astype(np.int64),
        component_eigenvalue=lam[examples], component_power=np.asarray(power, dtype=np.float64),
        component_of=component_of)


# --- A run: the network and its linearised twin, advanced chunk by chunk ------------------------


class Frame(NamedTuple):
    """Where a run stands after `step` steps (the last `rate`, NaN at step 0): the network's and
    the NTK prediction's train and test MSE and learned fraction of each target component (C,)."""
    step: int
    rate: float
    train_mse: float
    test_mse: float
    fractions: np.ndarray
    ntk_train_mse: float
    ntk_test_mse: float
    ntk_fractions: np.ndarray


class LiveRun(NamedTuple):
    """A run's state: the network's `params`, the prediction's `decay` (`P_t`, (n,)) and
    `rate_sum` (`sum_s eta_s`), fixed at the start: `f0` (N,) the network's initial function on
    the cube, `projected` (N, n) `Theta(cube, X) V` and `r0` (n,) `V^T (y - f_0(X))`; and `frames`,
    one per chunk, the first at step 0."""
    params: tuple
    decay: np.ndarray
    rate_sum: float
    f0: np.ndarray
    projected: np.ndarray
    r0: np.ndarray
    frames: tuple


@functools.partial(jax.jit, static_argnums=0)
def _steps(arch, params, x, y, rate, count):
    """`count` full-batch gradient steps of `(1/2n) sum (f - y)^2` at `rate`."""
    def loss(p):
        return 0.5 * jnp.mean((networks.apply(arch, p, x) - y) ** 2)

    def step(_, p):
        grads = jax.grad(loss)(p)
        return jax.tree.map(lambda w, g: w - rate * g, p, grads)

    return jax.lax.fori_loop(0, count, step, params)


@functools.lru_cache(maxsize=4)
def _cube(d: int) -> jax.Array:
    return jnp.asarray(walsh.hypercube_points(d), jnp.float32)


def _frame(setup: LiveSetup, step: int, rate: float, f: np.ndarray, f_ntk: np.ndarray) -> Frame:
    n_points = len(f)
    count = int(setup.component_of.max()) + 1

    def measured(values: np.ndarray) -> tuple:
        coefficients = walsh.walsh_hadamard(values) / n_points
        train = float(np.mean((values[setup.train] - setup.y_train) ** 2))
        test = float(np.sum((coefficients - setup.v) ** 2))
        inside = setup.component_of >= 0
        along = np.bincount(setup.component_of[inside],
                            weights=coefficients[inside] * setup.v[inside], minlength=count)
        norm = np.bincount(setup.component_of[inside], weights=setup.v[inside] ** 2,
                           minlength=count)
        return train, test, along / norm

    train, test, fractions = measured(f)
    ntk_train, ntk_test, ntk_fractions = measured(f_ntk)
    return Frame(step, rate, train, test, fractions, ntk_train, ntk_test, ntk_fractions)


def _ntk_function(setup: LiveSetup, run_decay: np.ndarray, rate_sum: float, f0, projected, r0):
    n = len(setup.mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(setup.mu > 0, (1.0 - run_decay) / (n * setup.mu), rate_sum / n)
    return f0 + projected @ (gain * r0)


def start(setup: LiveSetup) -> LiveRun:
    """A new run of `setup`: the network drawn from the setup's seed (so two starts are the same
    run), its first frame at step 0."""
    spec = setup.spec
    arch = parse_layers(setup.layers)
    params = networks.init(setup.layers, spec.d, key=jax.random.PRNGKey(spec.seed),
                           width=spec.width, dtype=jnp.float32)
    f0 = np.asarray(networks.apply(arch, params, _cube(spec.d)), dtype=np.float64)
    points = np.arange(2 ** spec.d)
    projected = setup.row[points[:, None] ^ setup.train[None, :]] @ setup.eigenvectors
    r0 = setup.eigenvectors.T @ (setup.y_train - f0[setup.train])
    # Compile the training step now (zero steps: the same program), so that the first frame
    # after Play takes a chunk's time, not a compilation's.
    cube = _cube(spec.d)
    _steps(arch, params, cube[setup.train], jnp.asarray(setup.y_train, jnp.float32),
           jnp.float32(RATE_DEFAULT), jnp.int32(0))
    decay = np.ones(len(setup.mu))
    frame = _frame(setup, 0, float("nan"), f0, f0)
    return LiveRun(params=params, decay=decay, rate_sum=0.0, f0=f0, projected=projected, r0=r0,
                   frames=(frame,))


def advance(setup: LiveSetup, run: LiveRun, steps: int, learning_rate: float) -> LiveRun:
    """`run` after `steps` more steps at `learning_rate`, with one more frame (`ValueError` for a
    rate or step count out of range)."""
    guard.number(learning_rate, "The learning rate", RATE_MIN, RATE_MAX)
    done = run.frames[-1].step
    if done >= MAX_STEPS:
        raise ValueError(f"This run has reached {MAX_STEPS:,} steps, as far as a run goes here: "
                         "reset it, or start another.")
    guard.whole(steps, "The number of steps", 1, MAX_STEPS - done)
    seconds = chunk_seconds(setup.spec, steps)
    if seconds > CHUNK_BUDGET_S:
        raise ValueError(f"{steps} steps of this network take about {seconds:.1f} s here: choose "
                         "fewer steps per frame.")
    spec = setup.spec
    arch = parse_layers(setup.layers)
    cube = _cube(spec.d)
    x = cube[setup.train]
    params = _steps(arch, run.params, x, jnp.asarray(setup.y_train, jnp.float32),
                    jnp.float32(learning_rate), jnp.int32(steps))
    f = np.asarray(networks.apply(arch, params, cube), dtype=np.float64)
    decay = run.decay * (1.0 - learning_rate * setup.mu) ** steps
    rate_sum = run.rate_sum + learning_rate * steps
    f_ntk = _ntk_function(setup, decay, rate_sum, run.f0, run.projected, run.r0)
    frame = _frame(setup, done + int(steps), float(learning_rate), f, f_ntk)
    return run._replace(params=params, decay=decay, rate_sum=rate_sum,
                        frames=run.frames + (frame,))


DEFAULT_LIVE = LiveSpec()

PRESETS = Presets(
    Preset(
        "Modes of frequency 1, 2, 3 learned in order (MLP, width 256)",
        DEFAULT_LIVE,
        "each mode relaxes at its own NTK eigenvalue: frequency 1 first, then 2, then 3 "
        "(Bordelon et al. 2020's spectral bias, in time rather than in n); the network, of finite "
        "width, learns the frequency-3 mode sooner than its NTK predicts."),
    Preset(
        "Lazy: a wide network follows its NTK (one hidden layer, width 4096)",
        LiveSpec(d=8, depth=1, width=4096, n=128, modes=((1, 0), (2, 1))),
        "as the width grows the network's curves approach the NTK's dashed lines: the "
        "linearised, lazy regime (Jacot et al. 2018; Lee et al. 2019).",
        {"rate": 4.0}),
    Preset(
        "Feature learning: narrow, at a large rate (MLP, width 16)",
        LiveSpec(d=8, width=16, n=128),
        "a narrow network at a large learning rate leaves its NTK behind: it learns the "
        "frequency-3 mode far sooner than the kernel predicts.",
        {"rate": 8.0}),
    Preset(
        "Xiao 2022 · a local mode before a long-range one (tree CNN)",
        LiveSpec(arch="tree_cnn", d=8, width=64, modes=((2, 2), (2, 8))),
        "two modes of the same frequency 2: the tree CNN's kernel ranks the local one (both "
        "features in one patch) far above the long-range one, and the network learns them in "
        "that order.",
        {"rate": 4.0}),
    Preset(
        "Mori & Ueda 2022 · the 2-local label (MLP)",
        LiveSpec(target="k_local", k=2),
        "the k-local label is one Walsh monomial of k neighbouring features."),
)

WARM = [(setup, spec) for spec in PRESETS.values()]
