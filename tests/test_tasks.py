"""Targets of the Universality page: unit variance and zero mean under x ~ N(0, I) (checked by
Monte Carlo against the closed forms in engine/tasks.py), and the structure the page relies on."""

import numpy as np
import pytest

from engine import tasks


@pytest.mark.parametrize("name", list(tasks.TARGETS))
@pytest.mark.parametrize("d", [2, 9, 16])
def test_unit_variance_and_zero_mean(name, d):
    x = np.random.default_rng(0).standard_normal((400_000, d))
    y = tasks.target(name, x)
    # Standard errors: mean 1/sqrt(n) = 0.0016; the variance's is below 0.01 for these targets.
    assert abs(y.mean()) < 0.01
    assert abs(y.var() - 1) < 0.03


def test_dataset_is_reproducible_and_float32():
    x1, y1 = tasks.gaussian_dataset("sparse_product", 8, 10, seed=3, leading=(2,))
    x2, y2 = tasks.gaussian_dataset("sparse_product", 8, 10, seed=3, leading=(2,))
    assert x1.shape == (2, 10, 8) and y1.shape == (2, 10) and x1.dtype == np.float32
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_allclose(y1, x1[..., 0] * x1[..., 7], rtol=1e-6)


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="Unknown target"):
        tasks.target("parity", np.zeros((1, 4)))
