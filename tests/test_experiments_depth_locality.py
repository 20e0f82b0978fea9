"""The depth-against-locality view (Mori & Ueda 2022): refusals before any work, shapes and
finiteness, the cache, the kernel part against a direct solve, and the symmetry that decides the
experiment's design: MLP kernels give equal errors for k-local and k-global labels under Gaussian
inputs (exactly, on rotated copies of one problem; statistically, on independent samples) and
different ones on the hypercube."""

import dataclasses

import numpy as np
import pytest

from engine import locality
from engine.experiments import depth_locality as dl
from engine.kernels import nngp_ntk
from engine.specs import mlp

SMALL = dl.LocalitySpec(d=8, k=2, depths=(1, 2), width=16, n_min=16, n_max=64, n_sizes=3,
                        seeds=2, steps=60, learning_rate=0.01, optimizer="adam", batch_size=0)


@pytest.mark.parametrize("change,message", [
    ({"d": 12, "k": 5}, "k must divide d"),
    ({"distribution": "sphere"}, "Unknown input distribution"),
    ({"kernel": "rbf"}, "Unknown kernel"),
    ({"optimizer": "lbfgs"}, "Unknown optimizer"),
    ({"depths": ()}, "depths"),
    ({"depths": (1, 12)}, "depths"),
    ({"n_min": 512, "n_max": 256}, "at least"),
    ({"d": 9, "n_max": 512}, "hypercube"),
    ({"batch_size": 128, "n_min": 64}, "batch_size"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"b_std": -1.0}, "b_std"),
    ({"depths": (1, 2, 4, 8), "width": 1024, "n_max": 4096, "seeds": 8, "steps": 20000,
      "batch_size": 0}, "minutes"),
])
def test_impossible_views_are_refused_before_any_work(change, message, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the spec was validated")

    monkeypatch.setattr(dl.training, "train_sweep", no_work)
    monkeypatch.setattr(dl, "nngp_ntk", no_work)
    spec = dataclasses.replace(dl.DEFAULT_LOCALITY, **change)
    with pytest.raises(ValueError, match=message):
        dl.depth_locality(spec)


def test_normalise_canonicalises_and_sizes_are_log_spaced():
    spec = dl.normalise_locality(dataclasses.replace(SMALL, depths=[2, 1, 2], ridge=0))
    assert spec.depths == (1, 2) and isinstance(spec.ridge, float)
    assert dl.LocalitySpec(n_min=256, n_max=2048, n_sizes=4).sizes == (256, 512, 1024, 2048)
    assert dl.LocalitySpec(n_min=100, n_max=1000, n_sizes=3).sizes == (100, 316, 1000)
    assert dl.depth_locality.key(spec) == dl.depth_locality.key(SMALL)


def test_estimates_grow_with_the_work():
    small = dl.locality_seconds(dl.normalise_locality(SMALL))
    big = dl.locality_seconds(dl.normalise_locality(dataclasses.replace(SMALL, seeds=4,
                                                                         steps=600)))
    assert 0 < small < big
    assert dl.depth_locality.estimate_seconds(dl.DEFAULT_LOCALITY) < 30


def test_small_view_shapes_values_and_cache():
    assert dl.depth_locality.lookup(SMALL) is None
    calls = []
    view = dl.depth_locality(SMALL, progress=lambda done, total: calls.append((done, total)))
    done = [c[0] for c in calls]
    assert done == sorted(done) and calls[-1][0] == calls[-1][1]
    shape = (2, 2, SMALL.seeds, 3)
    assert view.labels == ("k_local", "k_global")
    assert view.depths.tolist() == [1, 2] and view.sizes.tolist() == [16, 32, 64]
    for name in ("net_test_mse", "net_train_mse", "diverged", "kernel_test_mse",
                 "kernel_test_error"):
        assert getattr(view, name).shape == shape, name
    assert view.diverged.dtype == bool and not view.diverged.any()
    for name in ("net_test_mse", "net_train_mse", "kernel_test_mse", "kernel_test_error"):
        assert np.all(np.isfinite(getattr(view, name))), name
    assert np.all((view.kernel_test_error >= 0) & (view.kernel_test_error <= 1))
    assert view.net_mse_mean.shape == view.kernel_mse_mean.shape == (2, 2, 3)
    assert view.net_samples_needed.shape == view.kernel_samples_needed.shape == (2, 2, 2)
    np.testing.assert_allclose(view.kernel_mse_mean, view.kernel_test_mse.mean(axis=2))

    # The kernel part against a direct solve of K a = y on seed 1's data, depth 2, n = 32.
    x, y = dl.datasets(dl.normalise_locality(SMALL))
    train, test = x[1, :32], x[1, SMALL.n_max + dl.N_VAL:]
    ntk = nngp_ntk(SMALL.layers(2), np.concatenate([train, test])).ntk
    pred = ntk[32:, :32] @ np.linalg.solve(ntk[:32, :32], y[:, 1, :32].T)
    y_test = y[:, 1, SMALL.n_max + dl.N_VAL:].T
    np.testing.assert_allclose(view.kernel_test_mse[:, 1, 1, 1],
                               np.mean((pred - y_test) ** 2, axis=0), rtol=1e-8)
    np.testing.assert_allclose(view.kernel_test_error[:, 1, 1, 1],
                               np.mean(np.sign(pred) != y_test, axis=0))

    again = dl.depth_locality.lookup(SMALL)  # served by the cache, nothing recomputed
    assert again is not None
    np.testing.assert_array_equal(again.net_test_mse, view.net_test_mse)


def _rotation_onto_blocks(d: int, k: int, seed: int) -> np.ndarray:
    """An orthogonal R with R e_j = w_j = 1_{B_j} / sqrt(d / k) for j < k (the k-global label's
    directions), completed by a random orthonormal basis of the rest."""
    m = d // k
    w = np.zeros((d, k))
    for j in range(k):
        w[j * m:(j + 1) * m, j] = 1 / np.sqrt(m)
    q, r = np.linalg.qr(np.concatenate([w, np.random.default_rng(seed).standard_normal(
        (d, d - k))], axis=1))
    q = q * np.sign(np.diag(r))  # QR fixes columns up to sign; make column j equal w_j
    np.testing.assert_allclose(q[:, :k], w, atol=1e-12)
    return q


@pytest.mark.parametrize("depth,kernel", [(1, "ntk"), (3, "ntk"), (2, "nngp")])
def test_gaussian_inputs_make_the_labels_rotations_of_one_another_exactly(depth, kernel):
    # k-local(x) = prod_j sign(<e_j, x>) and k-global(R x) = prod_j sign(<w_j, R x>)
    # = prod_j sign(<e_j, x>): the problem (X, k-local) maps onto (X R^T, k-global), and a
    # dot-product kernel has K(Rx, Rx') = K(x, x'), so kernel regression on the two gives the
    # same predictions, hence the same errors, up to rounding.
    d, k, n, n_test = 12, 2, 300, 300
    rotation = _rotation_onto_blocks(d, k, seed=1)
    x = locality.sample_inputs("gaussian", d, n + n_test, seed=5)
    x_rot = x @ rotation.T
    y_local = locality.label("k_local", x, k)
    y_global = locality.label("k_global", x_rot, k)
    np.testing.assert_array_equal(y_local, y_global)
    layers = mlp(depth, b_std=0.5)
    a = dl.kernel_curves(layers, x[:n], y_local[:n, None], x[n:], y_local[n:, None], [50, n],
                         kernel=kernel)
    b = dl.kernel_curves(layers, x_rot[:n], y_global[:n, None], x_rot[n:], y_global[n:, None],
                         [50, n], kernel=kernel)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(a[1], b[1])
    assert 0.05 < a[1][0, -1] < 0.5  # something was learnt, and the check is not vacuous


def _kernel_errors(distribution: str, kind: str, seeds: range) -> np.ndarray:
    d, k, n, n_test = 12, 2, 512, 1000
    errors = []
    for s in seeds:
        x = locality.sample_inputs(distribution, d, n + n_test, seed=s)
        y = locality.label(kind, x, k)[:, None]
        errors.append(dl.kernel_curves(mlp(2, b_std=0.5), x[:n], y[:n], x[n:], y[n:], [n])[1])
    return np.array(errors).ravel()


def test_mlp_kernel_errors_agree_under_gaussian_inputs_and_differ_on_the_hypercube():
    # Independent samples for the two labels (seeds 0-3 and 100-103). Under N(0, I) the errors
    # agree within sampling noise (seed-to-seed spread ~0.01 here); on {-1, 1}^12 the 2-local
    # label is one Walsh monomial of degree 2, learnt almost perfectly from 512 samples, while
    # the 2-global label spreads over monomials of degrees 2 to 12 and stays ~0.2 in error.
    local = _kernel_errors("gaussian", "k_local", range(4))
    global_ = _kernel_errors("gaussian", "k_global", range(100, 104))
    spread = np.sqrt((local.var(ddof=1) + global_.var(ddof=1)) / 4)
    assert abs(local.mean() - global_.mean()) < max(4 * spread, 0.01)
    assert 0.1 < local.mean() < 0.4
    local = _kernel_errors("hypercube", "k_local", range(4))
    global_ = _kernel_errors("hypercube", "k_global", range(100, 104))
    assert local.max() < 0.02 and global_.min() > 0.12


def test_presets_are_valid_and_warmed():
    assert dl.DEFAULT_LOCALITY in dl.PRESETS.values()
    assert any(spec.distribution == "gaussian" for spec in dl.PRESETS.values())
    for spec in dl.PRESETS.values():
        dl.normalise_locality(spec)
        assert spec.b_std > 0  # a ReLU NTK without bias cannot learn odd parities
    assert [spec for _, spec in dl.WARM] == list(dl.PRESETS.values())
    # Both halves of Mori & Ueda have a preset; a preset drawn at a smaller n names one it has.
    assert {dl.LOCAL_PRESET_NAME, dl.GLOBAL_PRESET_NAME} <= set(dl.PRESETS)
    for name in dl.PRESETS:
        n = dl.PRESETS.record(name).controls.get("at_n")
        if n is not None:
            assert n in dl.normalise_locality(dl.PRESETS[name]).sizes and f"n = {n}" in name
