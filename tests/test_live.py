"""`engine.experiments.live`: the NTK's closed-form prediction against the linearised dynamics run
step by step, a wide network that follows it and a narrow one at a large rate that does not, exact
replays, the setup against the dense kernel, and refusals before any work."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine import walsh
from engine.experiments import live
from engine.kernels import nngp_ntk

SMALL = live.LiveSpec(d=6, depth=2, width=64, n=32)


@pytest.fixture(scope="module")
def small():
    return live.setup(SMALL)


def test_the_setup_matches_the_dense_kernel_and_the_target(small):
    x = walsh.hypercube_points(SMALL.d)[small.train]
    _, theta = nngp_ntk(small.layers, x)
    n = SMALL.n
    reconstructed = small.eigenvectors @ np.diag(small.mu) @ small.eigenvectors.T * n
    np.testing.assert_allclose(reconstructed, theta, atol=1e-10 * np.abs(theta).max())
    # the labels are the target's Walsh series on the training points
    chi = walsh.walsh_hadamard(np.eye(2 ** SMALL.d))[small.train]  # chi_S(x_X), rows X
    np.testing.assert_allclose(small.y_train, chi @ small.v, atol=1e-12)
    assert len(np.unique(small.train)) == n  # distinct points
    # the default target: three modes of frequency 1, 2, 3 with equal weights
    assert list(small.component_frequency) == [1, 2, 3]
    np.testing.assert_allclose(small.component_power, [1 / 3] * 3)
    assert small.stable_rate == pytest.approx(2 / small.mu.max())


def _linearised_by_steps(setup, f0, schedule):
    """The infinite-width linearised network run step by step: `f <- f - (eta / n) Theta(., X)
    (f(X) - y)` on every point of the cube, in float64; the function after each chunk."""
    points = np.arange(2 ** setup.spec.d)
    theta = setup.row[points[:, None] ^ setup.train[None, :]]
    f, out = f0.copy(), []
    for steps, rate in schedule:
        for _ in range(steps):
            f = f - rate / len(setup.train) * theta @ (f[setup.train] - setup.y_train)
        out.append(f.copy())
    return out


def test_the_closed_form_is_the_linearised_dynamics_step_by_step(small):
    schedule = [(3, 2.0), (5, 0.5), (1, 7.0), (20, 3.0)]  # the rate changed between chunks
    run = live.start(small)
    expected = _linearised_by_steps(small, run.f0, schedule)
    for (steps, rate), f in zip(schedule, expected):
        run = live.advance(small, run, steps, rate)
        decay, total = run.decay, run.rate_sum
        predicted = live._ntk_function(small, decay, total, run.f0, run.projected, run.r0)
        np.testing.assert_allclose(predicted, f, atol=1e-9)
        frame = run.frames[-1]
        coefficients = walsh.walsh_hadamard(f) / len(f)
        assert frame.ntk_test_mse == pytest.approx(np.sum((coefficients - small.v) ** 2), rel=1e-9)
    assert [frame.step for frame in run.frames] == [0, 3, 8, 9, 29]


def _largest_gap(spec, rate, chunks, steps):
    s = live.setup(spec)
    run = live.start(s)
    for _ in range(chunks):
        run = live.advance(s, run, steps, rate)
    fractions = np.array([f.fractions for f in run.frames])
    predicted = np.array([f.ntk_fractions for f in run.frames])
    test = np.array([f.test_mse for f in run.frames])
    test_ntk = np.array([f.ntk_test_mse for f in run.frames])
    return np.abs(fractions - predicted).max(), np.abs(test - test_ntk).max(), run


def test_a_wide_network_follows_its_ntk_and_a_narrow_one_at_a_large_rate_does_not():
    # One hidden layer of 8,192 units: every mode's learned fraction within 0.02 of the NTK's
    # prediction and the test error (of a unit-variance target) within 0.03, over 300 steps.
    wide = live.LiveSpec(d=8, depth=1, width=8192, n=64, modes=((1, 0), (2, 1)))
    gap, test_gap, run = _largest_gap(wide, 4.0, 12, 25)
    assert gap < 0.02 and test_gap < 0.03, (gap, test_gap)
    assert run.frames[-1].fractions.min() > 0.5  # and it did learn
    # 16 units at rate 8: the frequency-3 mode is learned far sooner than the kernel predicts.
    narrow = live.LiveSpec(d=8, depth=2, width=16, n=128)
    gap, _, run = _largest_gap(narrow, 8.0, 20, 25)
    assert gap > 0.25, gap
    last = run.frames[-1]
    assert last.fractions[2] - last.ntk_fractions[2] > 0.25


def test_a_reset_replays_the_run_exactly(small):
    def frames():
        run = live.start(small)
        for steps, rate in [(4, 2.0), (4, 2.0), (7, 1.0)]:
            run = live.advance(small, run, steps, rate)
        return run.frames

    first, again = frames(), frames()
    for a, b in zip(first, again):
        assert a.step == b.step and a.test_mse == b.test_mse
        np.testing.assert_array_equal(a.fractions, b.fractions)
        np.testing.assert_array_equal(a.ntk_fractions, b.ntk_fractions)


def test_a_labels_components_are_the_levels_that_carry_it():
    s = live.setup(live.LiveSpec(d=8, target="k_global", k=2, n=64, width=32))
    assert 1 <= len(s.component_power) <= live.COMPONENTS_MAX
    assert np.all(np.diff(s.component_power) <= 1e-12)  # largest share first
    assert s.component_power.sum() <= 1 + 1e-12
    inside = s.component_of >= 0
    np.testing.assert_allclose(np.bincount(s.component_of[inside], weights=s.v[inside] ** 2),
                               s.component_power, atol=1e-12)
    # at its start, a network's fraction of a component is its projection on the target's part
    run = live.start(s)
    coefficients = walsh.walsh_hadamard(run.f0) / 2 ** 8
    c = 0
    members = s.component_of == c
    expected = coefficients[members] @ s.v[members] / (s.v[members] @ s.v[members])
    assert run.frames[0].fractions[c] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("change, words", [
    (dict(n=128, d=6), "more than the 64 points"),
    (dict(arch="resnet"), "Unknown architecture"),
    (dict(width=2), "`width`"),
    (dict(d=13), "`d`"),
    (dict(width=9000), "`width`"),
    (dict(modes=((11, 0),)), "frequency"),
    (dict(target="k_global", k=4, d=6, n=32), "k must divide d"),
    (dict(width=4096, n=1024, d=12), "too slow to watch"),
])
def test_impossible_setups_are_refused_before_any_work(change, words):
    with pytest.raises(ValueError, match=words):
        live.setup.normalise(dataclasses.replace(live.DEFAULT_LIVE, **change))


def test_a_rate_or_step_count_out_of_range_is_refused(small):
    run = live.start(small)
    with pytest.raises(ValueError, match="learning rate"):
        live.advance(small, run, 1, 0.0)
    with pytest.raises(ValueError, match="learning rate"):
        live.advance(small, run, 1, live.RATE_MAX * 2)
    with pytest.raises(ValueError, match="number of steps"):
        live.advance(small, run, 0, 1.0)


def test_the_presets_are_valid_setups():
    for title, spec in live.PRESETS.items():
        live.setup.normalise(spec)
        rate = live.PRESETS.record(title).controls.get("rate", live.RATE_DEFAULT)
        assert live.RATE_MIN <= rate <= live.RATE_MAX
