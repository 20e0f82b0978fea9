"""`train_sweep`: every (seed, sample size) run of one architecture, one compiled program.

See `engine.training` for what a sweep computes; this module lays the runs out in buckets,
calls the program (`engine.training.program`) chunk by chunk, and gathers the results.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from engine.networks import init, parameter_count, resolve_widths
from engine.specs import Architecture, parse_layers
from engine.training.checks import (check_data, check_devices, check_init, check_probe,
                                    check_seeds)
from engine.training.head import head_program, split_frozen_head
from engine.training.params import ravel
from engine.training.plan import check_buckets, layer_costs, plan_buckets, runs_per_batch
from engine.training.program import Hyper, initial_state, optimizer, program
from engine.training.spec import SweepResult, TrainSpec, check_frozen

# Per-run summaries fetched from the final state, with their numpy dtypes.
_SUMMARY = {"best_train": np.float64, "best_test": np.float64, "best_step": np.int64,
            "stopped": np.int64, "diverged": bool}


def train_sweep(layers: Iterable[Any], x_train, y_train, x_val, y_val, x_test, y_test, *,
                sizes: Sequence[int], train: TrainSpec, key, progress: Callable | None = None,
                devices: Sequence[Any] | None = None, seeds: Sequence[int] | None = None,
                buckets: Sequence[Sequence[int]] | None = None, x_probe=None,
                return_params: bool = False, init_params=None) -> SweepResult:
    """Train `layers` on every (seed, sample size) pair; one compiled program for the grid.

    Args:
        layers: layer dicts (or a parsed architecture), as for `engine.networks`.
        x_train, y_train: `(S, n_max, d)` and `(S, n_max)`, one training set per seed. Rows beyond
            `max(sizes)` are never read (they may hold anything).
        x_val, y_val: `(S, n_val, d)` and `(S, n_val)`: one validation set per seed, shared by all
            sizes of that seed; it picks the reported evaluation and drives early stopping.
        x_test, y_test: `(n_test, d)` and `(n_test,)` shared by every run, or `(S, n_test, d)` and
            `(S, n_test)`, one per seed.
        sizes: increasing sample sizes `n <= n_max`; run `(s, i)` trains on rows `:sizes[i]`.
        train: a `TrainSpec`.
        key: a `jax.random` key; see the module docstring for how runs derive theirs.
        progress: called as `progress(done_steps, total_steps)` after every chunk of `eval_every`
            steps, and once with `done_steps == total_steps` at the end (also when every run stopped
            early).
        devices: devices to shard the runs over (default `jax.local_devices()`).
        seeds: the index each training set's key is folded with (default `0, ..., S - 1`), so a
            loop of one-seed calls with `seeds=[s]` reproduces row `s` of a sweep.
        buckets: sizes trained together in one vmapped block, padded and masked to the largest,
            as consecutive groups of `sizes` (e.g. `[[16, 32], [64]]`); None lets the cost model
            choose (module docstring). Results do not depend on it beyond float32 rounding.
        x_probe: `(n_probe, d)` inputs shared by every run, or `(S, n_probe, d)`, one set per seed:
            `SweepResult.probe` then holds each run's outputs on them (after `train.output`'s
            link) at its best validation evaluation. None (the default) costs nothing.
        return_params: whether `SweepResult.params` holds each run's flat parameters at its best
            validation evaluation (`unravel_params` turns a row back into a network).
        init_params: `(S, P)` flat initial parameters, one row per seed (`ravel_params` of an
            `engine.networks.init` result), instead of the draws from `key`; minibatch indices
            still come from `key` and `seeds`.

    Returns:
        A `SweepResult` with numpy arrays (float64 for errors).
    """
    if not isinstance(train, TrainSpec):
        raise ValueError(f"train must be a TrainSpec, got {type(train).__name__}.")
    if progress is not None and not callable(progress):
        raise ValueError("progress must be a callable progress(done_steps, total_steps) or None.")
    arch = parse_layers(layers)
    x, y, xv, yv, xt, yt, sizes = check_data(x_train, y_train, x_val, y_val, x_test, y_test, sizes)
    s_count, n_max, d = x.shape
    arch.lengths(d)
    widths = resolve_widths(arch, train.width)
    if train.batch_size > n_max:
        raise ValueError(f"batch_size {train.batch_size} exceeds the {n_max} training rows per "
                         "seed; use a smaller batch_size, or 0 for full batch.")
    seed_ids = check_seeds(seeds, s_count)
    devices = check_devices(devices)
    frozen = check_frozen(arch, train.frozen)
    xp = check_probe(x_probe, s_count, d)
    if not isinstance(return_params, (bool, np.bool_)):
        raise ValueError(f"return_params must be True or False, got {return_params!r}.")
    keep_best = bool(return_params)
    try:
        jax.random.fold_in(key, 0)
    except Exception:
        raise ValueError(f"key must be a jax.random key, e.g. jax.random.PRNGKey(0), got "
                         f"{key!r}.") from None

    mesh = Mesh(np.asarray(devices), ("runs",))
    n_dev = len(devices)
    shared_test = xt.ndim == 2
    stage = split_frozen_head(arch, d, widths, frozen)
    if buckets is None:
        trained = (arch, d, widths, frozen) if stage is None else (stage.arch, stage.d,
                                                                     stage.widths, stage.frozen)
        buckets = plan_buckets(sizes.tolist(), layer_costs(*trained[:3]), trained[3], s_count,
                               n_dev, xv.shape[1] + xt.shape[-2], train)
    else:
        buckets = check_buckets(buckets, sizes)

    # Seed s's network from `init` (one compiled program per architecture, whatever the sweep's
    # shapes), as one flat float32 vector.
    if init_params is None:
        flat = np.stack([ravel(init(arch, d, key=jax.random.fold_in(key, int(seed)),
                                     width=widths, dtype=jnp.float32)) for seed in seed_ids])
    else:
        flat = check_init(init_params, s_count, parameter_count(arch, d, width=widths))
    steps, every = train.steps, train.eval_every

    # A frozen head (the frozen weight layers nearest the input) is evaluated once per seed; the
    # program then trains the rest of the network on its outputs (module docstring).
    featurize = None
    if stage is not None:
        featurize = _head_features(arch, d, widths, stage, flat, devices[0])
        xv, xt, yt, xp = _through_head(featurize, xv, xt, yt, xp, s_count)
        shared_test = False  # features differ from seed to seed
        t_arch, t_d, t_widths, t_frozen = stage.arch, stage.d, stage.widths, stage.frozen
        t_flat = flat[:, stage.size:]
    else:
        t_arch, t_d, t_widths, t_frozen, t_flat = arch, d, widths, frozen, flat
    opt_shapes = jax.eval_shape(optimizer(train.optimizer, train.learning_rate).init,
                                jax.ShapeDtypeStruct(t_flat.shape[1:], np.float32))

    datas, states, run_index = [], [], []
    for bucket in buckets:
        data, state, pairs = _bucket(bucket, sizes, x, y, xv, yv, xt, yt, xp, seed_ids, n_dev,
                                     shared_test, featurize, t_flat, opt_shapes, steps, keep_best)
        datas.append(data)
        states.append(state)
        run_index.append(pairs)
    batches = tuple(runs_per_batch(t_arch, t_d, t_widths, train.batch_size or data["x"].shape[1],
                                   len(data["n"]) // n_dev, devices[0].platform)
                    for data in datas)

    run_sharding = NamedSharding(mesh, PartitionSpec("runs"))
    replicated = NamedSharding(mesh, PartitionSpec())
    datas = jax.device_put(tuple(datas), run_sharding)
    states = jax.device_put(tuple(states), run_sharding)
    test = {"xt": xt, "yt": yt} if shared_test else {}
    if xp is not None and xp.ndim == 2:
        test["xp"] = xp
    test = jax.device_put(test, replicated)
    key = jax.device_put(key, replicated)
    chunk = program(t_arch, t_d, t_widths, train.optimizer, train.batch_size, every, mesh,
                    shared_test, batches, t_frozen, train.output, keep_best)

    n_chunks = -(-steps // every)
    eval_steps = np.minimum(np.arange(n_chunks + 1) * every, steps)
    history = []
    for c in range(n_chunks + 1):  # chunk 0 only evaluates the initial networks
        hyper = Hyper(lr=np.float32(train.learning_rate), steps=np.int32(steps),
                      patience=np.int32(train.patience), t0=np.int32(max(c - 1, 0) * every),
                      at=np.int32(eval_steps[c]), train=np.bool_(c > 0))
        states, (metrics, done) = chunk(states, datas, test, key, jax.device_put(hyper, replicated))
        metrics, done = jax.device_get((metrics, done))
        history.append(metrics)
        if all(bool(flags[:len(pairs)].all()) for flags, pairs in zip(done, run_index)):
            break  # every run stopped early or diverged
        if progress is not None and 0 < c < n_chunks:
            progress(int(eval_steps[c]), steps)
    if progress is not None:
        progress(steps, steps)
    curves, fields = _gather(states, history, run_index, s_count, len(sizes), eval_steps)
    params = probe = None
    if keep_best:
        params = np.zeros((s_count, len(sizes), flat.shape[1]), np.float32)
        params[:] = flat[:, None, :]  # a frozen head stays as drawn
        trained = params[..., flat.shape[1] - t_flat.shape[1]:]
        _scatter(trained, jax.device_get([state.best_params for state in states]), run_index)
    if xp is not None:
        probe = np.full((s_count, len(sizes), xp.shape[-2]), np.nan)
        _scatter(probe, jax.device_get([state.best_probe for state in states]), run_index)
        probe[fields["diverged"]] = np.nan
    return SweepResult(
        sizes=sizes.copy(), eval_steps=eval_steps.astype(np.int64),
        train_curve=curves[0], val_curve=curves[1], test_curve=curves[2],
        test_mse=np.where(fields["diverged"], np.nan, fields["best_test"]),
        train_mse=np.where(fields["diverged"], np.nan, fields["best_train"]),
        best_step=fields["best_step"],
        stopped_step=fields["stopped"], diverged=fields["diverged"],
        buckets=tuple(tuple(int(sizes[i]) for i in bucket) for bucket in buckets),
        batch_runs=batches, devices=n_dev, probe=probe,
        params=params if return_params else None)


def _head_features(arch: Architecture, d: int, widths: tuple, stage, flat: np.ndarray,
                   device) -> Callable:
    """`featurize(inputs, seeds_of=None)`: the frozen head's outputs `(S or R, m, C)` on inputs
    `(S or R, m, d)`, with seed `s`'s head (or run `r`'s, `seeds_of[r]`)."""
    head_prog = head_program(arch, d, widths, stage.layers)
    head_params = jax.device_put(flat[:, :stage.size], device)

    def featurize(inputs, seeds_of=None):
        params = head_params if seeds_of is None else head_params[seeds_of]
        return np.asarray(head_prog(params, jax.device_put(inputs, device)))

    return featurize


def _through_head(featurize: Callable, xv, xt, yt, xp, s_count: int) -> tuple:
    """Validation, test and probe inputs of each seed through its head, in one call (one compiled
    shape); the test set (and its labels) and probes become one per seed."""
    shared_test = xt.ndim == 2
    per_seed = [xv, np.broadcast_to(xt, (s_count, *xt.shape[-2:])) if shared_test else xt]
    if xp is not None:
        per_seed.append(np.broadcast_to(xp, (s_count, *xp.shape[-2:])) if xp.ndim == 2 else xp)
    cuts = np.cumsum([a.shape[1] for a in per_seed])[:-1]
    xv, xt, *rest = np.split(featurize(np.concatenate(per_seed, axis=1)), cuts, axis=1)
    yt = np.broadcast_to(yt, (s_count, yt.shape[-1])) if shared_test else yt
    return xv, xt, yt, (rest[0] if rest else None)


def _bucket(bucket: tuple, sizes, x, y, xv, yv, xt, yt, xp, seed_ids, n_dev: int,
            shared_test: bool, featurize, t_flat, opt_shapes, steps: int, keep_best: bool):
    """One bucket's data and `RunState`: runs `(seed, size)` seed-major, padded to a multiple of
    the device count with halted copies of run 0; each run's rows at and after its `n` zeroed
    (and masked out of the loss). Returns `(data, state, pairs)`, `pairs` the real runs."""
    rows = int(sizes[bucket[-1]])
    pairs = [(s, i) for s in range(x.shape[0]) for i in bucket]
    order = pairs + [pairs[0]] * (-len(pairs) % n_dev)
    seed_of = np.array([s for s, _ in order])
    n_of = np.array([sizes[i] for _, i in order], dtype=np.int32)
    bx = x[seed_of, :rows].copy()
    by = y[seed_of, :rows].copy()
    beyond = np.arange(rows)[None, :] >= n_of[:, None]
    bx[beyond] = 0.0
    by[beyond] = 0.0
    if featurize is not None:
        bx = featurize(bx, seed_of)  # rows beyond n still masked out of the loss
    data = {"x": bx, "y": by, "n": n_of, "seed": seed_ids[seed_of].astype(np.int32),
            "xv": xv[seed_of], "yv": yv[seed_of]}
    if not shared_test:
        data["xt"], data["yt"] = xt[seed_of], yt[seed_of]
    if xp is not None and xp.ndim == 3:
        data["xp"] = xp[seed_of]
    padding = np.arange(len(order)) >= len(pairs)
    state = initial_state(t_flat[seed_of], opt_shapes, padding, steps, keep_best=keep_best,
                          n_probe=None if xp is None else xp.shape[-2])
    return data, state, pairs


def _scatter(out: np.ndarray, per_bucket: list, run_index: list) -> None:
    """Write each bucket's per-run rows into `out[seed, size]` (padding runs dropped)."""
    for values, pairs in zip(per_bucket, run_index):
        out[[s for s, _ in pairs], [i for _, i in pairs]] = values[:len(pairs)]


def _gather(states, history: list, run_index: list, s_count: int, n_sizes: int,
            eval_steps: np.ndarray) -> tuple:
    """`(curves, fields)`: the train/validation/test curves `(3, S, N, E)`, blank after an early
    stop and from the step a run diverged, and the `_SUMMARY` fields `(S, N)` of the final
    states."""
    final = jax.device_get([{name: getattr(state, name) for name in _SUMMARY}
                            for state in states])
    curves = np.full((3, s_count, n_sizes, len(eval_steps)), np.nan)
    fields = {name: np.zeros((s_count, n_sizes), dtype) for name, dtype in _SUMMARY.items()}
    for g, pairs in enumerate(run_index):
        r = len(pairs)
        seeds_g = np.array([s for s, _ in pairs])
        sizes_g = np.array([i for _, i in pairs])
        for e, evals in enumerate(history):
            for m in range(3):
                curves[m, seeds_g, sizes_g, e] = evals[g][m][:r]
        for name in fields:
            fields[name][seeds_g, sizes_g] = final[g][name][:r]
    # Blank what a plot must not draw: after an early stop, and from the step a run diverged.
    div = fields["diverged"][..., None]
    cut = fields["stopped"][..., None]
    blank = np.where(div, eval_steps >= cut, eval_steps > cut)
    curves[np.broadcast_to(blank, curves.shape)] = np.nan
    return curves, fields
