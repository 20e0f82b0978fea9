"""The hypercube `{-1, +1}^d` and its Walsh basis: points, frequencies, the fast transform.

Point `X` (a bit mask) has `x_i = 1 - 2 bit_i(X)`; the Walsh monomial `chi_S(x) = prod_{i in S} x_i`
of a set `S` (a bit mask: bit `i` set means `i in S`) takes the value `(-1)^popcount(S & X)` at
point `X`. Every function on the cube is a sum of monomials, and a kernel invariant under the cube's
symmetries is diagonal in them, so one kernel row and one fast Walsh–Hadamard transform give its
whole spectrum (`engine.spectra`), and one transform gives a predictor's population error
(`engine.regression`) or a label's coefficients (`engine.locality`).

Reference: O'Donnell (2014), "Analysis of Boolean Functions", Cambridge University Press, ch. 1.
"""

from __future__ import annotations

import numpy as np

from engine.guard import whole

__all__ = ["MAX_D", "check_cube_d", "hypercube_points", "point_rows", "walsh_frequency",
           "walsh_hadamard", "walsh_hadamard_inplace"]

MAX_D = 24
"""Largest `d` on the Walsh route: 2^24 eigenvalues are 128 MiB of float64."""


def _gib(log2_bytes: int) -> str:
    """`2^log2_bytes` bytes in GiB for a message, never computing the power for a huge exponent
    (a hostile `d = 10^30` must not build a 10^30-bit integer)."""
    return f"{2.0 ** (log2_bytes - 30):,.1f} GiB" if log2_bytes < 100 else f"2^{log2_bytes - 30} GiB"


def check_cube_d(d, most: int = MAX_D, route: str = "") -> int:
    """`d` as an int from 1 to `most`, or `ValueError` with the memory it would take (a dense
    `route` diagonalises a 2^d x 2^d matrix)."""
    d = whole(d, "d", 1)
    if d > most:
        if d.bit_length() > 40:  # a hostile d (10^302 from a float): its digits are no sentence
            raise ValueError(f"d = 2^{d.bit_length() - 1} or more is far too large: the hypercube "
                             f"{{-1, 1}}^d has 2^d points; choose d <= {most}.")
        if most == MAX_D:
            raise ValueError(f"d = {d} gives 2^{d} eigenvalues ({_gib(d + 3)} as float64, "
                             f"and as many kernel evaluations); choose d <= {MAX_D}.")
        raise ValueError(f"d = {d} is too large for {route}: it diagonalises a 2^{d} x 2^{d} "
                         f"matrix ({_gib(2 * d + 3)}); "
                         "choose "
                         f"d <= {most}, or use hypercube_eigenvalues where Walsh monomials are "
                         "eigenfunctions (no pooling after a weight-shared conv).")
    return d


def hypercube_points(d: int) -> np.ndarray:
    """All `2^d` points of `{-1, +1}^d` in bit order: row `X` has `x_i = 1 - 2 * bit_i(X)`.

    >>> hypercube_points(2)
    array([[ 1.,  1.],
           [-1.,  1.],
           [ 1., -1.],
           [-1., -1.]])
    """
    d = check_cube_d(d)
    return point_rows(np.arange(2 ** d), d)


def point_rows(index: np.ndarray, d: int) -> np.ndarray:
    """Rows of the hypercube for the point indices `index` (bits past `d` are ignored)."""
    bits = (index[:, None] >> np.arange(d)) & 1
    return 1.0 - 2.0 * bits


def walsh_frequency(d: int) -> np.ndarray:
    """`|S|` (the number of set bits) of every bit mask `S = 0 .. 2^d - 1`, as `int8`.

    >>> walsh_frequency(3)
    array([0, 1, 1, 2, 1, 2, 2, 3], dtype=int8)
    """
    d = check_cube_d(d)
    return np.bitwise_count(np.arange(2 ** d, dtype=np.uint32)).astype(np.int8)


def walsh_hadamard(values) -> np.ndarray:
    """Unnormalised Walsh–Hadamard transform along the first axis, natural (Sylvester) order:

        out[S] = sum_X values[X] (-1)^popcount(S & X),

    i.e. `scipy.linalg.hadamard(2^d) @ values`, in O(d 2^d) by butterflies. Returns a new float64
    array; the length of the first axis must be a power of two. Applying it twice multiplies by
    `2^d`.

    >>> walsh_hadamard([1.0, 2.0, 3.0, 4.0])
    array([10., -2., -4.,  0.])
    """
    a = np.array(values, dtype=np.float64)
    if a.ndim == 0 or a.shape[0] < 1 or a.shape[0] & (a.shape[0] - 1):
        raise ValueError(f"walsh_hadamard needs a first axis whose length is a power of two, got "
                         f"shape {a.shape}.")
    return walsh_hadamard_inplace(a)


def walsh_hadamard_inplace(a: np.ndarray) -> np.ndarray:
    """The butterflies of `walsh_hadamard`, overwriting `a` (float64, length 2^d on axis 0)."""
    n, rest = a.shape[0], a.shape[1:]
    buffer = np.empty((n // 2,) + rest)
    h = 1
    while h < n:
        # Pairs (X, X + h) with bit log2(h) of X clear: the sum goes to X, the difference to X + h.
        pairs = a.reshape((n // (2 * h), 2, h) + rest)
        low, high = pairs[:, 0], pairs[:, 1]
        diff = buffer.reshape((n // (2 * h), h) + rest)
        np.subtract(low, high, out=diff)
        low += high
        high[...] = diff
        h *= 2
    return a
