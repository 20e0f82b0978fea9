"""The Eigenstructure page's computations: exact kernel spectra on the hypercube and the sphere.

Two cached units, one per view:

* `hypercube(HypercubeSpec)`: the spectrum of an MLP, shallow CNN, deep tree CNN or tree LCN kernel
  on `{-1, 1}^d`, grouped into levels by frequency `|S|` and spatial spread of `S` (Xiao 2022). Walsh
  monomials are eigenfunctions unless pooling follows a weight-shared conv; then the spectrum comes
  from a dense eigendecomposition on small `d` and each eigenvalue is labelled by the Walsh
  frequency and spread that carry most of its eigenspace.
* `sphere(SphereSpec)`: Funk–Hecke eigenvalues `mu_k` of deep MLP NTK and NNGP kernels on
  `S^{d-1}` for depths `2..L` (counted in layers, as Bietti & Bach 2021 do), with decay exponents
  fitted over a window of `k` beside the predicted `-d` (NTK) and `-(d + 2)` (NNGP).

References:
    Xiao, "Eigenspace Restructuring: a Principle of Space and Frequency in Neural Networks",
    COLT 2022, arXiv:2112.05611.
    Bietti & Bach, "Deep Equals Shallow for ReLU Networks in Kernel Regimes", ICLR 2021,
    arXiv:2009.14397.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from engine import guard, spectra
from engine.cache import Progress, cached
from engine.kernels import kernel_plan
from engine.presets import Preset, Presets
from engine.specs import ACTIVATIONS, mlp, parse_layers, tree_cnn, tree_lcn

ARCHITECTURES = {
    "mlp": "MLP",
    "shallow_cnn": "Shallow CNN",
    "tree_cnn": "Deep tree CNN",
    "tree_lcn": "Tree LCN",
}
KERNELS = {"ntk": "NTK", "nngp": "NNGP"}
READOUTS = {"flatten": "Flatten", "global_avg_pool": "Global average pool"}

D_MAX = 20
"""Largest d on the hypercube through the Walsh–Hadamard route (2^20 eigenvalues)."""
D_MAX_DENSE = 10
"""Largest d for the dense route (a 2^d x 2^d eigendecomposition, and a pooled kernel over all
2^{2d} pairs of points)."""
DEPTH_MAX = 6
"""Largest MLP depth (hidden layers) and shallow CNN head depth."""
STD_MAX = 4.0
ADVICE = "choose a smaller d"


def tree_filters_for(d: int, filter_size: int) -> tuple[int, ...]:
    """The patch tree of a tree network on `d` inputs with patches of `filter_size` where it can:
    `filter_size` as often as it divides `d`, then the prime factors of what is left (smallest
    first), so every `d >= 2` has a tree: `(2, 2, 2, 2)` for 16, `(2, 2, 5)` for 20 at filter 2,
    `(4, 5)` for 20 at filter 4, `(13,)` for 13."""
    filters, rest = [], d
    if filter_size >= 2:
        while rest % filter_size == 0 and rest > 1:
            filters.append(filter_size)
            rest //= filter_size
    p = 2
    while rest > 1:
        while rest % p == 0:
            filters.append(p)
            rest //= p
        p += 1
    return tuple(filters)


@dataclasses.dataclass(frozen=True)
class HypercubeSpec:
    """One view of the hypercube spectrum.

    `depth` is the number of hidden layers of an MLP, or of the dense head above a shallow CNN's
    one conv layer (so `depth = 1` is conv, activation, readout); a tree network's depth follows
    from `d` and `filter_size` (`tree_filters_for`). `readout` applies to the shallow CNN (a tree
    ends in one position, where pooling and flattening agree).
    """
    arch: str = "tree_cnn"
    d: int = guard.bounded(12, 2, D_MAX, label="Input dimension d")
    depth: int = guard.bounded(3, 1, DEPTH_MAX, label="Depth (hidden layers)")
    filter_size: int = 2
    readout: str = "flatten"
    activation: str = "relu"
    w_std: float = guard.bounded(1.0, 0.0, STD_MAX, open_low=True, label="Weight std σ_w")
    b_std: float = guard.bounded(0.0, 0.0, STD_MAX, label="Bias std σ_b")
    kernel: str = "ntk"


def hypercube_layers(spec: HypercubeSpec) -> list[dict]:
    """The layer list a `HypercubeSpec` describes (`ValueError` with a sentence if it cannot be)."""
    common = dict(activation=spec.activation, w_std=spec.w_std, b_std=spec.b_std)
    if spec.arch == "mlp":
        return mlp(spec.depth, **common)
    if spec.arch == "shallow_cnn":
        if not 2 <= spec.filter_size <= spec.d:
            raise ValueError(f"The filter size must be between 2 and d = {spec.d}; "
                             f"got {spec.filter_size}.")
        conv = {"layer": "conv", "filter_size": spec.filter_size, "stride": 1,
                "padding": "circular", "w_std": spec.w_std, "b_std": spec.b_std}
        dense = {"layer": "dense", "w_std": spec.w_std, "b_std": spec.b_std}
        layers = [conv, {"layer": spec.activation}, {"layer": spec.readout}]
        layers += [dense, {"layer": spec.activation}] * (spec.depth - 1) + [dense]
        parse_layers(layers)
        return layers
    build = tree_cnn if spec.arch == "tree_cnn" else tree_lcn
    return build(spec.d, tree_filters_for(spec.d, spec.filter_size), readout=spec.readout, **common)


def normalise_hypercube(spec: HypercubeSpec) -> HypercubeSpec:
    """Validate a hypercube view and reset the fields it ignores, before any work."""
    if not isinstance(spec, HypercubeSpec):
        raise ValueError("Expected a HypercubeSpec.")
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture {spec.arch!r}; choose one of "
                         f"{', '.join(ARCHITECTURES)}.")
    if spec.kernel not in KERNELS:
        raise ValueError(f"Unknown kernel {spec.kernel!r}; choose 'ntk' or 'nngp'.")
    if spec.activation not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {spec.activation!r}; choose one of "
                         f"{', '.join(ACTIVATIONS)}.")
    if spec.readout not in READOUTS:
        raise ValueError(f"Unknown readout {spec.readout!r}; choose 'flatten' or 'global_avg_pool'.")
    spec = guard.check_types(spec)
    low, high = guard.field_range(spec, "d")
    if not low <= spec.d <= high:
        raise ValueError(f"d = {spec.d} is out of range: choose d from {low} to {high} (2^d "
                         "eigenvalues).")
    low, high = guard.field_range(spec, "depth")
    if not low <= spec.depth <= high:
        raise ValueError(f"Depth {spec.depth} is out of range: choose {low} to {high}.")
    if spec.w_std == 0:
        raise ValueError("`w_std` must be positive: with zero weights the kernel is constant.")
    guard.check_ranges(spec)
    changes: dict = {"w_std": float(spec.w_std), "b_std": float(spec.b_std)}
    if spec.arch == "mlp":
        changes.update(filter_size=0, readout="flatten")
    elif spec.arch in ("tree_cnn", "tree_lcn"):
        if not 2 <= spec.filter_size <= spec.d:
            raise ValueError(f"The filter size must be between 2 and d = {spec.d}; "
                             f"got {spec.filter_size}.")
        # The top of a tree is one position that sees the whole input: both readouts agree.
        changes.update(depth=1, readout="flatten")
    spec = dataclasses.replace(spec, **changes)
    layers = hypercube_layers(spec)
    if not spectra.walsh_diagonal(layers, spec.d) and spec.d > D_MAX_DENSE:
        raise ValueError(f"Pooling after a weight-shared conv mixes positions, so Walsh monomials "
                         f"are not eigenfunctions and the spectrum needs a dense "
                         f"eigendecomposition of a 2^d x 2^d matrix: choose d <= {D_MAX_DENSE}, "
                         f"or the flatten readout (or a tree LCN) for d up to {D_MAX}.")
    return spec


def spectrum_bytes(layers, d: int) -> int:
    """Peak bytes of `engine.spectra.hypercube_spectrum` on `{-1, 1}^d` (the Walsh route), from what
    it allocates for its `N = 2^d` points:

    * the kernel row (8N) while blocks of `b` points are evaluated: two blocks in flight, each
      `kernel_plan`'s working set (`block_bytes`) and its points in int64 and float64 (24 b d);
    * the Walsh–Hadamard transform in place, with a buffer of half the row (4N);
    * every set's frequency (uint32 masks, counts, int8: 6N) and spread (`spatial_spread`: int64
      masks, their float32 and int32 bit positions and temporaries; for a cyclic span, each of
      the d rotations of the masks: at most about 60N);
    * grouping into levels (`_group`): the negated eigenvalues, lexsort's order and sorted copies
      (about 40N), beside the eigenvalues, frequencies and spreads the result keeps (10N).

    At most 80 bytes a point, plus the blocks."""
    plan = kernel_plan(layers, d, 2 ** d, 1)
    return 80 * 2 ** d + 2 * (plan.block_bytes + 24 * plan.block[0] * d)


def dense_bytes(layers, d: int) -> int:
    """Peak bytes of `engine.spectra.hypercube_eigensystem_dense` (`N = 2^d`): the points (24 N d
    while they are built), the kernel's two `N x N` outputs and its blocks (`kernel_plan`), then
    `numpy.linalg.eigh` of the Gram matrix: the matrix, LAPACK's copy of it, the eigenvectors and
    a workspace of two more (5 N^2 float64); the frequency and spread profiles are `(d + 1) x N`."""
    n = 2 ** d
    plan = kernel_plan(layers, d, n)
    return max(plan.memory_bytes + 24 * n * d, 5 * 8 * n * n) + 8 * (d + 1) * n + 80 * n


def hypercube_bytes(spec: HypercubeSpec) -> int:
    """Estimated peak memory of a (normalised) hypercube view: `spectrum_bytes` on the Walsh
    route, `dense_bytes` on the dense one, plus `guard.RUNTIME_BYTES`."""
    layers = hypercube_layers(spec)
    route = spectrum_bytes if spectra.walsh_diagonal(layers, spec.d) else dense_bytes
    return guard.RUNTIME_BYTES + route(layers, spec.d)


@dataclasses.dataclass(frozen=True)
class HypercubeView:
    """The levels of a hypercube spectrum, ready to draw.

    Level `j` has eigenvalue `eigenvalue[j]` with multiplicity `multiplicity[j]`, at Walsh frequency
    `frequency[j]` and spread `spread[j]`; `example[j]` is the smallest bit mask `S` in it (-1 on
    the dense route, where an eigenspace is a mix of monomials and `purity[j]` is the share of
    its energy at the labelled frequency). `trace_by_frequency[k]` is the sum of the eigenvalues
    of frequency `k` (times multiplicity); their total is `diagonal`, the kernel's `K(x, x)`.
    """
    spec: HypercubeSpec
    layers: list
    route: str
    spread_kind: str
    eigenvalue: np.ndarray
    multiplicity: np.ndarray
    frequency: np.ndarray
    spread: np.ndarray
    example: np.ndarray
    purity: np.ndarray
    trace_by_frequency: np.ndarray
    diagonal: float

    @property
    def d(self) -> int:
        return self.spec.d


ROUTE_FWHT = "Walsh–Hadamard transform of one kernel row"
ROUTE_DENSE = "dense eigendecomposition of the 2^d x 2^d kernel matrix"


@cached("eigenstructure.hypercube", normalise=normalise_hypercube, memory=hypercube_bytes,
        advice=ADVICE)
def hypercube(spec: HypercubeSpec, *, progress: Progress = None) -> HypercubeView:
    """The hypercube spectrum of one architecture, grouped into levels (Xiao 2022)."""
    layers = hypercube_layers(spec)
    if not spectra.walsh_diagonal(layers, spec.d):
        dense = spectra.hypercube_eigensystem_dense(layers, spec.d, kernel=spec.kernel)
        return _dense_view(spec, layers, dense)
    result = spectra.hypercube_spectrum(layers, spec.d, kernel=spec.kernel, progress=progress)
    levels = result.levels
    return HypercubeView(
        spec=spec, layers=layers, route=ROUTE_FWHT, spread_kind=result.spread_kind,
        eigenvalue=np.asarray(levels.eigenvalue), multiplicity=np.asarray(levels.multiplicity),
        frequency=np.asarray(levels.frequency), spread=np.asarray(levels.spread),
        example=np.asarray(levels.example), purity=np.ones(len(levels.eigenvalue)),
        trace_by_frequency=np.asarray(result.trace_by_frequency), diagonal=float(result.diagonal))


def _dense_view(spec, layers, dense) -> HypercubeView:
    return HypercubeView(
        spec=spec, layers=layers, route=ROUTE_DENSE, spread_kind=dense.spread_kind,
        eigenvalue=np.asarray(dense.level_eigenvalue), multiplicity=np.asarray(dense.multiplicity),
        frequency=np.asarray(dense.dominant_frequency), spread=np.asarray(dense.dominant_spread),
        example=np.full(len(dense.level_eigenvalue), -1), purity=np.asarray(dense.purity),
        trace_by_frequency=np.asarray(dense.trace_by_frequency), diagonal=float(dense.diagonal))


# ---------------------------------------------------------------------------------------- sphere
SPHERE_D_MAX = 12
SPHERE_LAYERS_MAX = 6
SPHERE_K_MAX = 400
SPHERE_ACTIVATIONS = ("relu", "erf", "gelu")
ACCURATE_FLOOR = 1e-10
"""Eigenvalues below this fraction of `mu_0` are not used in fits (the quadrature is checked to
1e-5 relative down to here)."""


@dataclasses.dataclass(frozen=True)
class SphereSpec:
    """One view of the sphere spectra: depths `2..layers` (layers = hidden layers + 1)."""
    d: int = guard.bounded(3, 2, SPHERE_D_MAX, label="Input dimension d (sphere in R^d)")
    layers: int = guard.bounded(5, 2, SPHERE_LAYERS_MAX, label="Deepest network L (layers)")
    activation: str = "relu"
    b_std: float = guard.bounded(0.0, 0.0, STD_MAX, label="Bias std σ_b")
    k_max: int = guard.bounded(200, 8, SPHERE_K_MAX, label="Largest degree k")
    fit_from: int = 20


def normalise_sphere(spec: SphereSpec) -> SphereSpec:
    if not isinstance(spec, SphereSpec):
        raise ValueError("Expected a SphereSpec.")
    spec = guard.check_types(spec)
    low, high = guard.field_range(spec, "d")
    if not low <= spec.d <= high:
        raise ValueError(f"d = {spec.d} is out of range: choose d from {low} to {high}.")
    low, high = guard.field_range(spec, "layers")
    if not low <= spec.layers <= high:
        raise ValueError(f"Choose the deepest network between {low} and {high} layers.")
    if spec.activation not in SPHERE_ACTIVATIONS:
        raise ValueError(f"Choose the activation among {', '.join(SPHERE_ACTIVATIONS)}.")
    low, high = guard.field_range(spec, "k_max")
    if not low <= spec.k_max <= high:
        raise ValueError(f"k_max = {spec.k_max} is out of range: choose {low} to {high}.")
    if not 1 <= spec.fit_from < spec.k_max:
        raise ValueError(f"The fit window must start between 1 and k_max - 1 = {spec.k_max - 1}.")
    return guard.check_ranges(spec)


def sphere_bytes(spec: SphereSpec) -> int:
    """Estimated peak memory of a (normalised) sphere view: for the deepest network, the kernel
    between one point and the quadrature's `nodes` points (`kernel_plan`), the points, kernel
    values, weights and the three Gegenbauer polynomials of the recurrence (about ten arrays of
    `nodes` float64, the points `d` times that), plus `guard.RUNTIME_BYTES`. A few MiB at most: the
    runtime dominates."""
    nodes = spectra.default_sphere_nodes(spec.d, spec.k_max)
    plan = kernel_plan(mlp(spec.layers - 1, activation=spec.activation, b_std=spec.b_std),
                       spec.d, 1, nodes)
    return guard.RUNTIME_BYTES + plan.memory_bytes + 8 * nodes * (spec.d + 10)


@dataclasses.dataclass(frozen=True)
class SphereView:
    """`mu[kernel][i, k]`: eigenvalue of degree `k` for the network of `depths[i]` layers;
    `slope[kernel][i]` the fitted exponent over `k` in `window[kernel][i]` (NaN when fewer than
    three usable points); `predicted[kernel]` Bietti & Bach's exponent for ReLU."""
    spec: SphereSpec
    k: np.ndarray
    depths: np.ndarray
    multiplicity: np.ndarray
    mu: dict
    slope: dict
    window: dict
    predicted: dict


@cached("eigenstructure.sphere", normalise=normalise_sphere, memory=sphere_bytes,
        advice="choose a smaller d or k_max")
def sphere(spec: SphereSpec, *, progress: Progress = None) -> SphereView:
    """Funk–Hecke spectra of deep MLP kernels on the sphere (Bietti & Bach 2021)."""
    depths = np.arange(2, spec.layers + 1)
    k = np.arange(spec.k_max + 1)
    mu = {kernel: np.zeros((len(depths), len(k))) for kernel in KERNELS}
    slope = {kernel: np.full(len(depths), np.nan) for kernel in KERNELS}
    window = {kernel: np.zeros((len(depths), 2), dtype=int) for kernel in KERNELS}
    total = len(depths) * len(KERNELS)
    for i, depth in enumerate(depths):
        layers = mlp(int(depth) - 1, activation=spec.activation, b_std=spec.b_std)
        for j, kernel in enumerate(KERNELS):
            mu[kernel][i] = spectra.sphere_eigenvalues(layers, spec.d, spec.k_max, kernel=kernel)
            lo, hi = _fit_window(mu[kernel][i], spec.fit_from)
            window[kernel][i] = (lo, hi)
            if hi - lo >= 2:
                slope[kernel][i] = spectra.decay_exponent(k, mu[kernel][i], lo, hi)
            if progress:
                progress(i * len(KERNELS) + j + 1, total)
    predicted = {kernel: float(spectra.predicted_exponent(kernel, spec.d)) for kernel in KERNELS}
    multiplicity = np.array([spectra.harmonic_dimension(spec.d, int(j)) for j in k], dtype=float)
    return SphereView(spec=spec, k=k, depths=depths, multiplicity=multiplicity, mu=mu, slope=slope,
                      window=window, predicted=predicted)


def _fit_window(mu: np.ndarray, fit_from: int) -> tuple[int, int]:
    """`[fit_from, last k whose eigenvalue is above ACCURATE_FLOOR * mu_0]`."""
    accurate = np.nonzero(np.abs(mu) >= ACCURATE_FLOOR * abs(mu[0]))[0]
    hi = int(accurate.max()) if len(accurate) else 0
    return fit_from, max(hi, fit_from)


DEFAULT_HYPERCUBE = HypercubeSpec()
DEFAULT_SPHERE = SphereSpec()

# Presets are named after the paper's result (no figure of these spectra was found: see
# docs/presets.md); each preset's note has the gist of each.
HYPERCUBE_PRESETS = Presets(
    Preset(
        "Xiao 2022 · MLP: one eigenvalue per frequency |S|",
        HypercubeSpec(arch="mlp", d=12, depth=3),
        "an MLP kernel's eigenvalue on the hypercube depends only on the frequency |S| of the "
        "Walsh monomial x_S. Here: ReLU MLP NTK, 3 hidden layers, d = 12."),
    Preset(
        "Xiao 2022 · deep tree CNN: each frequency split by space",
        HypercubeSpec(arch="tree_cnn", d=12, filter_size=2),
        "eigenspace restructuring: a hierarchical CNN splits each frequency by the spatial spread "
        "of S, so local high-frequency modes can outrank long-range ones. Here: tree CNN with "
        "filter 2, d = 12."),
    Preset(
        "Xiao 2022 · shallow CNN: modes wider than a patch damped",
        HypercubeSpec(arch="shallow_cnn", d=12, filter_size=3, depth=2),
        "one conv layer (filter 3) under a dense head: modes spread wider than a patch are damped."),
    Preset(
        "Xiao 2022 · deep tree CNN at d = 20 (2²⁰ eigenvalues)",
        HypercubeSpec(arch="tree_cnn", d=20, filter_size=2),
        "the tree CNN at d = 20: a million eigenvalues from one kernel row by a fast "
        "Walsh–Hadamard transform."),
    Preset(
        "Control · pooled shallow CNN (dense eigendecomposition)",
        HypercubeSpec(arch="shallow_cnn", d=8, filter_size=3, depth=1, readout="global_avg_pool"),
        "our control, not from the paper: global average pooling mixes positions, so the 2^d × "
        "2^d kernel matrix is diagonalised densely (d = 8)."),
)
SPHERE_PRESETS = Presets(
    Preset(
        "Bietti & Bach 2021 · deep = shallow decay (ReLU, d = 3, depths 2–5)",
        SphereSpec(),
        "the ReLU NTK's eigenvalues decay as k^−d at every depth (the random-feature kernel's as "
        "k^−(d+2)); depth changes only the constant. Here: d = 3, depths 2 to 5, fitted slopes."),
    Preset(
        "Bietti & Bach 2021 · with a bias both parities decay (ReLU, d = 4)",
        SphereSpec(d=4, b_std=0.5, k_max=100, fit_from=10),
        "without a bias the two-layer kernels have μ_k = 0 for odd k ≥ 3; a bias (or depth ≥ 3) "
        "makes both parities decay at the same rate. Here: d = 4, bias std 0.5."),
    Preset(
        "Bietti & Bach 2021 · smooth activation (erf) decays faster",
        SphereSpec(activation="erf", k_max=60, fit_from=10),
        "the decay is read off the kernel's regularity at t = ±1: a kernel smooth there (erf) "
        "decays faster than any power of k."),
)

WARM = ([(hypercube, DEFAULT_HYPERCUBE)]
        + [(hypercube, spec) for spec in HYPERCUBE_PRESETS.values()]
        + [(hypercube, dataclasses.replace(spec, kernel="nngp"))
           for spec in [DEFAULT_HYPERCUBE, *HYPERCUBE_PRESETS.values()]]
        + [(sphere, DEFAULT_SPHERE)] + [(sphere, spec) for spec in SPHERE_PRESETS.values()])
