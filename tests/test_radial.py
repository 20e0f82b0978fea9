"""Tests for `engine.radial`: radially symmetric inputs `x = rho u` and the ball indicator.

Expected values come from outside the module: scipy's distributions (scipy 1.17) for the laws'
CDFs and for the law of one coordinate of a uniform direction, and numerical integration for
`E rho^2`. Kolmogorov-Smirnov tests run on fixed seeds, so they are deterministic; a p-value
below 1e-3 would mean the sampler and the CDF disagree.
"""

import doctest

import numpy as np
import pytest
from scipy import integrate, stats

from engine import radial
from engine.radial import RADIAL_LAWS, SPREADS, ball_indicator, radial_cdf, radial_quantile, sample

LAWS = list(RADIAL_LAWS)


def _scipy_law(law: str, r: float):
    """The law of `rho` at ratio 1/2, as scipy writes it."""
    s = SPREADS[law]
    if law == "near_edge":
        return stats.lognorm(s=s, scale=r)  # log(rho / r) ~ N(0, s^2)
    if law == "shell":
        return stats.uniform(loc=r * (1 - s), scale=2 * r * s)
    return stats.loglaplace(c=1 / s, scale=r)  # log(rho / r) ~ Laplace(0, s)


@pytest.mark.parametrize("law", LAWS)
def test_cdf_at_ratio_one_half_is_the_law_itself(law):
    rho = np.linspace(0.01, 4.0, 200)
    np.testing.assert_allclose(radial_cdf(law, rho, radius=1.5), _scipy_law(law, 1.5).cdf(rho),
                               atol=1e-12)


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("ratio", [0.5, 0.2, 0.9])
def test_cdf_is_a_cdf_with_the_ratio_at_the_edge(law, ratio):
    rho = np.linspace(0.0, 50.0, 5001)
    f = radial_cdf(law, rho, radius=2.0, ratio=ratio)
    assert f[0] == 0 and f[-1] > 0.999 and np.all(np.diff(f) >= 0)
    assert radial_cdf(law, 2.0, radius=2.0, ratio=ratio) == pytest.approx(ratio, abs=1e-12)
    q = np.linspace(0.01, 0.99, 33)
    np.testing.assert_allclose(radial_cdf(law, radial_quantile(law, q, radius=2.0, ratio=ratio),
                                          radius=2.0, ratio=ratio), q, atol=1e-10)


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("d, ratio", [(1, 0.5), (3, 0.3), (16, 0.5), (64, 0.8)])
def test_norms_follow_the_cdf(law, d, ratio):
    """Kolmogorov-Smirnov of ||x|| against `radial_cdf`, 4000 draws."""
    r = 0.7 * np.sqrt(d)
    x = sample(law, d, 4000, radius=r, ratio=ratio, seed=d)
    norms = np.linalg.norm(x, axis=-1)
    p = stats.kstest(norms, lambda v: radial_cdf(law, v, radius=r, ratio=ratio)).pvalue
    assert p > 1e-3, p


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.75])
def test_the_class_ratio_is_honoured(law, ratio):
    n = 20000
    y = ball_indicator(sample(law, 8, n, radius=2.0, ratio=ratio, seed=5), 2.0)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert abs(y.mean() - ratio) < 4 * np.sqrt(ratio * (1 - ratio) / n)


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("d", [2, 5, 12])
def test_directions_are_uniform_and_independent_of_the_norm(law, d):
    """One coordinate of a uniform direction on S^{d-1} has (u_1 + 1) / 2 ~ Beta((d-1)/2,
    (d-1)/2); the mean of x is 0 and its covariance is E[rho^2] / d times the identity, with
    E[rho^2] = int 2 rho (1 - F(rho)) d rho computed by quadrature. Independence of norm and
    direction: the direction's law is the same among the inside and the outside points."""
    n = 20000
    x = sample(law, d, n, radius=1.0, ratio=0.4, seed=11)
    norms = np.linalg.norm(x, axis=-1)
    u = x / norms[:, None]
    beta = stats.beta((d - 1) / 2, (d - 1) / 2, loc=-1, scale=2)
    for j in (0, d - 1):
        assert stats.kstest(u[:, j], beta.cdf).pvalue > 1e-3
    inside = norms <= 1.0
    assert stats.ks_2samp(u[inside, 0], u[~inside, 0]).pvalue > 1e-3

    second, _ = integrate.quad(lambda v: 2 * v * (1 - radial_cdf(law, v, radius=1.0, ratio=0.4)),
                               0, np.inf, limit=200)
    cov = x.T @ x / n
    scale = second / d
    # entries of the sample covariance fluctuate by about sqrt(E rho^4 / n) / d
    spread = np.sqrt(np.mean(norms ** 4) / n) / d
    assert np.abs(x.mean(0)).max() < 5 * np.sqrt(second / d / n)
    np.testing.assert_allclose(np.diag(cov), scale, atol=6 * spread)
    off = cov - np.diag(np.diag(cov))
    assert np.abs(off).max() < 6 * spread


def test_samples_have_the_requested_shape_and_are_reproducible():
    a = sample("shell", 3, 5, radius=2.0, seed=1, leading=(2, 4))
    assert a.shape == (2, 4, 5, 3) and a.dtype == np.float64
    np.testing.assert_array_equal(a, sample("shell", 3, 5, radius=2.0, seed=1, leading=(2, 4)))
    assert not np.array_equal(a, sample("shell", 3, 5, radius=2.0, seed=2, leading=(2, 4)))
    norms = np.linalg.norm(a, axis=-1)
    assert norms.min() >= 2.0 * (1 - SPREADS["shell"]) - 1e-12
    assert norms.max() <= 2.0 * (1 + SPREADS["shell"]) + 1e-12
    assert sample("near_edge", 4, 0).shape == (0, 4)


def test_spread_controls_the_width_of_the_law():
    narrow = np.linalg.norm(sample("near_edge", 8, 4000, spread=0.02, seed=3), axis=-1)
    wide = np.linalg.norm(sample("near_edge", 8, 4000, spread=0.3, seed=3), axis=-1)
    assert np.std(np.log(narrow)) == pytest.approx(0.02, rel=0.1)
    assert np.std(np.log(wide)) == pytest.approx(0.3, rel=0.1)


def test_ball_indicator():
    x = np.array([[3.0, 4.0], [0.0, 5.0001], [0.1, 0.0]])
    np.testing.assert_array_equal(ball_indicator(x, 5.0), [1.0, 0.0, 1.0])


@pytest.mark.parametrize("call, message", [
    (lambda: sample("gaussian", 4, 10), "Unknown radial law"),
    (lambda: sample("shell", 0, 10), "d must be at least 1"),
    (lambda: sample("shell", 4.5, 10), "d must be a whole number"),
    (lambda: sample("shell", 4, -1), "n must be at least 0"),
    (lambda: sample("shell", 4, 10, radius=0.0), "radius must be a positive"),
    (lambda: sample("shell", 4, 10, radius=float("inf")), "radius must be a positive"),
    (lambda: sample("shell", 4, 10, ratio=1.5), "ratio .* from 0 to 1"),
    (lambda: sample("shell", 4, 10, spread=1.2), "shell's spread must be below 1"),
    (lambda: sample("near_edge", 4, 10, spread=-0.1), "spread must be a positive"),
    (lambda: sample("shell", 4, 10, seed=-3), "seed must be at least 0"),
    (lambda: sample("shell", 4, 10, leading="2"), "leading must be a tuple"),
    (lambda: radial_cdf("shell", 1.0, ratio=-0.1), "ratio"),
    (lambda: radial_quantile("shell", 1.0), "strictly between 0 and 1"),
    (lambda: ball_indicator(np.ones(3), -1.0), "radius must be a positive"),
    (lambda: ball_indicator(3.0, 1.0), r"shape \(\.\.\., d\)"),
])
def test_bad_inputs_are_refused_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_doctests():
    result = doctest.testmod(radial, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
