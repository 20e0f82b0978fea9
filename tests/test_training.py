"""Tests for `engine.training`: sweeps of finite networks trained as one compiled program.

Behaviour, not internals: a teacher network of the same architecture is learned; a vmapped sweep
equals a loop of one-run calls; sharding over two (forced) CPU devices changes nothing; masked rows
are never read; early stopping reports the evaluation it should; a diverging learning rate is
reported as diverged, with nothing to draw. Tolerances were found by experiment and say why.
"""

import dataclasses
import doctest
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import engine
from engine import training
from engine.training import head, plan as planner, program
from engine.networks import apply, init
from engine.specs import parse_layers
from engine.training import SweepResult, TrainSpec, estimate_cost, train_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data(seed, n_seeds, n_max, d, n_val=32, n_test=64, shared_test=True):
    """Gaussian inputs and a smooth target `sin(sum x / sqrt d)` plus a little noise, float32."""
    rng = np.random.default_rng(seed)

    def target(x):
        return (np.sin(x.sum(-1) / np.sqrt(d)) + 0.1 * rng.standard_normal(x.shape[:-1]))

    x = rng.standard_normal((n_seeds, n_max, d))
    xv = rng.standard_normal((n_seeds, n_val, d))
    xt = rng.standard_normal((n_test, d) if shared_test else (n_seeds, n_test, d))
    return tuple(a.astype(np.float32) for a in (x, target(x), xv, target(xv), xt, target(xt)))


def _sweep(layers, data, **kwargs):
    kwargs.setdefault("key", jax.random.PRNGKey(0))
    return train_sweep(layers, *data, **kwargs)


SMALL = TrainSpec(optimizer="adam", learning_rate=1e-2, steps=100, eval_every=25, patience=0,
                  width=16)


# --- Learning ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, layers, teacher_width, width", [
    ("mlp", engine.mlp(1, b_std=0.1), 8, 64),
    ("tree_cnn", engine.tree_cnn(8, 2, b_std=0.1), (4, 4, 4), (8, 16, 32)),  # channels grow
])
def test_teacher_of_the_same_architecture_is_learned(name, layers, teacher_width, width):
    """A random network of the same architecture (readout scaled to unit output variance) is
    learned by Adam from 512 samples to a test MSE under 5% of the target variance. Measured:
    1.3% (MLP) and 0.6% (tree CNN) after 600 steps."""
    d = 8
    rng = np.random.default_rng(1)
    teacher = init(layers, d, key=jax.random.PRNGKey(100), width=teacher_width, dtype=jnp.float32)
    scale = 1 / np.std(np.asarray(apply(layers, teacher, rng.standard_normal((4096, d)))))
    teacher = teacher[:-1] + (tuple(a * scale for a in teacher[-1]),)

    def f(x):
        return np.asarray(apply(layers, teacher, x.reshape(-1, d))).reshape(x.shape[:-1])

    x, xv, xt = (rng.standard_normal(s).astype(np.float32) for s in [(1, 512, d), (1, 128, d),
                                                                     (512, d)])
    train = TrainSpec(learning_rate=1e-2, steps=600, eval_every=100, patience=0, width=width)
    res = train_sweep(layers, x, f(x), xv, f(xv), xt, f(xt), sizes=[512], train=train,
                      key=jax.random.PRNGKey(1))
    assert isinstance(res, SweepResult)
    variance = f(xt).var()
    assert res.test_mse[0, 0] < 0.05 * variance, (name, res.test_mse / variance)
    assert res.test_curve[0, 0, 0] > 0.5 * variance  # it started far off
    assert not res.diverged.any()


# --- One program equals a loop -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full batch, one masked bucket", "minibatch"])
def test_sweep_equals_a_loop_of_single_runs(mode):
    """Every run of a 2-seed x 3-size sweep equals the same run trained alone (`seeds=[s]`, the
    first `n` rows only). Full batch is forced into one bucket padded to 48 rows, so the smaller
    sizes are masked; alone, a run sees exactly its `n` rows. Float32 rounding differs (the loss
    sums over different blocks, and a different number of runs is vmapped together) and Adam
    carries it along: measured differences are at most 7e-7 relative, and 1e-5 is the tolerance
    here and below."""
    layers = engine.mlp(1)
    sizes = [8, 20, 48]
    data = _data(0, 2, 48, 4)
    x, y, xv, yv, xt, yt = data
    if mode == "minibatch":
        train, extra = dataclasses.replace(SMALL, batch_size=8), {}
    else:
        train, extra = SMALL, {"buckets": [sizes]}
    res = _sweep(layers, data, sizes=sizes, train=train, **extra)
    assert res.buckets == ((8, 20, 48),)
    for s in range(2):
        for i, n in enumerate(sizes):
            one = _sweep(layers, (x[s:s + 1, :n], y[s:s + 1, :n], xv[s:s + 1], yv[s:s + 1], xt, yt),
                         sizes=[n], train=train, seeds=[s])
            for field in ("train_curve", "val_curve", "test_curve"):
                np.testing.assert_allclose(getattr(res, field)[s, i], getattr(one, field)[0, 0],
                                           rtol=1e-5, err_msg=f"{field}, seed {s}, n = {n}")
            np.testing.assert_allclose(res.test_mse[s, i], one.test_mse[0, 0], rtol=1e-5)


def test_buckets_do_not_change_results():
    """The same sweep split into one bucket per size, or all masked together, gives the same
    numbers up to float32 rounding (measured: 2e-7 relative)."""
    data = _data(1, 2, 32, 4)
    train = dataclasses.replace(SMALL, steps=50)
    apart = _sweep(engine.mlp(1), data, sizes=[8, 32], train=train, buckets=[[8], [32]])
    together = _sweep(engine.mlp(1), data, sizes=[8, 32], train=train, buckets=[[8, 32]])
    assert apart.buckets == ((8,), (32,)) and together.buckets == ((8, 32),)
    np.testing.assert_allclose(apart.test_curve, together.test_curve, rtol=1e-5)


_SHARDED_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, numpy as np
    sys.path.insert(0, {root!r})
    import engine
    from engine.training import TrainSpec, train_sweep
    jax.config.update("jax_numpy_rank_promotion", "raise")
    data = np.load({data!r})
    train = TrainSpec(optimizer="adam", learning_rate=3e-2, steps=120, eval_every=20, patience=2,
                      width=16)
    out = {{}}
    for name, devices in (("one", jax.local_devices()[:1]), ("two", jax.local_devices())):
        res = train_sweep(engine.mlp(1), *(data[k] for k in ("x", "y", "xv", "yv", "xt", "yt")),
                          sizes=[10, 40], train=train, key=jax.random.PRNGKey(3), devices=devices,
                          buckets=[[10], [40]])
        out[name] = {{"devices": res.devices, "test_mse": res.test_mse.tolist(),
                     "test_curve": np.nan_to_num(res.test_curve, nan=-1.0).tolist(),
                     "stopped": res.stopped_step.tolist()}}
    print(json.dumps(out))
""")


def test_sharded_over_two_devices_equals_one_device(tmp_path):
    """In a fresh process with two forced CPU devices (the flag must be set before JAX starts), a
    sweep of 3 seeds x 2 sizes in two buckets (3 runs each, padded to 4) sharded over both devices
    equals the same sweep on one device, early stops included. Each device runs the same per-run
    program on its share; only the number of runs vmapped together differs, so the numbers agree
    to float32 rounding (measured: 4e-7 relative)."""
    path = str(tmp_path / "data.npz")
    np.savez(path, **dict(zip(("x", "y", "xv", "yv", "xt", "yt"),
                              _data(2, 3, 40, 4, shared_test=False))))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    script = _SHARDED_SCRIPT.format(root=ROOT, data=path)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    one, two = result["one"], result["two"]
    assert (one["devices"], two["devices"]) == (1, 2)
    assert one["stopped"] == two["stopped"]
    np.testing.assert_allclose(two["test_curve"], one["test_curve"], rtol=1e-5)
    np.testing.assert_allclose(two["test_mse"], one["test_mse"], rtol=1e-5)


# --- Masks, minibatches, early stopping, divergence ----------------------------------------------


@pytest.mark.parametrize("batch_size", [0, 8])
def test_rows_beyond_a_runs_size_are_never_seen(batch_size):
    """Rows at and after `n` hold garbage labels (1e4) for the size-12 run, and rows beyond the
    largest size hold NaN: the size-12 run of a sweep (masked into a 40-row bucket) equals a
    sweep on exactly its 12 clean rows, to float32 rounding (measured: 4e-7 relative; the loss
    sums over a different block). A single garbage row would move the curves by orders of
    magnitude."""
    data = list(_data(3, 2, 48, 4))
    clean = [data[0][:, :12], data[1][:, :12], *data[2:]]
    data[1][:, 12:40] = 1e4
    data[0][:, 40:] = np.nan
    data[1][:, 40:] = np.nan
    train = dataclasses.replace(SMALL, batch_size=batch_size)
    mixed = _sweep(engine.mlp(1), data, sizes=[12, 40], train=train, buckets=[[12, 40]])
    alone = _sweep(engine.mlp(1), clean, sizes=[12], train=train)
    np.testing.assert_allclose(mixed.test_curve[:, 0], alone.test_curve[:, 0], rtol=1e-5)
    np.testing.assert_allclose(mixed.train_curve[:, 0], alone.train_curve[:, 0], rtol=1e-5)
    assert np.isfinite(mixed.test_mse).all()  # the size-40 run fits its garbage, finitely


def test_minibatch_differs_from_full_batch_and_reports_progress():
    data = _data(4, 1, 64, 4)
    calls = []
    full = _sweep(engine.mlp(1), data, sizes=[64], train=SMALL)
    mini = _sweep(engine.mlp(1), data, sizes=[64], train=dataclasses.replace(SMALL, batch_size=8),
                  progress=lambda done, total: calls.append((done, total)))
    assert np.isfinite(mini.test_curve).all() and not mini.diverged.any()
    assert not np.allclose(mini.test_curve[..., 1:], full.test_curve[..., 1:], rtol=1e-3)
    # the same initial networks
    np.testing.assert_allclose(mini.test_curve[..., 0], full.test_curve[..., 0], rtol=1e-6)
    assert calls == [(25, 100), (50, 100), (75, 100), (100, 100)]
    np.testing.assert_array_equal(full.eval_steps, [0, 25, 50, 75, 100])


def test_a_budget_that_is_not_a_multiple_of_eval_every_ends_on_it():
    """60 steps evaluated every 25: evaluations at 0, 25, 50 and 60, and the last chunk's steps
    beyond 60 do nothing. A typed key (`jax.random.key`) works as well as a raw one."""
    data = _data(10, 1, 16, 4)
    calls = []
    res = _sweep(engine.mlp(1), data, sizes=[16], key=jax.random.key(0),
                 train=dataclasses.replace(SMALL, steps=60),
                 progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(res.eval_steps, [0, 25, 50, 60])
    assert calls == [(25, 60), (50, 60), (60, 60)]
    assert res.stopped_step[0, 0] == 60 and np.isfinite(res.test_curve).all()


def test_early_stopping_reports_the_best_validation_evaluation():
    """Four noisy samples and a long budget overfit: validation error rises, and after `patience`
    evaluations without a new best the run stops, long before the budget. The reported test MSE
    is the test curve at the best validation evaluation; curves after the stop are blank."""
    data = _data(5, 2, 4, 4, n_val=64)
    train = TrainSpec(optimizer="adam", learning_rate=3e-2, steps=3000, eval_every=10, patience=5,
                      width=32)
    calls = []
    res = _sweep(engine.mlp(1), data, sizes=[4], train=train,
                 progress=lambda done, total: calls.append(done))
    assert (res.stopped_step < 3000).all()
    assert calls[-1] == 3000 and len(calls) < 300  # the loop ended early, and said so
    for s in range(2):
        val, test = res.val_curve[s, 0], res.test_curve[s, 0]
        best = int(np.nanargmin(val))
        assert res.best_step[s, 0] == res.eval_steps[best]
        assert res.test_mse[s, 0] == test[best]
        assert res.train_mse[s, 0] == res.train_curve[s, 0, best]
        # stopped after `patience` evaluations without improvement
        assert res.stopped_step[s, 0] == res.best_step[s, 0] + 5 * 10
        after = res.eval_steps > res.stopped_step[s, 0]
        assert np.isnan(val[after]).all() and np.isfinite(val[~after]).all()


def test_diverging_learning_rate_is_reported_not_drawn():
    """SGD with learning rate 1e3 blows up; 1e-2 does not. The two sweeps share one compiled
    program (the learning rate is an argument, not a constant)."""
    data = _data(6, 2, 32, 4)
    sane = TrainSpec(optimizer="sgd", learning_rate=1e-2, steps=100, eval_every=25, patience=0,
                     width=16)
    huge = dataclasses.replace(sane, learning_rate=1e3)
    ok = _sweep(engine.mlp(1), data, sizes=[16, 32], train=sane)
    programs = program.program.cache_info().currsize
    bad = _sweep(engine.mlp(1), data, sizes=[16, 32], train=huge)
    assert program.program.cache_info().currsize == programs  # no new program

    assert not ok.diverged.any() and np.isfinite(ok.test_mse).all()
    assert bad.diverged.all()
    assert np.isnan(bad.test_mse).all() and np.isnan(bad.train_mse).all()
    assert (bad.stopped_step < 100).all()
    for s in range(2):
        for i in range(2):
            broke = bad.eval_steps >= bad.stopped_step[s, i]
            assert np.isnan(bad.test_curve[s, i, broke]).all()
            assert np.isfinite(bad.test_curve[s, i, ~broke]).all()


def test_runs_at_nan_loss_from_the_start_are_diverged():
    """An initial loss that overflows float32 counts as diverged at step 0."""
    data = list(_data(7, 1, 16, 4))
    data[1] = data[1] * np.float32(1e30)
    res = _sweep(engine.mlp(1), data, sizes=[16], train=SMALL)
    assert res.diverged.all() and res.stopped_step[0, 0] == 0 and np.isnan(res.test_curve).all()


# --- Planning, cost, validation ------------------------------------------------------------------


def test_bucket_plan_follows_the_cost():
    """Long full-batch budgets keep sizes apart (masking 16 rows up to 512 costs 32 times the
    work); minibatches cost the same whatever `n`, so every size shares one bucket."""
    sizes = [16, 32, 64, 128, 256, 512]
    costs = planner.layer_costs(parse_layers(engine.mlp(2)), 16, (64, 64))
    long = TrainSpec(steps=5000, width=64)
    plan = planner.plan_buckets(sizes, costs, (), 4, 1, 512, long)
    assert len(plan) >= 3 and plan[-1] == (5,)
    mini = TrainSpec(steps=5000, width=64, batch_size=32)
    assert planner.plan_buckets(sizes, costs, (), 4, 1, 512, mini) == (tuple(range(6)),)


def test_bucket_plan_counts_the_memory_traffic_of_narrow_layers(monkeypatch):
    """A tree CNN of 8 channels does little arithmetic per input (1,073 floats against 0.45 us of
    arithmetic at d = 64) but reads and writes every activation three times a step: padding 16
    rows up to 2048 costs that traffic 128 times, so the two largest sizes get buckets of their own,
    and there are more buckets than on arithmetic alone (which pads 512 rows up to 1,024; coarser
    buckets like those were measured 1.45x slower at d = 64)."""
    sizes = [2 ** k for k in range(4, 12)]
    costs = planner.layer_costs(parse_layers(engine.tree_cnn(64, 2)), 64, (8,) * 6)
    plan = planner.plan_buckets(sizes, costs, (), 4, 1, 2560, TrainSpec(steps=1000))
    assert plan[-2:] == ((6,), (7,)), plan
    monkeypatch.setattr(planner, "_SECONDS_PER_FLOAT", 0.0)
    arithmetic = planner.plan_buckets(sizes, costs, (), 4, 1, 2560, TrainSpec(steps=1000))
    assert len(plan) > len(arithmetic) and (6,) not in arithmetic, (plan, arithmetic)


def test_estimate_cost_grows_with_the_work():
    train = TrainSpec(steps=1000, width=64)
    base = estimate_cost(engine.mlp(2), 16, 512, 24, train)
    assert base > 0
    assert estimate_cost(engine.mlp(2), 16, 512, 48, train) > base
    assert estimate_cost(engine.mlp(2), 16, 1024, 24, train) > base
    assert estimate_cost(engine.mlp(2), 16, 512, 24, TrainSpec(steps=2000, width=64)) > base
    assert estimate_cost(engine.tree_cnn(16, 2), 16, 512, 24, train) > 0
    # with the sizes, the buckets the sweep would choose: less than the all-at-n_max bound
    assert estimate_cost(engine.mlp(2), 16, 512, 24, train, sizes=[16, 64, 512]) < base
    with pytest.raises(ValueError, match="increasing"):
        estimate_cost(engine.mlp(2), 16, 512, 24, train, sizes=[64, 16])
    with pytest.raises(ValueError, match="TrainSpec"):
        estimate_cost(engine.mlp(2), 16, 512, 24, {"steps": 10})


@pytest.mark.parametrize("changes, message", [
    ({"optimizer": "rmsprop"}, "Unknown optimizer"),
    ({"learning_rate": 0.0}, "learning_rate must be a positive"),
    ({"learning_rate": float("nan")}, "learning_rate must be a positive"),
    ({"steps": 10, "eval_every": 50}, "raise steps or lower eval_every"),
    ({"steps": 0}, "steps must be at least 1"),
    ({"batch_size": -1}, "batch_size must be at least 0"),
    ({"patience": 1.5}, "patience must be a whole number"),
    ({"width": "wide"}, "width must be an int or a sequence"),
])
def test_train_spec_rejects_bad_fields(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainSpec(**changes)


def _bad_inputs():
    data = _data(8, 2, 16, 4)
    x, y, xv, yv, xt, yt = data
    nan_x = x.copy()
    nan_x[0, 3, 0] = np.nan
    ok = {"sizes": [8, 16], "train": SMALL}
    return [
        ((x[0], y, xv, yv, xt, yt), ok, r"x_train must have shape \(S, n_max, d\)"),
        ((x, y[:, :8], xv, yv, xt, yt), ok, "y_train must have shape"),
        ((x, y, xv[:1], yv, xt, yt), ok, "one validation set per seed"),
        ((x, y, xv, yv, xt[:, :3], yt), ok, "x_test must have shape"),
        ((x, y, xv, yv, xt, yt[:5]), ok, "y_test must have shape"),
        ((nan_x, y, xv, yv, xt, yt), ok, "x_train has non-finite values"),
        (data, {**ok, "sizes": [16, 8]}, "strictly increasing"),
        (data, {**ok, "sizes": [8, 32]}, "exceeds the 16 training rows"),
        (data, {**ok, "sizes": []}, "non-empty list"),
        (data, {**ok, "sizes": [8.5]}, "non-empty list of whole numbers"),
        (data, {**ok, "train": TrainSpec(batch_size=32)}, "batch_size 32 exceeds"),
        (data, {**ok, "train": {"steps": 10}}, "train must be a TrainSpec"),
        (data, {**ok, "train": TrainSpec(width=(8, 8))}, "width has 2 entries"),
        (data, {**ok, "seeds": [0, 0]}, "distinct"),
        (data, {**ok, "seeds": [0]}, "seeds must list 2"),
        (data, {**ok, "devices": []}, "non-empty sequence of jax devices"),
        (data, {**ok, "buckets": [[16], [8]]}, "consecutive groups"),
        (data, {**ok, "progress": 3}, "progress must be a callable"),
        (data, {**ok, "key": "seed"}, "key must be a jax.random key"),
    ]


@pytest.mark.parametrize("data, kwargs, message", _bad_inputs())
def test_bad_inputs_raise_with_a_message(data, kwargs, message):
    kwargs = {"key": jax.random.PRNGKey(0), **kwargs}
    with pytest.raises(ValueError, match=message):
        train_sweep(engine.mlp(1), *data, **kwargs)


def test_architecture_errors_come_from_the_specs():
    data = _data(9, 1, 8, 6)
    with pytest.raises(ValueError, match="not a power|stride"):
        train_sweep(engine.tree_cnn(8, 2), *data, sizes=[8], train=SMALL, key=jax.random.PRNGKey(0))


def test_doctests():
    result = doctest.testmod(training, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# --- Frozen layers, the sigmoid output, probes and parameters ------------------------------------

SIGMOID_MLP = engine.mlp(2, activation="sigmoid", b_std=0.5)
FROZEN = TrainSpec(optimizer="adam", learning_rate=3e-2, steps=60, eval_every=20, patience=0,
                   width=8)


def _segments(layers, d, width):
    """`[(start, stop)]` of each weight layer's weights and bias in the flat parameter vector."""
    params = init(layers, d, key=jax.random.PRNGKey(0), width=width)
    sizes = [a.size for p in params if p for a in p]
    ends = np.cumsum([0] + sizes)
    return [(int(ends[2 * k]), int(ends[2 * k + 2])) for k in range(len(sizes) // 2)]


@pytest.mark.parametrize("frozen", [(0,), (1,), (0, 2)])
def test_frozen_layers_stay_bit_identical_to_their_initialisation(frozen):
    """After training, the frozen layers' weights and biases equal `init`'s draws bit for bit;
    every other layer moved. (0,) takes the frozen-head path, (1,) and (0, 2) mask gradients."""
    data = _data(11, 2, 24, 4, shared_test=False)
    train = dataclasses.replace(FROZEN, frozen=frozen)
    res = _sweep(SIGMOID_MLP, data, sizes=[12, 24], train=train, return_params=True,
                 key=jax.random.PRNGKey(4))
    assert res.params.shape[:2] == (2, 2) and res.params.dtype == np.float32
    assert (res.best_step > 0).all()  # the reported networks were trained
    for s in range(2):
        start = training.ravel_params(init(SIGMOID_MLP, 4, width=8, key=jax.random.fold_in(
            jax.random.PRNGKey(4), s)))
        for i in range(2):
            for k, (a, b) in enumerate(_segments(SIGMOID_MLP, 4, 8)):
                same = np.array_equal(res.params[s, i, a:b], start[a:b])
                assert same == (k in frozen), (s, i, k)


def test_a_frozen_head_computed_once_equals_masked_gradients(monkeypatch):
    """The frozen head evaluated once and the head kept in every step (its gradient cut, its
    updates masked) give the same numbers: identical curves and parameters."""
    data = _data(12, 2, 24, 4)
    train = dataclasses.replace(FROZEN, frozen=(0,), output="sigmoid")
    kwargs = dict(sizes=[12, 24], train=train, return_params=True, x_probe=data[4][:7])
    once = _sweep(SIGMOID_MLP, data, **kwargs)
    monkeypatch.setattr(head, "PRECOMPUTE", False)
    every_step = _sweep(SIGMOID_MLP, data, **kwargs)
    np.testing.assert_allclose(once.test_curve, every_step.test_curve, rtol=1e-6)
    np.testing.assert_allclose(once.params, every_step.params, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(once.probe, every_step.probe, rtol=1e-6)


def test_sigmoid_output_links_the_loss_and_every_reported_error():
    """With `output="sigmoid"` the model is sigmoid(network): the step-0 test MSE is that of
    sigmoid(f0) for the initial network f0 (the linear sweep's, on the same draws), and one SGD
    step on a training set equal to the validation set moves the parameters by exactly
    -lr * grad mean((sigmoid(f) - y)^2), computed here by jax.grad."""
    d, n = 4, 16
    x, y, _, _, xt, yt = _data(13, 1, n, d)
    y = (y > 0).astype(np.float32)
    yt = (yt > 0).astype(np.float32)
    layers = engine.mlp(1, activation="sigmoid", b_std=0.5)
    key = jax.random.PRNGKey(7)
    train = TrainSpec(optimizer="sgd", learning_rate=0.5, steps=1, eval_every=1, patience=0,
                      width=8)
    lin = train_sweep(layers, x, y, x, y, xt, yt, sizes=[n], train=train, key=key,
                      x_probe=xt, return_params=True)
    sig = train_sweep(layers, x, y, x, y, xt, yt, sizes=[n], key=key, x_probe=xt,
                      return_params=True, train=dataclasses.replace(train, output="sigmoid"))
    p0 = init(layers, d, width=8, key=jax.random.fold_in(key, 0))
    f0 = np.asarray(apply(layers, p0, xt), np.float64)
    np.testing.assert_allclose(lin.test_curve[0, 0, 0], np.mean((f0 - yt) ** 2), rtol=1e-5)
    np.testing.assert_allclose(sig.test_curve[0, 0, 0], np.mean((1 / (1 + np.exp(-f0)) - yt) ** 2),
                               rtol=1e-5)

    def loss(flat):
        params = training.unravel_params(layers, d, 8, flat)
        return jnp.mean((jax.nn.sigmoid(apply(layers, params, x[0])) - y[0]) ** 2)

    flat0 = jnp.asarray(training.ravel_params(p0))
    expected = flat0 - 0.5 * jax.grad(loss)(flat0)
    assert sig.best_step[0, 0] == 1  # the step lowered the (training = validation) loss
    np.testing.assert_allclose(sig.params[0, 0], expected, rtol=1e-5, atol=1e-6)
    after = training.unravel_params(layers, d, 8, sig.params[0, 0])
    np.testing.assert_allclose(sig.probe[0, 0], jax.nn.sigmoid(apply(layers, after, xt)),
                               rtol=1e-5)


@pytest.mark.parametrize("per_seed", [False, True])
def test_probe_is_the_best_networks_output(per_seed):
    """`probe` equals `apply` on the returned parameters (those of the best validation
    evaluation, where `best_step` says), for a probe shared by all runs or one per seed."""
    data = _data(14, 2, 32, 4, n_val=8)
    rng = np.random.default_rng(0)
    xp = rng.standard_normal((2, 5, 4) if per_seed else (5, 4)).astype(np.float32)
    res = _sweep(engine.mlp(1), data, sizes=[8, 32], return_params=True, x_probe=xp,
                 train=TrainSpec(learning_rate=3e-2, steps=200, eval_every=20, patience=0,
                                 width=16))
    assert res.probe.shape == (2, 2, 5)
    for s in range(2):
        for i in range(2):
            params = training.unravel_params(engine.mlp(1), 4, 16, res.params[s, i])
            out = apply(engine.mlp(1), params, xp[s] if per_seed else xp)
            np.testing.assert_allclose(res.probe[s, i], out, rtol=1e-5, atol=1e-6)
    without = _sweep(engine.mlp(1), data, sizes=[8, 32], train=TrainSpec(
        learning_rate=3e-2, steps=200, eval_every=20, patience=0, width=16))
    assert without.probe is None and without.params is None
    np.testing.assert_allclose(without.test_curve, res.test_curve, rtol=1e-6)


def test_probe_of_a_diverged_run_is_nan():
    data = _data(15, 1, 16, 4)
    res = _sweep(engine.mlp(1), data, sizes=[16], x_probe=data[4][:3],
                 train=TrainSpec(optimizer="sgd", learning_rate=1e3, steps=40, eval_every=10,
                                 patience=0, width=8))
    assert res.diverged.all() and np.isnan(res.probe).all()


def test_given_initial_parameters_replace_the_draws():
    """`init_params` equal to the draws of `key` reproduce the sweep; other parameters change
    it."""
    data = _data(16, 2, 16, 4)
    key = jax.random.PRNGKey(5)
    drawn = np.stack([training.ravel_params(init(engine.mlp(1), 4, width=8,
                                                 key=jax.random.fold_in(key, s)))
                      for s in range(2)])
    train = dataclasses.replace(SMALL, width=8, steps=50)
    a = _sweep(engine.mlp(1), data, sizes=[16], train=train, key=key)
    b = _sweep(engine.mlp(1), data, sizes=[16], train=train, key=key, init_params=drawn)
    c = _sweep(engine.mlp(1), data, sizes=[16], train=train, key=key, init_params=drawn[::-1])
    np.testing.assert_array_equal(a.test_curve, b.test_curve)
    assert not np.allclose(a.test_curve, c.test_curve)


def test_ravel_and_unravel_params_round_trip():
    params = init(engine.mlp(2), 3, key=jax.random.PRNGKey(0), width=[5, 4])
    flat = training.ravel_params(params)
    assert flat.shape == (3 * 5 + 5 + 5 * 4 + 4 + 4 + 1,)
    back = training.unravel_params(engine.mlp(2), 3, [5, 4], flat)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"flat must have shape \(49,\)"):
        training.unravel_params(engine.mlp(2), 3, [5, 4], flat[:-1])


def test_estimate_cost_counts_frozen_layers_and_probes():
    """A frozen first layer leaves the step (computed once), a frozen middle layer keeps its
    forward and input-gradient passes; probes add evaluation work."""
    layers = engine.mlp(2, activation="sigmoid")
    train = TrainSpec(steps=1000, width=256, patience=0)

    def cost(frozen, **kwargs):
        return estimate_cost(layers, 64, 1024, 8, dataclasses.replace(train, frozen=frozen),
                             **kwargs)

    full, head, middle, both = cost(()), cost((0,)), cost((1,)), cost((0, 1))
    assert max(head, middle) < full and both < min(head, middle)
    assert cost((), n_probe=4096) > full
    with pytest.raises(ValueError, match="weight layer"):
        cost((3,))


@pytest.mark.parametrize("changes, message", [
    ({"output": "softmax"}, "Unknown output"),
    ({"frozen": (0, 0)}, "more than once"),
    ({"frozen": (-1,)}, "frozen entries must be at least 0"),
    ({"frozen": "0"}, "frozen must be a sequence"),
    ({"frozen": (0.5,)}, "frozen entries must be a whole number"),
])
def test_train_spec_rejects_bad_frozen_and_output(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainSpec(**changes)


@pytest.mark.parametrize("kwargs, message", [
    ({"train": dataclasses.replace(SMALL, frozen=(2,))},
     r"frozen names weight layer\(s\) \[2\], but the architecture has 2"),
    ({"x_probe": np.zeros((5, 3), np.float32)}, "x_probe must have shape"),
    ({"x_probe": np.zeros((3, 5, 4), np.float32)}, "x_probe must have shape"),
    ({"x_probe": np.full((5, 4), np.nan, np.float32)}, "x_probe has non-finite"),
    ({"return_params": "yes"}, "return_params must be True or False"),
    ({"init_params": np.zeros((2, 7), np.float32)}, r"init_params must have shape \(S, P\)"),
])
def test_bad_probe_frozen_and_init_arguments_raise(kwargs, message):
    data = _data(17, 2, 16, 4)
    kwargs = {"sizes": [16], "train": SMALL, "key": jax.random.PRNGKey(0), **kwargs}
    with pytest.raises(ValueError, match=message):
        train_sweep(engine.mlp(1), *data, **kwargs)
