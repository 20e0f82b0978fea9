"""Benchmark `engine.training.train_sweep`: one compiled sweep against a Python loop of single runs.

    python bench/training.py [--repeats 3] [--markdown] [--only NAME ...]

Workloads (the issue's): 4 seeds x 6 sample sizes (16, 32, ..., 512) on d = 16 Gaussian inputs, a
smooth target, Adam at learning rate 1e-3, 1000 steps, evaluation every 50 steps and no early
stopping (every run does the same work):

- `mlp`: `mlp(2)`, width 64, full batch;
- `mlp_minibatch`: the same with minibatches of 32;
- `tree_cnn`: `tree_cnn(16, 2)` with channels growing with depth (16, 32, 64, 128), full batch;
- `default_mlp`, `default_tree_cnn`: the same grids with the default `TrainSpec()` (Adam at 1e-2,
  2000 steps, early stopping with patience 10), the sweep alone.

For each, in a fresh Python process (so the cold times are really cold):

- sweep: one `train_sweep` call over the 24 runs, timed cold (its first call, compilation
  included) and warm (median of `repeats` further calls);
- loop: the same 24 runs as 24 `train_sweep` calls of one run each (`seeds=[s]`, `sizes=[n]`: the
  program sees only the run's first `n` rows, so no row is masked): each call is itself a jitted
  scan over steps, the same per-run program the sweep runs, so the loop is the best a Python loop
  over runs does with this engine. Its first pass compiles one program per sample size (6) and
  is reported as "loop cold"; the warm time is the median of `repeats` passes after it,
  compilation excluded. Sweep and loop alternate, so a shared machine's slow spells hit both;
- a naive baseline for the MLP: a Python loop over runs and steps calling one jitted training
  step (value_and_grad, optax update) per step, 24,000 dispatches, warm;
- the largest relative difference between the sweep's and the loop's test MSE, and
  `estimate_cost`'s prediction next to the cold sweep time.

Speed goals live here, never in tests: the issue asks the sweep to be at least 5x faster than the
loop.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from report import machine, print_table, run_child  # noqa: E402  (bench/report.py, beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SIZES = [16, 32, 64, 128, 256, 512]
SEEDS = 4
D = 16
WORKLOADS = [
    # name, label, builder (evaluated in the child), TrainSpec keywords, time the loop
    ("mlp", "MLP, 2 hidden layers of 64, full batch", "mlp(2)",
     {"learning_rate": 1e-3, "steps": 1000, "patience": 0, "width": 64}, True),
    ("mlp_minibatch", "MLP, 2 hidden layers of 64, batches of 32", "mlp(2)",
     {"learning_rate": 1e-3, "steps": 1000, "patience": 0, "width": 64, "batch_size": 32}, True),
    ("tree_cnn", "tree CNN, filters 2x2x2x2, channels 16-128, full batch", "tree_cnn(16, 2)",
     {"learning_rate": 1e-3, "steps": 1000, "patience": 0, "width": (16, 32, 64, 128)}, True),
    ("default_mlp", "MLP, default TrainSpec (2000 steps, patience 10)", "mlp(2)", {}, False),
    ("default_tree_cnn", "tree CNN, channels 16-128, default TrainSpec", "tree_cnn(16, 2)",
     {"width": (16, 32, 64, 128)}, False),
]


def _data():
    import numpy as np

    rng = np.random.default_rng(0)

    def target(x):
        return np.sin(x.sum(-1) / np.sqrt(D)) + 0.1 * rng.standard_normal(x.shape[:-1])

    x = rng.standard_normal((SEEDS, max(SIZES), D))
    xv = rng.standard_normal((SEEDS, 256, D))
    xt = rng.standard_normal((1024, D))
    return tuple(a.astype(np.float32) for a in (x, target(x), xv, target(xv), xt, target(xt)))


def _naive_loop(layers, data, train, key) -> float:
    """Seconds for the 24 runs as a Python loop over steps of one jitted step (warm)."""
    import jax
    import jax.numpy as jnp
    import optax

    from engine.networks import apply, init

    x, y = data[0], data[1]
    opt = optax.adam(train.learning_rate)

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(
            lambda p: jnp.mean((apply(layers, p, xb) - yb) ** 2))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def run(s, n):
        params = init(layers, D, key=jax.random.fold_in(key, s), width=train.width,
                      dtype=jnp.float32)
        opt_state = opt.init(params)
        xb, yb = jnp.asarray(x[s, :n]), jnp.asarray(y[s, :n])
        for _ in range(train.steps):
            params, opt_state, loss = step(params, opt_state, xb, yb)
        return float(loss)

    params = init(layers, D, key=key, width=train.width, dtype=jnp.float32)
    for n in SIZES:  # compile the six shapes first
        jax.block_until_ready(step(params, opt.init(params), jnp.asarray(x[0, :n]),
                                   jnp.asarray(y[0, :n])))
    start = time.perf_counter()
    for s in range(SEEDS):
        for n in SIZES:
            run(s, n)
    return time.perf_counter() - start


def run_one(name: str, repeats: int) -> dict:
    """Time one workload in this (fresh) process; returns a JSON-able dict."""
    import jax
    import numpy as np

    import engine  # noqa: F401
    from engine.specs import mlp, tree_cnn
    from engine.training import TrainSpec, estimate_cost, train_sweep

    _, label, builder, spec, with_loop = next(w for w in WORKLOADS if w[0] == name)
    layers = eval(builder, {"mlp": mlp, "tree_cnn": tree_cnn})  # a fixed builder from WORKLOADS
    train = TrainSpec(**spec)
    data = _data()
    x, y, xv, yv, xt, yt = data
    key = jax.random.PRNGKey(0)

    def sweep():
        return train_sweep(layers, *data, sizes=SIZES, train=train, key=key)

    def loop():
        out = np.zeros((SEEDS, len(SIZES)))
        for s in range(SEEDS):
            for i, n in enumerate(SIZES):
                # one run; its bucket holds exactly its n rows (the rest are never copied)
                one = train_sweep(layers, x[s:s + 1], y[s:s + 1], xv[s:s + 1], yv[s:s + 1], xt,
                                  yt, sizes=[n], train=train, key=key, seeds=[s])
                out[s, i] = one.test_mse[0, 0]
        return out

    result = {"name": name, "label": label,
              "estimate": estimate_cost(layers, D, max(SIZES), SEEDS * len(SIZES), train,
                                        sizes=SIZES, n_eval=256 + 1024)}
    start = time.perf_counter()
    res = sweep()
    result["sweep_cold"] = time.perf_counter() - start
    result["buckets"] = res.buckets
    result["batch_runs"] = res.batch_runs
    result["stopped"] = float(np.mean(res.stopped_step))
    if with_loop:
        start = time.perf_counter()
        looped = loop()
        result["loop_cold"] = time.perf_counter() - start
        result["max_diff"] = float(np.max(np.abs(looped - res.test_mse) / np.abs(res.test_mse)))
    sweeps, loops = [], []
    for _ in range(repeats):  # alternate, so slow spells of a shared machine hit both
        start = time.perf_counter()
        sweep()
        sweeps.append(time.perf_counter() - start)
        if with_loop:
            start = time.perf_counter()
            loop()
            loops.append(time.perf_counter() - start)
    result["sweep_warm"] = float(np.median(sweeps))
    if with_loop:
        result["loop_warm"] = float(np.median(loops))
    if name == "mlp":
        result["naive_warm"] = _naive_loop(layers, data, train, key)
    return result


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm calls (median is reported)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", nargs="*", help="workload names to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.repeats)))
        return []

    print(machine(f"{SEEDS} seeds x sizes {SIZES}, d = {D}"), file=sys.stderr)
    names = args.only or [w[0] for w in WORKLOADS]
    results = []
    for name in names:
        results.append(run_child(__file__, name, args.repeats))

    header = ["workload", "sweep cold (s)", "sweep warm (s)", "loop cold (s)", "loop warm (s)",
              "speed-up warm", "speed-up cold", "per-step loop (s)", "estimate (s)", "notes"]
    rows = []
    for res in results:
        looped = "loop_warm" in res
        notes = (f"buckets {'/'.join('+'.join(map(str, b)) for b in res['buckets'])}; "
                 f"runs vmapped together {list(res['batch_runs'])}")
        if looped:
            notes += f"; test MSE differs from the loop by {res['max_diff']:.0e}"
        if res["stopped"] < 1000 * 2 and "default" in res["name"]:
            notes += f"; mean stop at step {res['stopped']:.0f}"
        rows.append([
            res["label"], f"{res['sweep_cold']:.1f}", f"{res['sweep_warm']:.2f}",
            f"{res['loop_cold']:.1f}" if looped else "-",
            f"{res['loop_warm']:.2f}" if looped else "-",
            f"{res['loop_warm'] / res['sweep_warm']:.1f}x" if looped else "-",
            f"{res['loop_cold'] / res['sweep_cold']:.1f}x" if looped else "-",
            f"{res['naive_warm']:.1f}" if "naive_warm" in res else "-",
            f"{res['estimate']:.1f}", notes])
    print_table(header, rows, markdown=args.markdown, left=(0, -1))
    return results


if __name__ == "__main__":
    main()
