"""The Universality page's computations (Wang & Wu 2023): real training runs of tree CNNs, LCNs and
FCNs, vmapped over seeds and sample sizes by `engine.training`.

* `sample_complexity(SampleComplexitySpec)`: for each architecture and each d (powers of two), test
  error against the number of training samples n; the number of samples needed to reach a chosen
  relative test error, interpolated between grid points (geometrically, in log n against log
  error); and slopes of log(samples needed) against log d, beside the theory's 0 (polylog) for the
  CNN, 1 for the LCN and 2 for the FCN.
* `depth_sweep(DepthSpec)`: a tree CNN (filter = stride = s) cut at depth L = 1..log_s d, read out by
  `flatten`, fitted to a target that depends on every coordinate: its error stays at the target's
  variance until the receptive field `s^L` covers the input, then drops.

References:
    Wang & Wu, "Theoretical Analysis of Inductive Biases in Deep Convolutional Networks",
    NeurIPS 2023, arXiv:2305.08404.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import threading
import warnings

import numpy as np

from engine import guard, tasks, training
from engine.cache import Partial, Progress, cached
from engine.networks import parameter_count
from engine.presets import Preset, Presets
from engine.specs import mlp, tree_cnn, tree_lcn
from engine.threads import run_in_order

ARCHITECTURES = {"cnn": "CNN (tree, shared weights)", "lcn": "LCN (tree, no sharing)",
                 "fcn": "FCN (MLP)"}
OPTIMIZERS = ("adam", "sgd")
TIME_BUDGET_S = 900.0
"""Largest estimated time of one view's training on this machine; bigger requests are refused."""
CHANNEL_CAP = 64
D_MAX = 128
"""Largest input dimension of the sample-complexity view: d = 8..128 at the other defaults is
estimated at 206 s on the reference CPU, within `TIME_BUDGET_S`; on a GPU it is the view to show."""
FCN_DEPTH = 2
BIAS_STD = 0.1
"""Bias scale `b_std` of every layer of the three networks (`engine.networks`' parameterisation)."""
VAL_FRACTION = 0.25
N_TEST = 2048

_WHY_POWER_OF_TWO = " (the trees halve the input at every layer)"


def network(arch: str, d: int, *, channels: int, width: int) -> tuple[list, tuple]:
    """`(layers, widths)` of one architecture on `d` inputs: a tree CNN or LCN with filter = stride
    = 2 and `channels` channels at every one of its log₂ d layers, or an FCN with `FCN_DEPTH` hidden
    layers of `width`; every layer has bias scale `BIAS_STD`.

    Constant channels keep most weights in the shared low layers: channels doubling with depth put
    most of them in the top one or two layers, where a tree has one or two positions and nothing is
    shared, and the CNN's advantage over the LCN disappears (measured, issue 13)."""
    if arch == "fcn":
        return mlp(FCN_DEPTH, b_std=BIAS_STD), (width,) * FCN_DEPTH
    build = tree_cnn if arch == "cnn" else tree_lcn
    layers = build(d, 2, b_std=BIAS_STD)
    return layers, (channels,) * int(round(math.log2(d)))


def parameter_counts(spec) -> np.ndarray:
    """`[a, i]`: trained parameters (weights and biases) of `ARCHITECTURES[a]` at `spec.dims[i]`."""
    counts = np.zeros((len(ARCHITECTURES), len(spec.dims)), dtype=np.int64)
    for a, arch in enumerate(ARCHITECTURES):
        for i, d in enumerate(spec.dims):
            layers, widths = network(arch, d, channels=spec.channels, width=spec.width)
            counts[a, i] = parameter_count(layers, d, width=widths)
    return counts


# ------------------------------------------------------------------------------ sample complexity
@dataclasses.dataclass(frozen=True)
class SampleComplexitySpec:
    """Training sets of n = 16, 32, ..., n_max samples for d = d_min, 2 d_min, ..., d_max."""
    target: str = "quadratic"
    d_min: int = guard.bounded(8, 4, D_MAX)
    d_max: int = guard.bounded(64, 4, D_MAX)
    n_max: int = guard.bounded(2048, 64, 8192)
    seeds: int = guard.bounded(4, 1, 8, label="Seeds")
    threshold: float = guard.bounded(0.5, 0.0, 1.0, open_low=True,
                                     label="Target test error (MSE / Var y)")
    steps: int = guard.bounded(500, 100, 5000)
    optimizer: str = "adam"
    learning_rate: float = guard.bounded(0.01, 0.0, 100.0, open_low=True, label="Learning rate")
    channels: int = guard.bounded(8, 1, CHANNEL_CAP, label="CNN/LCN channels (every layer)")
    width: int = guard.bounded(64, 4, 512)

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(2 ** k for k in range(int(math.log2(self.d_min)),
                                           int(math.log2(self.d_max)) + 1))

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(2 ** k for k in range(4, int(math.log2(self.n_max)) + 1))

    def train_spec(self) -> training.TrainSpec:
        return training.TrainSpec(optimizer=self.optimizer, learning_rate=self.learning_rate,
                                  steps=self.steps, eval_every=max(self.steps // 20, 1),
                                  patience=0, width=self.width)


def normalise_sample_complexity(spec: SampleComplexitySpec) -> SampleComplexitySpec:
    if not isinstance(spec, SampleComplexitySpec):
        raise ValueError("Expected a SampleComplexitySpec.")
    if spec.target not in tasks.TARGETS or spec.target == "cross_halves":
        raise ValueError("Choose the target 'sparse_product' or 'quadratic'.")
    if spec.optimizer not in OPTIMIZERS:
        raise ValueError(f"Choose the optimizer among {', '.join(OPTIMIZERS)}.")
    guard.check_ranges(spec)
    guard.power_of_two(spec.d_min, "`d_min`", _WHY_POWER_OF_TWO)
    guard.power_of_two(spec.d_max, "`d_max`", _WHY_POWER_OF_TWO)
    if spec.d_max < spec.d_min:
        raise ValueError("`d_max` must be at least `d_min`.")
    guard.power_of_two(spec.n_max, "`n_max`", _WHY_POWER_OF_TWO)
    return dataclasses.replace(spec, threshold=float(spec.threshold),
                               learning_rate=float(spec.learning_rate))


def sample_seconds(spec: SampleComplexitySpec) -> float:
    """Estimated training time of a sample-complexity view on this machine: its sweeps, run
    `training.SWEEPS_AT_ONCE` at a time (`training.concurrent_seconds`)."""
    return training.concurrent_seconds([_sweep_seconds(spec, arch, spec.dims[i], spec.sizes[j])
                                        for i, arch, j in _units(spec)])


FIRST_SIZES = 128
"""The smallest d's sample sizes up to this one are trained first, apart from the rest (`_units`)."""


def _units(spec: SampleComplexitySpec) -> list[tuple[int, str, slice]]:
    """`(d index, architecture, slice of sizes)` of each sweep of a sample-complexity view, in
    the order they start: one per architecture and d, smallest d first, except that the smallest
    d's sizes up to `FIRST_SIZES` are swept first on their own. Those few seconds of work give the
    page its first chart (the samples needed at the smallest d lie among them at the default),
    and each run trains from the same initialisation and data whichever sweep it is in."""
    sizes = spec.sizes
    cut = sum(n <= FIRST_SIZES for n in sizes)
    first = ([slice(0, cut), slice(cut, len(sizes))] if 0 < cut < len(sizes)
             else [slice(0, len(sizes))])
    return ([(0, arch, part) for part in first for arch in ARCHITECTURES]
            + [(i, arch, slice(0, len(sizes))) for i in range(1, len(spec.dims))
               for arch in ARCHITECTURES])


def _sweep_seconds(spec: SampleComplexitySpec, arch: str, d: int, sizes: tuple) -> float:
    layers, widths = network(arch, d, channels=spec.channels, width=spec.width)
    train = dataclasses.replace(spec.train_spec(), width=widths)
    return training.estimate_cost(layers, d, spec.n_max, spec.seeds * len(sizes), train,
                                  sizes=sizes, n_eval=_n_val(spec.n_max) + N_TEST)


def _n_val(n_train: int) -> int:
    return max(int(n_train * VAL_FRACTION), 64)


def _data_bytes(seeds: int, n_train: int, d: int) -> tuple[int, int]:
    """`(kept, drawing)` bytes of `_datasets`: the float32 inputs and labels of every seed's
    training and validation rows and of the test set are kept; while they are drawn, the float64
    inputs, the target's float64 temporaries (two arrays of the inputs' shape for `quadratic`)
    and the float32 copy take 28 bytes an input entry."""
    rows = seeds * (n_train + _n_val(n_train)) + N_TEST
    return 4 * rows * (d + 1), 28 * rows * d + 16 * rows


def sample_bytes(spec: SampleComplexitySpec) -> int:
    """Estimated peak memory of a (normalised) sample-complexity view: the data sets
    (`_data_bytes`) of the two largest d, held while their sweeps run, and the two largest of its
    sweeps at once (`training.SWEEPS_AT_ONCE`; `training.estimate_memory`: every seed and size,
    the test set shared by all runs) plus every sweep's compiled program (they stay cached,
    `training.sequential_peak`) and `guard.RUNTIME_BYTES`."""
    data = [_data_bytes(spec.seeds, spec.n_max, d) for d in spec.dims]
    kept = sum(sorted((k for k, _ in data), reverse=True)[:training.SWEEPS_AT_ONCE])
    drawing = max(drawing for _, drawing in data)
    sweeps = [_sweep_bytes(spec, arch, spec.dims[i], spec.sizes[j])
              for i, arch, j in _units(spec)]
    return (guard.RUNTIME_BYTES + kept
            + max(drawing, training.sequential_peak(sweeps, at_once=training.SWEEPS_AT_ONCE)))


def _sweep_bytes(spec: SampleComplexitySpec, arch: str, d: int,
                 sizes: tuple) -> training.SweepMemory:
    layers, widths = network(arch, d, channels=spec.channels, width=spec.width)
    train = dataclasses.replace(spec.train_spec(), width=widths)
    return training.estimate_memory(layers, d, spec.n_max, spec.seeds * len(sizes), train,
                                    sizes=sizes, n_val=_n_val(spec.n_max), n_test=N_TEST)


@dataclasses.dataclass(frozen=True)
class SampleComplexityView:
    """`test_error[a, i, s, j]`: relative test MSE of architecture `archs[a]` at `d = dims[i]`,
    seed `s`, `n = sizes[j]` (NaN where the run diverged); `samples_needed[a, i, s]` the n at which
    the error first reaches `spec.threshold` (NaN if it never does); `slope[a]` the fitted exponent
    of d in the median samples needed (NaN with fewer than two finite points); `parameters[a, i]`
    the network's trained parameters (`parameter_counts`)."""
    spec: SampleComplexitySpec
    archs: tuple
    dims: np.ndarray
    sizes: np.ndarray
    test_error: np.ndarray
    train_error: np.ndarray
    diverged: np.ndarray
    samples_needed: np.ndarray
    slope: np.ndarray
    parameters: np.ndarray


def samples_to_reach(sizes: np.ndarray, errors: np.ndarray, threshold: float) -> float:
    """The smallest n with error <= threshold, interpolated linearly in (log n, log error) between
    the last grid point above and the first at or below it; `sizes[0]` if the first point is
    already below, NaN if none is (or the curve is NaN there)."""
    below = np.nonzero(errors <= threshold)[0]
    if not len(below):
        return float("nan")
    j = int(below[0])
    if j == 0:
        return float(sizes[0])
    e0, e1 = errors[j - 1], errors[j]
    if not (np.isfinite(e0) and e0 > 0 and e1 > 0):
        return float(sizes[j])
    t = (np.log(e0) - np.log(threshold)) / (np.log(e0) - np.log(e1))
    return float(np.exp(np.log(sizes[j - 1]) + t * (np.log(sizes[j]) - np.log(sizes[j - 1]))))


def fitted_exponent(dims: np.ndarray, needed: np.ndarray) -> float:
    """Least-squares slope of log(median samples needed) against log d (NaN with < 2 points)."""
    with warnings.catch_warnings():  # all seeds NaN: the median is NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(needed, axis=-1) if needed.ndim > 1 else needed
    keep = np.isfinite(median)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(dims[keep]), np.log(median[keep]), 1)[0])


def _datasets(spec, d: int, n_train: int, seeds: int, target: str):
    """Per-seed training and validation sets and one shared test set, all from one PCG64 stream per
    (d, n) so that every architecture sees the same data."""
    n_val = _n_val(n_train)
    x, y = tasks.gaussian_dataset(target, d, n_train + n_val, seed=1000 * d + 7,
                                  leading=(seeds,))
    x_test, y_test = tasks.gaussian_dataset(target, d, N_TEST, seed=1000 * d + 8)
    return x[:, :n_train], y[:, :n_train], x[:, n_train:], y[:, n_train:], x_test, y_test


class _Datasets:
    """`_datasets` of one view by d, drawn once by whichever sweep asks first (sweeps run in
    threads) and dropped once a larger d is asked for: sweeps start in order of d, and at most
    `training.SWEEPS_AT_ONCE` run at once, so at most two d are held (`sample_bytes`)."""

    def __init__(self, spec, n_train: int):
        self._spec, self._n_train = spec, n_train
        self._held: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def __call__(self, d: int) -> tuple:
        with self._lock:
            if d not in self._held:
                self._held = {k: v for k, v in self._held.items() if k >= d // 2}
                self._held[d] = _datasets(self._spec, d, self._n_train, self._spec.seeds,
                                          self._spec.target)
            return self._held[d]


@cached("universality.sample_complexity", normalise=normalise_sample_complexity,
        estimate=sample_seconds, memory=sample_bytes, budget_s=TIME_BUDGET_S,
        advice="choose a smaller d, fewer samples, steps or seeds",
        memory_advice="choose a smaller d, fewer samples or seeds, or a smaller width")
def sample_complexity(spec: SampleComplexitySpec, *, progress: Progress = None,
                      partial: Partial = None) -> SampleComplexityView:
    """Samples needed against d for CNN, LCN and FCN (Wang & Wu 2023), from real training runs,
    one sweep per architecture and d (`_units`: the smallest d's small sizes first),
    `training.SWEEPS_AT_ONCE` at a time. `partial` receives the view each time a sweep ends, the
    runs not trained yet NaN."""
    archs, dims, sizes = tuple(ARCHITECTURES), np.array(spec.dims), np.array(spec.sizes)
    shape = (len(archs), len(dims), spec.seeds, len(sizes))
    test_error, train_error = np.full(shape, np.nan), np.full(shape, np.nan)
    diverged = np.zeros(shape, dtype=bool)
    units = _units(spec)
    total = len(units) * spec.steps

    def view() -> SampleComplexityView:
        needed = np.full(shape[:3], np.nan)
        for index in np.ndindex(*shape[:3]):
            needed[index] = samples_to_reach(sizes, test_error[index], spec.threshold)
        slope = np.array([fitted_exponent(dims, needed[a]) for a in range(len(archs))])
        return SampleComplexityView(spec=spec, archs=archs, dims=dims, sizes=sizes,
                                    test_error=test_error.copy(), train_error=train_error.copy(),
                                    diverged=diverged.copy(), samples_needed=needed, slope=slope,
                                    parameters=parameter_counts(spec))

    data = _Datasets(spec, spec.n_max)

    def sweep(i: int, arch: str, part: slice, report) -> training.SweepResult:
        d = int(dims[i])
        layers, widths = network(arch, d, channels=spec.channels, width=spec.width)
        return training.train_sweep(
            layers, *data(d), sizes=sizes[part],
            train=dataclasses.replace(spec.train_spec(), width=widths),
            key=_key(archs.index(arch), d), progress=lambda step, _: report(step))

    ended = itertools.count(1)

    def each(u: int, result: training.SweepResult) -> None:
        i, arch, part = units[u]
        a = archs.index(arch)
        test_error[a, i, :, part] = result.test_mse
        train_error[a, i, :, part] = result.train_mse
        diverged[a, i, :, part] = result.diverged
        if next(ended) < len(units) and partial is not None:
            partial(view())

    run_in_order([functools.partial(sweep, *unit) for unit in units],
                 workers=training.SWEEPS_AT_ONCE, each=each,
                 progress=None if progress is None else (lambda done: progress(done, total)))
    return view()


def _key(a: int, d: int):
    import jax

    return jax.random.PRNGKey(97 * d + a)


# -------------------------------------------------------------------------------------- depth
@dataclasses.dataclass(frozen=True)
class DepthSpec:
    """Tree CNNs of depth 1..log_s d (filter = stride = s) with each channel count in
    `channels`, trained on `n_train` samples of `target`.

    The default (2, 8 and 32 channels, 1,000 steps) shows both halves of the result, depth log_s d
    and enough channels: at full depth 32 channels fit the target, 2 do not (`bench/papers.py`).
    It costs a third of the former 4, 16 and 64 channels for 1,500 steps, whose widest networks
    were most of the view's arithmetic, and draws the same drop."""
    d: int = guard.bounded(16, 4, 256)
    s: int = guard.bounded(2, 2, 16)
    target: str = "cross_halves"
    channels: tuple = (2, 8, 32)
    n_train: int = guard.bounded(1024, 64, 8192)
    seeds: int = guard.bounded(2, 1, 8, label="Seeds")
    steps: int = guard.bounded(1000, 100, 5000)
    learning_rate: float = guard.bounded(0.003, 0.0, 1.0, open_low=True)

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(range(1, _levels(self.d, self.s) + 1))


def _levels(d: int, s: int) -> int:
    levels, rest = 0, d
    while rest > 1 and rest % s == 0:
        rest //= s
        levels += 1
    if rest != 1:
        raise ValueError(f"d = {d} is not a power of the filter size s = {s}; choose d among "
                         f"{', '.join(str(s ** k) for k in range(2, 7) if s ** k <= 256)}.")
    return levels


def partial_tree(d: int, s: int, depth: int) -> list[dict]:
    """The first `depth` layers of a tree CNN (filter = stride = s), then `flatten` and a dense
    readout: each last-layer position sees `s^depth` consecutive inputs."""
    layers: list[dict] = []
    for _ in range(depth):
        layers += [{"layer": "conv", "filter_size": s, "stride": s, "padding": "valid"},
                   {"layer": "relu"}]
    return layers + [{"layer": "flatten"}, {"layer": "dense"}]


def normalise_depth(spec: DepthSpec) -> DepthSpec:
    if not isinstance(spec, DepthSpec):
        raise ValueError("Expected a DepthSpec.")
    guard.check_ranges(spec)
    _levels(spec.d, spec.s)
    if spec.target not in tasks.TARGETS:
        raise ValueError(f"Unknown target {spec.target!r}; choose one of {', '.join(tasks.TARGETS)}.")
    channels = tuple(spec.channels)
    if not channels or any(isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 256
                           for c in channels):
        raise ValueError("Channels must be whole numbers from 1 to 256.")
    return dataclasses.replace(spec, channels=tuple(sorted(set(channels))),
                               learning_rate=float(spec.learning_rate))


def depth_seconds(spec: DepthSpec) -> float:
    """Estimated training time of a depth view on this machine: its sweeps, run
    `training.SWEEPS_AT_ONCE` at a time (`training.concurrent_seconds`)."""
    return training.concurrent_seconds([
        training.estimate_cost(partial_tree(spec.d, spec.s, depth), spec.d, spec.n_train,
                               spec.seeds, _depth_train(spec, (c,) * depth))
        for depth in spec.depths for c in spec.channels])


def _depth_train(spec: DepthSpec, widths: tuple) -> training.TrainSpec:
    return training.TrainSpec(optimizer="adam", learning_rate=spec.learning_rate,
                              steps=spec.steps, eval_every=max(spec.steps // 20, 1), patience=0,
                              width=widths)


def depth_bytes(spec: DepthSpec) -> int:
    """Estimated peak memory of a (normalised) depth view: its data sets (`_data_bytes`), and the
    two largest of its sweeps, one per depth and channel count, run `training.SWEEPS_AT_ONCE` at a
    time (`training.estimate_memory`, `training.sequential_peak`: every sweep's compiled program
    stays cached), plus `guard.RUNTIME_BYTES`."""
    kept, drawing = _data_bytes(spec.seeds, spec.n_train, spec.d)
    sweeps = [training.estimate_memory(partial_tree(spec.d, spec.s, depth), spec.d, spec.n_train,
                                       spec.seeds, _depth_train(spec, (c,) * depth),
                                       n_val=_n_val(spec.n_train), n_test=N_TEST)
              for depth in spec.depths for c in spec.channels]
    return guard.RUNTIME_BYTES + kept + max(
        drawing, training.sequential_peak(sweeps, at_once=training.SWEEPS_AT_ONCE))


@dataclasses.dataclass(frozen=True)
class DepthView:
    """`train_error[l, c, s]` and `test_error[l, c, s]`: relative MSE of the depth `depths[l]` tree
    with `channels[c]` channels per layer, seed `s` (NaN where diverged)."""
    spec: DepthSpec
    depths: np.ndarray
    channels: np.ndarray
    receptive_field: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    diverged: np.ndarray


@cached("universality.depth", normalise=normalise_depth, estimate=depth_seconds,
        memory=depth_bytes, budget_s=TIME_BUDGET_S,
        advice="choose a smaller d, fewer samples, steps or seeds",
        memory_advice="choose a smaller d, fewer samples, seeds or channels")
def depth_sweep(spec: DepthSpec, *, progress: Progress = None,
                partial: Partial = None) -> DepthView:
    """Approximation error of tree CNNs against depth and channels (Wang & Wu 2023), one sweep per
    depth and channel count, `training.SWEEPS_AT_ONCE` at a time. `partial` receives the view each
    time a depth and channel count ends (shallowest first), the rest NaN."""
    depths, channels = np.array(spec.depths), np.array(spec.channels)
    shape = (len(depths), len(channels), spec.seeds)
    train_error, test_error = np.full(shape, np.nan), np.full(shape, np.nan)
    diverged = np.zeros(shape, dtype=bool)

    def view() -> DepthView:
        return DepthView(spec=spec, depths=depths, channels=channels,
                         receptive_field=np.array([spec.s ** int(L) for L in depths]),
                         train_error=train_error.copy(), test_error=test_error.copy(),
                         diverged=diverged.copy())

    data = _datasets(spec, spec.d, spec.n_train, spec.seeds, spec.target)
    total = len(depths) * len(channels) * spec.steps
    units = [(l, c) for l in range(len(depths)) for c in range(len(channels))]

    def sweep(l: int, c: int, report) -> training.SweepResult:
        depth, width = int(depths[l]), int(channels[c])
        return training.train_sweep(
            partial_tree(spec.d, spec.s, depth), *data, sizes=np.array([spec.n_train]),
            train=_depth_train(spec, (width,) * depth), key=_key(l, width),
            progress=lambda step, _: report(step))

    ended = itertools.count(1)

    def each(u: int, result: training.SweepResult) -> None:
        l, c = units[u]
        train_error[l, c] = result.train_mse[:, 0]
        test_error[l, c] = result.test_mse[:, 0]
        diverged[l, c] = result.diverged[:, 0]
        if next(ended) < len(units) and partial is not None:
            partial(view())

    run_in_order([functools.partial(sweep, l, c) for l, c in units],
                 workers=training.SWEEPS_AT_ONCE, each=each,
                 progress=None if progress is None else (lambda done: progress(done, total)))
    return view()


DEFAULT_SAMPLES = SampleComplexitySpec()
DEFAULT_DEPTH = DepthSpec()
SPARSE_PRESET = SampleComplexitySpec(target="sparse_product", d_max=32)
# Presets are named after the paper's figure where one was read and the preset reproduces its claim
# (docs/presets.md lists the figures, their sources and how each preset differs), else after the
# result; each preset's note has the gist, as measured by bench/papers.py.
SAMPLE_PRESETS = Presets(
    Preset(
        "Wang & Wu 2023 · separation: CNN < LCN < FCN ≈ d² (quadratic target)",
        DEFAULT_SAMPLES,
        "their separation: on a simple regression task CNNs need Õ(log² d) samples, LCNs Ω(d) "
        "and FCNs Ω(d²). Here: samples needed against d = 8..64 on the quadratic target; the "
        "ordering and the slopes reproduce it (the caption has the numbers)."),
    Preset(
        "Wang & Wu 2023 · sparse target x₀·x_last: not reproduced by plain training",
        SPARSE_PRESET,
        "their Fig. 2 trains a CNN (filter 4, 4 channels, Adam) on sparse long-range targets at "
        "d = 4096. Here, on x₀·x_last at d = 8..32, the tree CNN needs more samples than the "
        "FCN: this preset shows the disagreement (the caption says why)."),
)
DEPTH_PRESETS = Presets(
    Preset(
        "Wang & Wu 2023 · universal at depth log₂ d (d = 16, filter 2)",
        DepthSpec(),
        "their universality result: depth O(log d) suffices with downsampling and multichanneling "
        "(no figure found). Here: the training error drops once the receptive field 2^L covers "
        "all 16 inputs, with 8 or 32 channels; 2 channels are too few."),
    Preset(
        "Wang & Wu 2023 · universal at depth log₃ d (d = 27, filter 3)",
        DepthSpec(d=27, s=3),
        "the same result with filter = stride 3: the error drops at depth log₃ 27 = 3."),
    Preset(
        "Wang & Wu 2023 · Fig. 2's CNN (filter 4) on a long-range target (d = 16)",
        DepthSpec(d=16, s=4, target="sparse_product", channels=(1, 4, 16), steps=1000),
        "the filter size 4 and 4 channels of their Fig. 2, on x₀·x₁₅ at d = 16: only the depth-2 "
        "tree (receptive field 16) sees both coordinates and fits it."),
)
MEASURED = (
    "Measured at the default (quadratic target, 4 seeds, bench/papers.py): median n* 34 → 72 → "
    "96 → 131 for the CNN and 33 → 87 → 224 → 670 for the LCN at d = 8, 16, 32, 64; 61 → 204 → "
    "1,122 for the FCN to d = 32 (not reached at d = 64 within n ≤ 2,048). CNN < LCN < FCN at "
    "every d ≥ 16 (at d = 8 the CNN and LCN tie); slopes 0.62, 1.44 and 2.10.")
"""What the default view shows, for the page's caption (`bench/papers.py` measures it)."""
MEASURED_SPARSE = (
    "On the sparse target x₀·x_last (its preset, d = 8..32, 4 seeds) the CNN needs more samples "
    "than the FCN: median n* 146 → 525 → 1,178 (CNN), 203 → 336 → 1,043 (LCN), 60 → 187 → 674 "
    "(FCN); slopes 1.51, 1.18, 1.74.")
"""What the sparse-target preset shows (`bench/papers.py`)."""
WARM = ([(sample_complexity, spec) for spec in SAMPLE_PRESETS.values()]
        + [(depth_sweep, spec) for spec in DEPTH_PRESETS.values()])
