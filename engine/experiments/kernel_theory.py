"""The Learning curves page's "Theory" view: eigenlearning's predicted learning curve of kernel
regression from the exact hypercube spectrum, beside kernel regression actually run on the cube.

One cached unit, `theory(TheorySpec)`:

1. The kernel's exact spectrum on `{-1, +1}^d` (`engine.spectra.hypercube_spectrum`: one kernel
   row and a Walsh–Hadamard transform), grouped into levels by Walsh frequency `|S|` and spatial
   spread (Xiao 2022); eigenvalues below `CLIP_RTOL` of the largest are rounding noise and set to 0.
2. A unit-variance target: a few eigenmodes, each picked by (frequency, spread) as the
   Eigenstructure page shows them and realised as the level's example monomial `chi_S`, with equal
   weights `1 / sqrt(#modes)`; or the k-local / k-global label of `engine.locality` (Mori & Ueda
   2022), whose Walsh coefficients spread over many levels.
3. The theory (`engine.eigenlearning`; Bordelon, Canatar & Pehlevan 2020; Simon et al. 2023) at
   `THEORY_POINTS` log-spaced sizes from 1 to `n_max`: test and train MSE, `kappa`, `E_0`, and the
   learnability `L = lam / (lam + kappa)` of every target mode and every spectrum level.
4. Measured curves (`engine.regression.hypercube_learning_curve`): kernel (ridge) regression on `n`
   inputs drawn uniformly with replacement, exact population test error from the predictor's Walsh
   coefficients, `seeds` training sets per size.

Both MSEs are against noisy labels (`+ noise`), the convention of `engine.eigenlearning`.

How well should they agree? The theory is exact in a limit of many samples and modes, and for
finite `n` it predicts the mean over training sets with relative errors of order `1 / sqrt(n)`
from the discreteness of the spectrum (Canatar et al. 2021 find a few percent from n ~ 10 on), and
seed-to-seed fluctuations of the measured error are of the same order. On the cube two further
effects matter. Draws repeat points once `n` is a noticeable fraction of `2^d`, and without label
noise a repeated point adds no information, so measured errors sit above the theory as `n`
approaches `2^d`; the theory evaluated at the expected number of distinct points,
`2^d (1 - (1 - 2^-d)^n)`, accounts for that (`test_mse_theory_distinct`; measured on an MLP at
d = 10, it stays within a few percent up to n = 1.5 x 2^d, where the plain theory is off by
~50-100%). And kernels with many exactly-zero eigenvalues (a two-layer ReLU network without bias
has none at odd frequencies >= 3) see pairs of antipodal inputs `x, -x` as near-duplicates, which
makes ridgeless regression noisier than the theory says. Keep `n_max` well below `2^d` (the
default uses 2048 of 65,536 points) to compare like with like.

References:
    Bordelon, Canatar & Pehlevan, "Spectrum Dependent Learning Curves in Kernel Regression and Wide
        Neural Networks", ICML 2020, arXiv:2002.02561.
    Canatar, Bordelon & Pehlevan, "Spectral bias and task-model alignment explain generalization in
        kernel regression and infinitely wide neural networks", Nature Communications 12, 2021.
    Simon, Dickens, Karkada & DeWeese, "The Eigenlearning Framework", TMLR 2023, arXiv:2110.03922.
    Xiao, "Eigenspace Restructuring: a Principle of Space and Frequency in Neural Networks",
        COLT 2022, arXiv:2112.05611.
    Mori & Ueda, "Interplay between depth of neural networks and locality of target functions",
        arXiv:2201.12082 (2022).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers

import numpy as np

from engine import eigenlearning, guard, locality, regression, spectra
from engine.cache import Progress, cached
from engine.experiments import eigenstructure
from engine.presets import Preset, Presets
from engine.specs import Architecture, parse_layers

ARCHITECTURES = eigenstructure.ARCHITECTURES
KERNELS = eigenstructure.KERNELS
TARGETS = {"modes": "Eigenmodes (frequency, spread)", **locality.LABELS}
D_MIN, D_MAX = 4, 20
N_MAX = 4096
"""Largest training set: a 4096 x 4096 Gram matrix (128 MiB) and its Cholesky factor per fit."""
SEEDS_MAX = 16
MODES_MAX = 8
SIZES_MIN, SIZES_MAX = 2, 16
THEORY_POINTS = 60
"""Sizes at which the theory is drawn, log-spaced from 1 to `n_max`."""
RIDGE_MAX = 1e3
NOISE_MAX = 10.0
CLIP_RTOL = 1e-12
"""Eigenvalues below this fraction of the largest are rounding noise (~1e-16) and count as 0."""
TIME_BUDGET_S = 60.0
"""Largest estimated computing time of one view; bigger requests are refused before any work."""


@dataclasses.dataclass(frozen=True)
class TheorySpec:
    """One Theory view.

    The architecture fields mean what they mean on the Eigenstructure page
    (`eigenstructure.HypercubeSpec`; the readout is always `flatten`, which keeps Walsh monomials
    eigenfunctions): `depth` is the MLP's hidden layers or the shallow CNN's dense head,
    `filter_size` the tree's patch (or the shallow CNN's filter). `target` is `"modes"` (then
    `modes` lists `(frequency, spread)` pairs, which must exist for this architecture and `d`:
    `available_modes(spec)` lists them; the default `(2, 16)` needs d = 16) or a label of
    `engine.locality` (then `k` is its order and must divide `d`). `ridge` is added to the Gram
    matrix; `noise` is the label-noise variance. Measured sizes: `sizes` values log-spaced from
    `n_min` to `n_max`, `seeds` training sets each.
    """
    arch: str = "tree_cnn"
    d: int = guard.bounded(16, D_MIN, D_MAX, label="Input dimension d")
    depth: int = 2
    filter_size: int = 2
    activation: str = "relu"
    w_std: float = 1.0
    b_std: float = 0.0
    kernel: str = "ntk"
    target: str = "modes"
    modes: tuple = ((2, 2), (2, 16))
    k: int = 2
    ridge: float = guard.bounded(0.0, 0, RIDGE_MAX, label="Ridge δ")
    noise: float = guard.bounded(0.0, 0, NOISE_MAX, label="Label noise variance ε²")
    n_min: int = 8
    n_max: int = guard.bounded(2048, 2, N_MAX)
    sizes: int = guard.bounded(9, SIZES_MIN, SIZES_MAX)
    seeds: int = guard.bounded(4, 1, SEEDS_MAX, label="Seeds")

    @property
    def measured_sizes(self) -> np.ndarray:
        """The measured training-set sizes: `sizes` values log-spaced from `n_min` to `n_max`,
        rounded (duplicates after rounding dropped)."""
        sizes = np.round(np.geomspace(self.n_min, self.n_max, self.sizes))
        return np.unique(sizes.astype(np.int64))

    @property
    def theory_sizes(self) -> np.ndarray:
        return np.geomspace(1.0, float(self.n_max), THEORY_POINTS)


def hypercube_spec(spec: TheorySpec) -> eigenstructure.HypercubeSpec:
    """The Eigenstructure page's hypercube view of the same kernel."""
    return eigenstructure.HypercubeSpec(
        arch=spec.arch, d=spec.d, depth=spec.depth, filter_size=spec.filter_size,
        readout="flatten", activation=spec.activation, w_std=spec.w_std, b_std=spec.b_std,
        kernel=spec.kernel)


def theory_layers(spec: TheorySpec) -> list[dict]:
    """The layer list of a (normalised) `TheorySpec`, built by the Eigenstructure page's
    `hypercube_layers`."""
    return eigenstructure.hypercube_layers(hypercube_spec(spec))


@functools.lru_cache(maxsize=16)
def _mode_table(arch: Architecture, d: int) -> dict:
    """`{(frequency, spread): smallest S}` over all sets `S` (cheap: no kernel), for a parsed (so
    hashable) architecture."""
    frequency = spectra.walsh_frequency(d).astype(np.int64)
    spread = spectra.spatial_spread(arch, d).astype(np.int64)
    key = frequency * (d + 1) + spread
    keys, first = np.unique(key, return_index=True)  # first occurrence = the smallest S
    return {(int(k // (d + 1)), int(k % (d + 1))): int(s) for k, s in zip(keys, first)}


def available_modes(spec: TheorySpec) -> list[tuple[int, int]]:
    """The `(frequency, spread)` pairs some Walsh monomial has in this architecture, sorted (the
    choices for `TheorySpec.modes`). Spreads are `engine.spectra.spatial_spread`'s: the patch-tree
    block size for tree networks, the (cyclic) span otherwise."""
    spec = normalise_theory(dataclasses.replace(spec, target="k_local", modes=(), k=1))
    return sorted(_mode_table(parse_layers(theory_layers(spec)), spec.d))


def _check_modes(spec: TheorySpec, layers: list) -> tuple:
    modes = spec.modes
    if not isinstance(modes, (tuple, list)) or not 1 <= len(modes) <= MODES_MAX:
        raise ValueError(f"Choose 1 to {MODES_MAX} target modes, each a (frequency, spread) pair; "
                         f"got {modes!r}.")
    table = _mode_table(parse_layers(layers), spec.d)
    out = []
    for mode in modes:
        if (not isinstance(mode, (tuple, list)) or len(mode) != 2
                or any(isinstance(x, bool) or not isinstance(x, numbers.Integral) for x in mode)):
            raise ValueError(f"A target mode is a pair of whole numbers (frequency |S|, spatial "
                             f"spread), got {mode!r}.")
        f, s = int(mode[0]), int(mode[1])
        if not 0 <= f <= spec.d:
            raise ValueError(f"A mode's frequency |S| must be from 0 to d = {spec.d}, got {f}.")
        if (f, s) not in table:
            spreads = ", ".join(str(b) for a, b in sorted(table) if a == f)
            raise ValueError(f"No Walsh monomial of frequency {f} has spread {s} in this "
                             f"architecture; at frequency {f} the spreads are {spreads}.")
        out.append((f, s))
    if len(set(out)) != len(out):
        raise ValueError("The target modes must be different (frequency, spread) pairs.")
    return tuple(out)


def normalise_theory(spec: TheorySpec) -> TheorySpec:
    """Validate a Theory view and reset the fields it ignores, before any work (`ValueError` with
    what to change)."""
    if not isinstance(spec, TheorySpec):
        raise ValueError("Expected a TheorySpec.")
    guard.check_ranges(spec)
    # The architecture's own checks (and resets) are the Eigenstructure page's.
    cube = eigenstructure.normalise_hypercube(hypercube_spec(spec))
    spec = dataclasses.replace(spec, depth=cube.depth, filter_size=cube.filter_size,
                               w_std=cube.w_std, b_std=cube.b_std)
    if spec.target not in TARGETS:
        raise ValueError(f"Unknown target {spec.target!r}; choose one of {', '.join(TARGETS)}.")
    guard.whole(spec.n_min, "`n_min`", 1, spec.n_max - 1)
    changes: dict = dict(ridge=float(spec.ridge), noise=float(spec.noise))
    if spec.target == "modes":
        changes.update(modes=_check_modes(spec, theory_layers(spec)), k=0)
    else:
        k = spec.k
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ValueError(f"`k` (the label's order) must be a whole number, got {k!r}.")
        locality.check_order(spec.d, int(k))
        changes.update(modes=(), k=int(k))
    return dataclasses.replace(spec, **changes)


def theory_seconds(spec: TheorySpec) -> float:
    """Estimated computing time of a (normalised) view on this machine, from measured costs: the
    kernel row (compilation included, 1 s), one fit per (seed, size) on its `n` distinct points
    (the Gram matrix, its Cholesky factorisation and solve: `6e-12 n^3 + 1e-8 n^2` s) and one
    Walsh–Hadamard transform. Fitted on the reference CPU (2026-12-06): fits at n = 1,016, 2,016
    and 3,971 took 0.014, 0.086 and 0.357 s; the default view 1.9 s cold and 0.9 s warm (the
    earlier constants, `6e-11 n^3 + 4e-8 n^2` and 2.5 s, were 3 to 9 times too high)."""
    points = 2 ** spec.d
    distinct = regression.expected_distinct(spec.measured_sizes, spec.d)
    fits = spec.seeds * float(np.sum(6e-12 * distinct ** 3 + 1e-8 * distinct ** 2))
    transforms = spec.seeds * len(distinct) * 5e-9 * points * spec.d
    return 1.0 + 2e-6 * points + fits + transforms


def theory_bytes(spec: TheorySpec) -> int:
    """Estimated peak memory of a (normalised) view, from what `theory` allocates for the
    `N = 2^d` points of the cube and fits on at most `n = min(n_max, N)` distinct points:

    * the spectrum (`eigenstructure.spectrum_bytes`), of which the eigenvalues, frequencies and
      spreads stay (10N), with the target's coefficients, every set's level and the kernel row
      (24N);
    * a label's coefficients: all `N` points of the cube as int64 bits and float64 coordinates
      (24 N d while they are built), then one transform (12N);
    * `level_of`: int64 keys, their order and sorted copy, `np.unique`'s (about 56N), and for
      each (frequency, spread) the distances of its members to its levels (at most 8N of them,
      measured over tree, shallow-CNN and MLP kernels at d = 16 to 20, 16 bytes each);
    * the measured curve: the eigenvalues and target on the cube (16N) and per fit the `n x n`
      Gram matrix with its XOR indices, its two scaled copies, the ridge's identity,
      `K + ridge I`, its Cholesky factor and, where that fails, `numpy.linalg.eigh`'s copy,
      eigenvectors and workspace (9 n^2 float64 at most), then the predictor's transforms
      (about 36N).

    Eigenlearning's arrays (sizes x levels) take a few MiB. The largest of the phases after the
    spectrum is added to the spectrum's own peak, not compared with it: the allocator keeps some
    of what the spectrum freed (measured: 612 MiB for a k-global label at d = 20, 86 MiB above
    the label's phase and what is kept). Plus `guard.RUNTIME_BYTES`."""
    points, d = 2 ** spec.d, spec.d
    n = min(spec.n_max, points)
    label = 24 * d * points + 12 * points if spec.target != "modes" else 0
    phases = max(label, 56 * points + 16 * 8 * points, 16 * points + 72 * n * n + 36 * points)
    kept = 34 * points
    return (guard.RUNTIME_BYTES
            + eigenstructure.spectrum_bytes(theory_layers(spec), d) + kept + phases)


@dataclasses.dataclass(frozen=True)
class TheoryView:
    """The Theory view: predicted and measured learning curves of kernel regression on the cube.

    Theory, at `sizes_theory` (T,), float64: `test_mse_theory`, `train_mse_theory`, `kappa`,
    `e0`; `mode_learnability[t, c]` the learnability of target mode `c`, `level_learnability[t, l]`
    that of spectrum level `l` (`kappa = 0`, the interpolation limit, learns every nonzero mode);
    `distinct_theory` the expected number of distinct points among `n` draws,
    `2^d (1 - (1 - 2^-d)^n)`, and `test_mse_theory_distinct` the theory at that many samples (for
    noiseless labels the better prediction once draws repeat; see the module docstring).

    Target modes (C,): the chosen eigenmodes, or for a label every spectrum level that carries
    some of its variance (largest share first). `mode_example` is a bit mask `S` (bit `i`: `x_i` in
    the monomial; for a label the `S` of that level with the largest coefficient), with
    `mode_frequency = |S|`, `mode_spread`, `mode_eigenvalue`, `mode_power` (the target's variance
    on that mode or level; they sum to 1) and `mode_count` (how many monomials carry it).

    Spectrum levels (L,), as on the Eigenstructure page: `level_eigenvalue` (rounding noise set to
    0), `level_frequency`, `level_spread`, `level_multiplicity`, `level_example`; `rank` the number
    of nonzero eigenvalues and `diagonal` the kernel's `K(x, x)`.

    Measured, at `sizes_measured` (N,): `test_mse_measured[s, j]`, `train_mse_measured[s, j]` and
    `distinct_measured[s, j]` (distinct training points) for seed `s`; `test_mse_theory_measured`,
    `train_mse_theory_measured` and `test_mse_theory_distinct_measured` (N,) the theory at the same
    sizes; `relative_error` (N,) is `mean_s(test_mse_measured) / test_mse_theory_measured - 1`.
    """
    spec: TheorySpec
    layers: list
    spread_kind: str
    diagonal: float
    rank: float
    sizes_theory: np.ndarray
    test_mse_theory: np.ndarray
    train_mse_theory: np.ndarray
    kappa: np.ndarray
    e0: np.ndarray
    distinct_theory: np.ndarray
    test_mse_theory_distinct: np.ndarray
    mode_example: np.ndarray
    mode_frequency: np.ndarray
    mode_spread: np.ndarray
    mode_eigenvalue: np.ndarray
    mode_power: np.ndarray
    mode_count: np.ndarray
    mode_learnability: np.ndarray
    level_eigenvalue: np.ndarray
    level_frequency: np.ndarray
    level_spread: np.ndarray
    level_multiplicity: np.ndarray
    level_example: np.ndarray
    level_learnability: np.ndarray
    sizes_measured: np.ndarray
    test_mse_measured: np.ndarray
    train_mse_measured: np.ndarray
    distinct_measured: np.ndarray
    test_mse_theory_measured: np.ndarray
    train_mse_theory_measured: np.ndarray
    test_mse_theory_distinct_measured: np.ndarray
    relative_error: np.ndarray


def half_learned(view: TheoryView, fraction: float = 0.5) -> np.ndarray:
    """`(C,)`: for each target mode, the predicted n at which its learnability `L_c(n)` first
    reaches `fraction`, interpolated linearly in log n between the theory's sizes; NaN when it
    does not within `view.sizes_theory`.

    Learnability is `lambda_c / (lambda_c + kappa(n))`, so a mode is half learned when the
    effective ridge `kappa(n)` falls to its eigenvalue: the ratio of two modes' half-learned n is
    not the ratio of their eigenvalues (`kappa(n)` is not a power law in n)."""
    n = np.asarray(view.sizes_theory, dtype=np.float64)
    out = np.full(view.mode_learnability.shape[1], np.nan)
    for c in range(len(out)):
        curve = view.mode_learnability[:, c]
        above = np.flatnonzero(curve >= fraction)
        if not len(above):
            continue
        j = int(above[0])
        if j == 0:
            out[c] = n[0]
            continue
        t = (fraction - curve[j - 1]) / (curve[j] - curve[j - 1])
        out[c] = float(np.exp(np.log(n[j - 1]) + t * (np.log(n[j]) - np.log(n[j - 1]))))
    return out


def level_of(spectrum: spectra.HypercubeSpectrum) -> np.ndarray:
    """The level (index into `spectrum.levels`) of every set `S`, shape `(2^d,)`: the level of
    `S`'s frequency and spread whose eigenvalue is nearest `lam[S]` (levels of one frequency and
    spread are more than `LEVEL_RTOL` apart, members within it)."""
    d, levels = spectrum.d, spectrum.levels
    key = spectrum.frequency.astype(np.int64) * (d + 1) + spectrum.spread
    level_key = levels.frequency.astype(np.int64) * (d + 1) + levels.spread
    out = np.empty(len(key), dtype=np.int64)
    order = np.argsort(key, kind="stable")
    groups, starts = np.unique(key[order], return_index=True)
    for group, lo, hi in zip(groups, starts, [*starts[1:], len(order)]):
        members = order[lo:hi]
        candidates = np.flatnonzero(level_key == group)
        values = levels.eigenvalue[candidates]
        gap = np.abs(spectrum.eigenvalues[members][:, None] - values[None, :])
        out[members] = candidates[np.argmin(gap, axis=1)]
    return out


def target_coefficients(spec: TheorySpec, spectrum: spectra.HypercubeSpectrum) -> tuple:
    """`(v, modes)`: the target's Walsh coefficients `v[S]` (unit variance) and, for a target of
    eigenmodes, the bit masks `S` chosen for them (the smallest example among the levels of each
    (frequency, spread))."""
    d = spec.d
    if spec.target != "modes":
        return locality.walsh_coefficients(spec.target, d, spec.k), None
    levels = spectrum.levels
    chosen = []
    for f, s in spec.modes:
        match = (levels.frequency == f) & (levels.spread == s)
        chosen.append(int(levels.example[match].min()))
    v = np.zeros(2 ** d)
    v[chosen] = 1.0 / math.sqrt(len(chosen))
    return v, np.array(chosen, dtype=np.int64)


@cached("kernel_theory.theory", normalise=normalise_theory, estimate=theory_seconds,
        memory=theory_bytes, budget_s=TIME_BUDGET_S,
        advice="choose a smaller n_max, fewer seeds or sizes, or a smaller d",
        memory_advice="choose a smaller n_max or a smaller d")
def theory(spec: TheorySpec, *, progress: Progress = None) -> TheoryView:
    """Eigenlearning's learning curve from the exact hypercube spectrum beside measured kernel
    regression (module docstring)."""
    layers = theory_layers(spec)
    sizes = spec.measured_sizes
    total = spec.seeds * len(sizes) + 1
    spectrum = spectra.hypercube_spectrum(layers, spec.d, kernel=spec.kernel)
    if progress is not None:
        progress(1, total)
    levels = spectrum.levels
    lam_levels = eigenlearning.clip_rounding(levels.eigenvalue, CLIP_RTOL)
    v, chosen = target_coefficients(spec, spectrum)
    members = level_of(spectrum)
    power = np.bincount(members, weights=v ** 2, minlength=len(lam_levels))

    n_theory = spec.theory_sizes
    grid = np.concatenate([n_theory, sizes.astype(np.float64)])
    grid = np.concatenate([grid, regression.expected_distinct(grid, spec.d)])
    curve = eigenlearning.predict(lam_levels, grid, ridge=spec.ridge,
                                  multiplicity=levels.multiplicity, target_power=power,
                                  noise=spec.noise)
    at, at_measured = slice(0, len(n_theory)), slice(len(n_theory), len(n_theory) + len(sizes))
    at_distinct = slice(len(n_theory) + len(sizes), len(n_theory) * 2 + len(sizes))
    at_distinct_measured = slice(len(n_theory) * 2 + len(sizes), None)
    level_learn = eigenlearning.learnability(lam_levels, log_kappa=curve.log_kappa[at])

    if chosen is not None:
        mode_level = members[chosen]
        examples, mode_power = chosen, np.full(len(chosen), 1.0 / len(chosen))
        count = np.ones(len(chosen), dtype=np.int64)
    else:
        carried = np.flatnonzero(power > 1e-12)
        mode_level = carried[np.argsort(-power[carried], kind="stable")]
        mode_power = power[mode_level]
        examples = np.empty(len(mode_level), dtype=np.int64)
        count = np.empty(len(mode_level), dtype=np.int64)
        for c, level in enumerate(mode_level):
            inside = np.flatnonzero(members == level)
            examples[c] = inside[np.argmax(np.abs(v[inside]))]
            count[c] = np.count_nonzero(np.abs(v[inside]) > 1e-12)

    row = spectra.walsh_hadamard(spectrum.eigenvalues)  # K(x_X, 1): the inverse transform
    measured = regression.hypercube_learning_curve(
        row, spec.d, v, sizes, seeds=spec.seeds, ridge=spec.ridge, noise=spec.noise, seed=0,
        progress=None if progress is None else (lambda done, _: progress(done + 1, total)))
    theory_measured = curve.test_mse[at_measured]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = measured.test_mse.mean(axis=0) / theory_measured - 1.0

    return TheoryView(
        spec=spec, layers=layers, spread_kind=spectrum.spread_kind,
        diagonal=float(spectrum.diagonal), rank=float(curve.rank),
        sizes_theory=n_theory, test_mse_theory=curve.test_mse[at],
        train_mse_theory=curve.train_mse[at],
        kappa=curve.kappa[at], e0=curve.e0[at], distinct_theory=grid[at_distinct],
        test_mse_theory_distinct=curve.test_mse[at_distinct],
        mode_example=np.asarray(examples, dtype=np.int64),
        mode_frequency=spectrum.frequency[examples].astype(np.int64),
        mode_spread=spectrum.spread[examples].astype(np.int64),
        mode_eigenvalue=lam_levels[mode_level], mode_power=np.asarray(mode_power),
        mode_count=count, mode_learnability=level_learn[:, mode_level],
        level_eigenvalue=lam_levels, level_frequency=levels.frequency.astype(np.int64),
        level_spread=levels.spread.astype(np.int64),
        level_multiplicity=levels.multiplicity.astype(np.int64),
        level_example=levels.example.astype(np.int64), level_learnability=level_learn,
        sizes_measured=sizes, test_mse_measured=measured.test_mse,
        train_mse_measured=measured.train_mse, distinct_measured=measured.distinct,
        test_mse_theory_measured=theory_measured,
        train_mse_theory_measured=curve.train_mse[at_measured],
        test_mse_theory_distinct_measured=curve.test_mse[at_distinct_measured],
        relative_error=relative)


DEFAULT_THEORY = TheorySpec()

# Presets are named after the paper's figure where one was read (docs/presets.md lists the figures,
# their sources and how each preset differs), else after the result; each preset's note has the gist.
PRESETS = Presets(
    Preset(
        "Eigenlearning · local vs long-range mode of equal frequency (tree CNN)",
        DEFAULT_THEORY,
        "the eigenlearning prediction from the tree CNN's exact spectrum (Xiao 2022): a local mode "
        "of frequency 2 is learned long before a long-range one of the same frequency."),
    Preset(
        "Fig. 3 · Bordelon et al. 2020: learning curve of one pure mode (MLP)",
        TheorySpec(arch="mlp", depth=2, modes=((1, 0),)),
        "their Fig. 3 (a), (b): learning curves of wide networks and their NTK on pure modes, "
        "with the theory as solid lines. Here: kernel regression (no network) on one frequency-1 "
        "Walsh mode of the hypercube, not a spherical harmonic."),
    Preset(
        "Bordelon et al. 2020 · modes learned in order of frequency 1, 2, 3 (MLP)",
        TheorySpec(arch="mlp", depth=2, modes=((1, 0), (2, 1), (3, 2))),
        "their spectral principle: as n grows, kernel regression fits successively higher "
        "spectral modes of the target. Here: equal weights on frequencies 1, 2 and 3."),
    Preset(
        "Simon et al. 2023 · parity of 2 bits: the 2-local label (MLP)",
        TheorySpec(arch="mlp", depth=2, target="k_local", k=2),
        "their framework generalises a hardness result for the classic parity problem (stated in "
        "their abstract). On the hypercube the 2-local label is the parity x₀x₁ of two bits."),
    Preset(
        "Mori & Ueda's k-global label, k = 2 (MLP)",
        TheorySpec(arch="mlp", depth=2, target="k_global", k=2),
        "Mori & Ueda's k-global label, spread over frequencies 2, 4, ...: the theory predicts "
        "its kernel learning curve from the spectrum alone."),
    Preset(
        "Simon et al. 2023 · label noise and a ridge (MLP)",
        TheorySpec(arch="mlp", depth=2, modes=((1, 0), (2, 1)), noise=0.5, ridge=0.5),
        "the eigenlearning test error with label noise ε² = 0.5 and ridge δ = 0.5."),
)

WARM = [(theory, DEFAULT_THEORY)] + [(theory, spec) for spec in PRESETS.values()
                                     if spec != DEFAULT_THEORY]
