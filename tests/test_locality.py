"""k-local and k-global labels (Mori & Ueda, reconstructed): their Walsh expansions on the cube,
the tie rule, the Gaussian rotation, and what an MLP kernel makes of them."""

import numpy as np
import pytest

from engine import eigenlearning, locality, regression, spectra
from engine.specs import mlp


def _blocks_hit_oddly(d: int, k: int) -> np.ndarray:
    """For every bit mask S: does S meet each of the k blocks of d / k coordinates an odd number
    of times?"""
    masks = np.arange(2 ** d)
    m = d // k
    odd = np.ones(2 ** d, dtype=bool)
    for j in range(k):
        block = ((1 << m) - 1) << (j * m)
        odd &= np.bitwise_count((masks & block).astype(np.uint32)) % 2 == 1
    return odd


@pytest.mark.parametrize("d,k", [(6, 1), (6, 3), (8, 2), (9, 3), (5, 5)])
def test_k_local_label_is_one_monomial(d, k):
    v = locality.walsh_coefficients("k_local", d, k)
    expected = np.zeros(2 ** d)
    expected[(1 << k) - 1] = 1.0  # chi_{0..k-1}: +1 exactly
    np.testing.assert_allclose(v, expected, atol=1e-15)


@pytest.mark.parametrize("d,k", [(6, 1), (6, 2), (6, 3), (8, 2), (8, 4), (9, 3), (10, 2)])
def test_k_global_label_lives_on_sets_meeting_every_block_oddly(d, k):
    v = locality.walsh_coefficients("k_global", d, k)
    assert np.sum(v ** 2) == pytest.approx(1.0, abs=1e-12)  # labels are +-1
    odd = _blocks_hit_oddly(d, k)
    assert np.abs(v[~odd]).max() < 1e-14
    # Every block function is odd and depends on all its coordinates, so the label's lowest
    # frequency is k (one coordinate per block), with the weight of a product of majorities.
    frequency = spectra.walsh_frequency(d)
    assert np.abs(v[frequency < k]).max() < 1e-14 and np.sum(v[frequency == k] ** 2) > 0.3


@pytest.mark.parametrize("kind", list(locality.LABELS))
@pytest.mark.parametrize("distribution", list(locality.INPUTS))
def test_labels_are_signs(kind, distribution):
    x = locality.sample_inputs(distribution, 6, 500, seed=2)
    y = locality.label(kind, x, 3)
    assert y.shape == (500,) and set(np.unique(y)) == {-1.0, 1.0}


def test_tie_rule_for_even_blocks():
    """A block sum of exactly 0 takes the sign of the block's first feature, so flipping all of a
    block's features flips the label, at every point of the cube."""
    x = np.array([[1.0, -1.0, -1.0, 1.0], [-1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, -1.0]])
    np.testing.assert_array_equal(locality.label("k_global", x, 2), [-1.0, -1.0, 1.0])
    points = spectra.hypercube_points(8)
    y = locality.label("k_global", points, 2)
    for block in range(2):
        flipped = points.copy()
        flipped[:, 4 * block:4 * block + 4] *= -1
        np.testing.assert_array_equal(locality.label("k_global", flipped, 2), -y)


def test_gaussian_labels_are_rotations_of_one_another():
    """`prod_j sign(<u_j, x>)` with orthonormal u_j for both labels: an orthogonal Q with
    Q e_j = u_j (block indicators / sqrt(m)) maps the k-global label onto the k-local one."""
    d, k = 6, 2
    u = np.zeros((d, k))
    for j in range(k):
        u[j * 3:(j + 1) * 3, j] = 1 / np.sqrt(3)
    q, _ = np.linalg.qr(np.hstack([u, np.random.default_rng(0).standard_normal((d, d - k))]))
    q[:, :k] *= np.sign(np.sum(q[:, :k] * u, axis=0))  # QR may flip signs of the first columns
    x = locality.sample_inputs("gaussian", d, 1000, seed=4)
    np.testing.assert_array_equal(locality.label("k_global", x @ q.T, k),
                                  locality.label("k_local", x, k))


def test_sample_inputs():
    a = locality.sample_inputs("hypercube", 5, 7, seed=1, leading=(3,))
    assert a.shape == (3, 7, 5) and set(np.unique(a)) == {-1.0, 1.0}
    again = locality.sample_inputs("hypercube", 5, 7, seed=1, leading=(3,))
    np.testing.assert_array_equal(a, again)
    with pytest.raises(ValueError, match="Unknown input distribution"):
        locality.sample_inputs("sphere", 5, 7, seed=1)
    with pytest.raises(ValueError, match="Unknown label"):
        locality.label("k_middle", a, 1)


@pytest.mark.parametrize("d,k,message", [
    (0, 1, "d must be a positive whole number"),
    (4.0, 1, "d must be a positive whole number"),
    (6, 0, "k must be a whole number from 1 to d = 6"),
    (6, 7, "k must be a whole number from 1 to d = 6"),
    (6, True, "k must be a whole number"),
    (12, 5, "k must divide d; choose k among 1, 2, 3, 4, 6, 12"),
])
def test_check_order_messages(d, k, message):
    with pytest.raises(ValueError, match=message):
        locality.check_order(d, k)


def test_mlp_kernels_give_different_errors_for_k_local_and_k_global_labels():
    """On the cube an MLP kernel's eigenvalue depends on the frequency |S| only: the k-local label
    is one frequency-k monomial, the k-global one spreads over frequencies k, k + 2, ..., so at
    equal n it is learned worse, by the theory and by exact kernel regression alike (d = 10, k = 2,
    blocks of 5, no ties)."""
    d, k, sizes, seeds = 10, 2, np.array([24, 96, 384]), 8
    layers = mlp(2, b_std=0.5)
    lam = spectra.hypercube_eigenvalues(layers, d)
    row = spectra.walsh_hadamard(lam)
    clipped = eigenlearning.clip_rounding(lam)
    theory, measured = {}, {}
    for kind in locality.LABELS:
        v = locality.walsh_coefficients(kind, d, k)
        theory[kind] = eigenlearning.predict(clipped, sizes, target_power=v ** 2).test_mse
        measured[kind] = regression.hypercube_learning_curve(row, d, v, sizes, seeds=seeds,
                                                             seed=5).test_mse.mean(axis=0)
    for errors in (theory, measured):
        assert np.all(errors["k_global"] > 1.15 * errors["k_local"])
        assert errors["k_global"][-1] > 10 * errors["k_local"][-1]
    # And the theory predicts both, once the repeated draws among n = 384 of 1024 points are
    # discounted (test_experiments_kernel_theory says why).
    distinct = regression.expected_distinct(sizes, d)
    for kind in locality.LABELS:
        v = locality.walsh_coefficients(kind, d, k)
        predicted = eigenlearning.predict(clipped, distinct, target_power=v ** 2).test_mse
        np.testing.assert_allclose(measured[kind], predicted, rtol=0.15)
