"""k-local and k-global labels (Mori & Ueda 2022, reconstructed), on the hypercube or Gaussian inputs.

With `d` input features and `k` (the label's order):

* k-local:  `y = prod_{i < k} sign(x_i)`, a function of the first `k` neighbouring features;
* k-global: `y = prod_{j < k} sign(sum_{i in B_j} x_i)`, the `k` contiguous blocks `B_j` of
  `m = d / k` features each covering the whole input; a block sum of exactly 0 (possible on the
  hypercube when `m` is even) takes the sign of the block's first feature, so every label is +-1
  and flipping all of a block's features flips it.

Inputs are uniform on `{-1, +1}^d` (default) or `N(0, I_d)`. On the hypercube the k-local label is
the single Walsh monomial `chi_S`, `S = {0..k-1}`, and the k-global label spreads over the
monomials whose sets meet every block in an odd number of coordinates (the products of the blocks'
majority expansions). Under `N(0, I_d)` the two labels are rotations of one another (both are
`prod_j sign(<w_j, x>)` with `k` orthonormal `w_j`), so a rotation-equivariant learner (an MLP
trained from an isotropic Gaussian initialisation, or an MLP kernel) scores them identically;
on the hypercube only the permutations and sign flips of coordinates are symmetries, and the two
labels differ in Walsh frequency, hence in how fast a kernel learns them.

References:
    Mori & Ueda, "Interplay between depth of neural networks and locality of target functions",
    arXiv:2201.12082 (2022); "Is deeper better? It depends on locality of relevant features",
    arXiv:2005.12488 (2020).
"""

from __future__ import annotations

import numpy as np

from engine.walsh import hypercube_points, walsh_hadamard

LABELS = {"k_local": "k-local: ∏_{i<k} sign(x_i)",
          "k_global": "k-global: ∏_{j<k} sign(Σ_{i∈B_j} x_i)"}
INPUTS = {"hypercube": "uniform on {−1, +1}^d", "gaussian": "Gaussian N(0, I_d)"}


def check_order(d: int, k: int) -> None:
    """Refuse an order `k` the labels cannot have on `d` features, with what to change."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d must be a positive whole number, got {d!r}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= d:
        raise ValueError(f"k must be a whole number from 1 to d = {d}, got {k!r}.")
    if d % k:
        divisors = ", ".join(str(j) for j in range(1, d + 1) if d % j == 0)
        raise ValueError(f"The k-global label splits the d = {d} features into k equal blocks, so "
                         f"k must divide d; choose k among {divisors}.")


def sample_inputs(distribution: str, d: int, n: int, *, seed: int, leading: tuple = ()) -> np.ndarray:
    """`x` of shape `(*leading, n, d)`, float64, from `distribution` ("hypercube": independent
    uniform signs; "gaussian": `N(0, I)`) by numpy's PCG64 seeded with `seed`."""
    rng = np.random.default_rng(seed)
    shape = (*leading, n, d)
    if distribution == "hypercube":
        return 1.0 - 2.0 * rng.integers(0, 2, size=shape)
    if distribution == "gaussian":
        return rng.standard_normal(shape)
    raise ValueError(f"Unknown input distribution {distribution!r}; choose one of "
                     f"{', '.join(INPUTS)}.")


def _sign(values: np.ndarray, tie: np.ndarray) -> np.ndarray:
    return np.where(values > 0, 1.0, np.where(values < 0, -1.0, np.sign(tie)))


def label(kind: str, x, k: int) -> np.ndarray:
    """The k-local or k-global label (module docstring) of inputs `x` of shape `(..., d)`: +-1,
    float64."""
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    check_order(d, k)
    if kind == "k_local":
        return np.prod(_sign(x[..., :k], np.ones_like(x[..., :k])), axis=-1)
    if kind == "k_global":
        blocks = x.reshape(*x.shape[:-1], k, d // k)
        return np.prod(_sign(blocks.sum(-1), blocks[..., 0]), axis=-1)
    raise ValueError(f"Unknown label {kind!r}; choose one of {', '.join(LABELS)}.")


def walsh_coefficients(kind: str, d: int, k: int) -> np.ndarray:
    """Coefficients `v_S = E_x[y(x) chi_S(x)]` of the label on the uniform hypercube, indexed by
    bit mask `S` as in `engine.walsh` (bit `i` set: `i in S`; a point with bit `i` set has
    `x_i = -1`), from one Walsh–Hadamard transform of the labels of all `2^d` points; float64,
    shape `(2^d,)`, with `sum_S v_S^2 = 1` (the labels are +-1)."""
    return walsh_hadamard(label(kind, hypercube_points(d), k)) / 2.0 ** d
