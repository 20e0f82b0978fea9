"""The eigenlearning solver: the conservation law, closed forms, an outside root finder, the
interpolation limit, and robustness over hundreds of orders of magnitude."""

import doctest

import numpy as np
import pytest
import scipy
from scipy.optimize import brentq
from scipy.special import expit

from engine import eigenlearning as el


def _learned(lam, log_kappa, m=None):
    """`sum m L` at `log kappa`, independently (scipy 1.17's expit on the logs)."""
    lam = np.asarray(lam, dtype=float)
    m = np.ones_like(lam) if m is None else np.asarray(m, dtype=float)
    live = lam > 0
    return np.array([m[live] @ expit(np.log(lam[live]) - t) for t in np.ravel(log_kappa)])


SPECTRA = {
    # name: (eigenvalues, multiplicities)
    "log-uniform 1e-300..1, 3000 modes (summed mode by mode)":
        (10.0 ** np.random.default_rng(1).uniform(-300, 0, 3000), None),
    "log-uniform 1e-300..1, 20000 modes (summed by bins)":
        (10.0 ** np.random.default_rng(2).uniform(-300, 0, 20000), None),
    "power law i^-2, 10^5 modes": (np.arange(1, 100_001, dtype=float) ** -2.0, None),
    "gap: 10 modes at 1, 10^4 at 1e-200":
        (np.array([1.0, 1e-200]), np.array([10.0, 1e4])),
    "1e-300 to 1e300, 5000 modes": (10.0 ** np.random.default_rng(3).uniform(-300, 300, 5000),
                                    None),
}


@pytest.mark.parametrize("name", list(SPECTRA))
def test_learnabilities_sum_to_n_at_zero_ridge(name):
    lam, m = SPECTRA[name]
    rank = (np.ones_like(lam) if m is None else m).sum()
    sizes = np.unique(np.concatenate([[1, 1.5, 2, 7], np.geomspace(1, rank, 25)[:-1],
                                      rank * np.array([0.5, 0.9, 0.99, 0.999, 0.99999])]))
    curve = el.predict(lam, sizes, multiplicity=m)
    assert np.all(np.isfinite(curve.log_kappa)) and np.all(curve.e0 >= 1)
    np.testing.assert_allclose(_learned(lam, curve.log_kappa, m), sizes, rtol=1e-10)
    np.testing.assert_allclose(curve.learned, sizes, rtol=1e-12)
    # kappa falls strictly as n grows (the left side of the equation falls in kappa).
    assert np.all(np.diff(curve.log_kappa) < 0)


def test_kappa_grows_with_the_ridge_and_n_learned_falls():
    lam = np.arange(1, 2001, dtype=float) ** -1.5
    ridges = np.array([0.0, 1e-8, 1e-4, 1e-2, 1.0, 100.0])
    curve = el.predict(lam, np.array([[10.0], [300.0]]), ridge=ridges[None, :])
    assert curve.kappa.shape == (2, 6)
    assert np.all(np.diff(curve.log_kappa, axis=1) > 0)
    assert np.all(np.diff(curve.learned, axis=1) < 0)
    np.testing.assert_allclose(curve.learned + curve.ridge_ratio, [[10.0], [300.0]] * np.ones(6),
                               rtol=1e-12)


def _flat_kappa(m, lam, n, delta):
    """Root of `m lam / (lam + kappa) + delta / kappa = n`: with `x = kappa / lam` and
    `r = delta / lam` (units that cannot underflow), `n x^2 + (n - m - r) x - r = 0`, solved in the
    form free of cancellation."""
    r = delta / lam
    b = n - m - r
    root = np.sqrt(b * b + 4 * n * r)
    return lam * ((root - b) / (2 * n) if b <= 0 else 2 * r / (root + b))


@pytest.mark.parametrize("m,lam,n,delta", [
    (100, 0.01, 37, 0.0), (100, 0.01, 99.5, 0.0), (1000, 3.0, 1, 0.0), (50, 1e-200, 10, 0.0),
    (100, 0.01, 37, 1e-3), (100, 0.01, 250, 1e-3), (10, 1e150, 3, 1e140), (64, 1.0, 64.0, 2.0),
])
def test_flat_spectrum_matches_closed_forms(m, lam, n, delta):
    power, noise = 0.7, 0.2
    curve = el.predict([lam], n, ridge=delta, multiplicity=[m], target_power=[power], noise=noise)
    kappa = _flat_kappa(m, lam, n, delta)
    learn = lam / (lam + kappa)
    e0 = n / (n - m * learn ** 2)
    test = e0 * ((1 - learn) ** 2 * power + noise)
    np.testing.assert_allclose(curve.kappa, kappa, rtol=1e-12)
    np.testing.assert_allclose(curve.e0, e0, rtol=1e-11)
    np.testing.assert_allclose(curve.test_mse, test, rtol=1e-11)
    np.testing.assert_allclose(curve.train_mse, (delta / (n * kappa)) ** 2 * test, rtol=1e-11,
                               atol=1e-300)
    np.testing.assert_allclose(el.learnability([lam], log_kappa=curve.log_kappa), [learn],
                               rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_kappa_agrees_with_brentq(seed):
    """scipy's brentq on the equation in kappa itself, for spectra it can bracket in float64."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(5, 3000))
    lam = 10.0 ** rng.uniform(-8, 0, size) * (rng.random(size) < 0.9)  # some exact zeros
    m = rng.integers(1, 20, size).astype(float)
    rank = m[lam > 0].sum()
    delta = [0.0, 10.0 ** rng.uniform(-6, 0)][seed % 2]
    sizes = np.unique(np.round(np.geomspace(1, 0.98 * rank, 12), 3))
    curve = el.predict(lam, sizes, ridge=delta, multiplicity=m)
    for n, kappa in zip(sizes, curve.kappa):
        def f(k, n=n):
            return m @ (lam / (lam + k)) + delta / k - n
        expected = brentq(f, 1e-300, 1e10, xtol=1e-300, rtol=1e-15, maxiter=1000)
        assert kappa == pytest.approx(expected, rel=1e-10), (scipy.__version__, n)


def test_binned_sums_equal_mode_by_mode_sums():
    """E_0 and the missed target mass summed by Taylor series over bins (more than EXACT_BELOW
    modes) against numpy mode by mode at the returned kappa."""
    rng = np.random.default_rng(7)
    lam = np.sort(10.0 ** rng.uniform(-12, 0, 50_000))[::-1]
    power = rng.random(lam.size) * (rng.random(lam.size) < 0.01)
    power /= power.sum()
    sizes = np.geomspace(1, 40_000, 20)
    curve = el.predict(lam, sizes, target_power=power, noise=0.1)
    learn = el.learnability(lam, log_kappa=curve.log_kappa)
    e0 = sizes / (sizes - (learn ** 2).sum(axis=1))
    np.testing.assert_allclose(curve.e0, e0, rtol=1e-9)
    np.testing.assert_allclose(curve.test_mse, e0 * (((1 - learn) ** 2) @ power + 0.1), rtol=1e-9)


def test_multiplicity_is_repetition():
    lam, m = np.array([0.5, 0.1, 0.01, 0.0]), np.array([1, 4, 9, 3])
    power = np.array([0.1, 0.2, 0.3, 0.4])
    sizes = [1, 3, 8, 13.5, 14, 20]
    a = el.predict(lam, sizes, multiplicity=m, target_power=power, noise=0.05)
    b = el.predict(np.repeat(lam, m), sizes, target_power=np.repeat(power / m, m), noise=0.05)
    for field in ("kappa", "e0", "test_mse", "train_mse", "learned"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-12)
    assert a.rank == b.rank == 14


def test_interpolation_limit_beyond_the_rank():
    """Ridge 0 and n >= rank: kappa = 0, every nonzero mode learned, E_0 = n / (n - rank),
    infinite at n = rank; the limit of a vanishing ridge."""
    lam = np.array([1.0, 0.3, 0.1, 0.0])
    sizes = np.array([3.0, 4.0, 6.0, 30.0])
    clean = el.predict(lam, sizes, target_power=[0.5, 0.3, 0.2, 0.0])
    assert np.all(clean.kappa == 0) and np.all(clean.log_kappa == -np.inf)
    np.testing.assert_array_equal(clean.e0, [np.inf, 4.0, 2.0, 30 / 27])
    np.testing.assert_array_equal(clean.test_mse, 0.0)  # all learnable, no noise: 0 even at n = 3
    np.testing.assert_array_equal(clean.learned, 3.0)
    noisy = el.predict(lam, sizes, target_power=[0.5, 0.3, 0.2, 0.1], noise=0.4)
    np.testing.assert_array_equal(noisy.test_mse, noisy.e0 * 0.5)
    np.testing.assert_allclose(noisy.train_mse, (1 - 3 / sizes) * 0.5, rtol=1e-15)
    np.testing.assert_array_equal(el.learnability(lam, noisy.kappa[1]), [1, 1, 1, 0])
    # A vanishing ridge tends to the same numbers (n > rank).
    tiny = el.predict(lam, sizes[1:], ridge=1e-12, target_power=[0.5, 0.3, 0.2, 0.1], noise=0.4)
    np.testing.assert_allclose(tiny.e0, noisy.e0[1:], rtol=1e-9)
    np.testing.assert_allclose(tiny.test_mse, noisy.test_mse[1:], rtol=1e-9)
    np.testing.assert_allclose(tiny.train_mse, noisy.train_mse[1:], rtol=1e-9)
    np.testing.assert_allclose(tiny.ridge_ratio, sizes[1:] - 3, rtol=1e-9)


def test_interpolation_peak_is_approached_continuously():
    lam = 1.0 / np.arange(1, 51) ** 2
    below = el.predict(lam, 50 - np.array([1e-1, 1e-3, 1e-5]), target_power=lam / lam.sum(),
                       noise=0.01)
    assert np.all(np.diff(below.e0) > 0) and below.e0[-1] > 1e5
    assert np.all(np.isfinite(below.test_mse))


def test_no_target_no_noise_means_zero_error_and_empty_spectrum():
    curve = el.predict([0.0, 0.0], [1, 5])
    assert curve.rank == 0
    np.testing.assert_array_equal(curve.kappa, 0.0)
    np.testing.assert_array_equal(curve.test_mse, 0.0)
    np.testing.assert_array_equal(el.predict([0.0], 2, target_power=[1.0]).test_mse, 1.0)
    # With a ridge and no live mode, ridge / kappa = n.
    ridged = el.predict([0.0], [2.0, 8.0], ridge=1.0, target_power=[1.0], noise=0.5)
    np.testing.assert_allclose(ridged.kappa, [0.5, 0.125], rtol=1e-15)
    np.testing.assert_allclose(ridged.test_mse, 1.5, rtol=1e-15)
    np.testing.assert_allclose(ridged.train_mse, 1.5, rtol=1e-15)  # nothing is fitted


@pytest.mark.parametrize("kwargs,message", [
    (dict(eigenvalues=[1.0, -1e-17], sizes=3), "clip_rounding"),
    (dict(eigenvalues=[[1.0]], sizes=3), "1-D"),
    (dict(eigenvalues=[1.0, np.nan], sizes=3), "finite"),
    (dict(eigenvalues=[1.0], sizes=0), "sizes"),
    (dict(eigenvalues=[1.0], sizes=3, ridge=-1.0), "ridge"),
    (dict(eigenvalues=[1.0], sizes=3, noise=-0.1), "noise"),
    (dict(eigenvalues=[1.0], sizes=3, multiplicity=[1, 2]), "multiplicity"),
    (dict(eigenvalues=[1.0], sizes=3, target_power=[-1.0]), "target_power"),
])
def test_bad_inputs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        el.predict(**kwargs)


def test_clip_rounding_and_learnability_edges():
    np.testing.assert_array_equal(el.clip_rounding([2.0, 1e-13, -1e-13, 1e-11]),
                                  [2.0, 0.0, 0.0, 1e-11])
    np.testing.assert_array_equal(el.learnability([1.0, 0.0], [0.0, np.inf]),
                                  [[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="exactly one"):
        el.learnability([1.0])


def test_docstring_examples():
    result = doctest.testmod(el, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 4


def test_train_and_test_error_match_simulation_with_gaussian_features():
    """The setting the theory is derived in: features phi_i(x) i.i.d. N(0, 1), K = Phi Lam Phi^T,
    labels sum v_i phi_i + noise. Ridge regression is simulated over 100 training sets; its mean
    train and test MSE match the predictions within 10% and 5% (finite-size corrections and
    sampling: the mean train error over 100 sets still varies by 2-3%; measured deviations are
    below 6% and 2%)."""
    rng = np.random.default_rng(0)
    lam = np.arange(1, 801, dtype=float) ** -1.5
    v = np.zeros(lam.size)
    v[[0, 3, 20]] = np.sqrt([0.5, 0.3, 0.2])
    noise = 0.5
    for ridge in (0.05, 0.5):
        for n in (32, 128):
            train, test = [], []
            for _ in range(100):
                phi = rng.standard_normal((n, lam.size))
                y = phi @ v + np.sqrt(noise) * rng.standard_normal(n)
                alpha = np.linalg.solve((phi * lam) @ phi.T + ridge * np.eye(n), y)
                train.append(np.mean((ridge * alpha) ** 2))  # y - K alpha = ridge alpha
                test.append(np.sum((lam * (phi.T @ alpha) - v) ** 2) + noise)
            curve = el.predict(lam, n, ridge=ridge, target_power=v ** 2, noise=noise)
            assert np.mean(train) == pytest.approx(float(curve.train_mse), rel=0.1)
            assert np.mean(test) == pytest.approx(float(curve.test_mse), rel=0.05)
