"""The device bench in one command: kernels, spectra, a training sweep and every default view, each
from empty caches in a fresh process, in one table.

    bash bench/gpu.sh [--markdown] [--only NAME ...] [--scale 0.25]
    make bench-gpu

Made for the machine with the GPU (JAX with CUDA, no Streamlit: only the engine is imported), and
runs the same on a CPU. Each workload runs in its own Python process with a fresh, empty
`IBL_CACHE_DIR` (results and JAX's persistent compilation cache, which is on as in the server), so
"cold" is what a first visitor waits for; "warm" is a second call in the same process (for a view,
a call with a fresh result cache whose compiled programs are kept: the compute alone). JAX's
compile events are counted apart: "compile s" is the time XLA spent compiling during the cold
call, "programs" how many it compiled. For a view that reports its results as they come
(`engine.cache.Partial`), "first s" is when its first partial view arrived in the cold call, what
a page draws first (the cold time where the view does not stream).

Workloads (the issue on live views gives the goals on an H200):

- `kernel_mlp`: MLP depth 6 NNGP + NTK, 20,000 x 20,000 inputs of d = 64 (goal 0.6 s warm);
- `kernel_tree`: tree CNN d = 256 (filter 2), 4,000 x 4,000 (goal 1 s warm);
- `spectrum_d24`: the hypercube spectrum of a 3-hidden-layer ReLU MLP NTK at d = 24, 16.8 M
  eigenvalues (goal 1 s warm);
- `train_tree`: the training bench's tree CNN sweep (4 seeds x 6 sizes, 1000 steps);
- `view:<page view>`: every page's default view (goal 10 s cold on an H200; on two CPU cores 30 s,
  120 s for Universality's sample-complexity view).

`--scale` shrinks the kernel and spectrum sizes (n by the factor, d of the spectrum by log2 of it),
for a check of the script on a small machine; the table says the sizes it ran. Speed goals live
here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time

from report import machine, print_table  # noqa: E402  (bench/report.py, beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"

VIEWS = {
    "view:eigenstructure hypercube": ("eigenstructure", "hypercube", "DEFAULT_HYPERCUBE", 10),
    "view:eigenstructure sphere": ("eigenstructure", "sphere", "DEFAULT_SPHERE", 10),
    "view:universality samples": ("universality", "sample_complexity", "DEFAULT_SAMPLES", 120),
    "view:universality depth": ("universality", "depth_sweep", "DEFAULT_DEPTH", 30),
    "view:depth separation dimension": ("separation", "dimension_sweep", "DEFAULT_DIMENSION", 30),
    "view:depth separation width": ("separation", "width_sweep", "DEFAULT_WIDTH", 30),
    "view:learning curves locality": ("depth_locality", "depth_locality", "DEFAULT_LOCALITY", 30),
    "view:learning curves theory": ("kernel_theory", "theory", "DEFAULT_THEORY", 30),
}
"""`name: (module of engine.experiments, cached view, its default spec, CPU goal in s)`."""
WORKLOADS = ["kernel_mlp", "kernel_tree", "spectrum_d24", "train_tree", *VIEWS]


def _compiles():
    """A list that collects `(seconds)` of every XLA compilation from now on."""
    import jax.monitoring

    seen: list = []

    def listen(event, duration, **kwargs):
        if event == COMPILE_EVENT:
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    return seen


def _timed(fn, seen: list) -> tuple:
    before = len(seen)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start, sum(seen[before:]), len(seen) - before


def child(name: str, scale: float) -> dict:
    """Run workload `name` in this (fresh) process and return its figures."""
    os.environ["IBL_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-bench-gpu-")
    os.environ["IBL_CALIBRATE"] = "0"
    sys.path.insert(0, ROOT)
    import numpy as np

    import engine
    from engine import cache

    cache.enable_compilation_cache()
    seen = _compiles()
    rng = np.random.default_rng(0)
    size = ""
    if name in ("kernel_mlp", "kernel_tree"):
        from engine.kernels import nngp_ntk

        n = max(int((20_000 if name == "kernel_mlp" else 4_000) * scale), 16)
        d = 64 if name == "kernel_mlp" else 256
        layers = engine.mlp(6) if name == "kernel_mlp" else engine.tree_cnn(256, 2)
        x = rng.normal(size=(n, d))
        size = f"{n:,} x {n:,}, d = {d}"
        run = lambda: nngp_ntk(layers, x)  # noqa: E731
    elif name == "spectrum_d24":
        from engine.spectra import hypercube_eigenvalues

        d = 24 - max(int(round(-math.log2(scale))), 0) if scale < 1 else 24
        size = f"d = {d}, {2 ** d:,} eigenvalues"
        run = lambda: hypercube_eigenvalues(engine.mlp(3), d)  # noqa: E731
    elif name == "train_tree":
        import jax

        import training as bench  # bench/training.py: the same workload, the same data
        from engine.training import TrainSpec, train_sweep

        data = bench._data()
        train = TrainSpec(**next(w[3] for w in bench.WORKLOADS if w[0] == "tree_cnn"))
        size = f"{bench.SEEDS} seeds x {len(bench.SIZES)} sizes, {train.steps} steps"
        run = lambda: train_sweep(engine.tree_cnn(bench.D, 2), *data, sizes=bench.SIZES,  # noqa: E731
                                  train=train, key=jax.random.PRNGKey(0))
    else:
        import importlib

        module, view, default, _ = VIEWS[name]
        experiments = importlib.import_module(f"engine.experiments.{module}")
        fn, spec = getattr(experiments, view), getattr(experiments, default)
        size = "default view"
        start, first = time.perf_counter(), []

        def run():
            fn(spec, partial=lambda view: first.append(time.perf_counter() - start))

        cold, compile_s, programs = _timed(run, seen)
        os.environ["IBL_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-bench-gpu-")  # results only
        warm, _, _ = _timed(run, seen)
        return {"size": size, "cold": cold, "warm": warm, "compile": compile_s,
                "programs": programs, "first": first[0] if first else cold}
    cold, compile_s, programs = _timed(run, seen)
    warm, _, _ = _timed(run, seen)
    return {"size": size, "cold": cold, "warm": warm, "compile": compile_s, "programs": programs,
            "first": cold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", nargs="*", help="workload names to run (default: all)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="shrink the kernel and spectrum sizes (a check on a small machine)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.scale)))
        return
    import subprocess

    names = args.only or WORKLOADS
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose among {WORKLOADS}")
    print(machine())
    rows = []
    began = time.perf_counter()
    for name in names:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name,
                              "--scale", str(args.scale)], capture_output=True, text=True)
        if out.returncode:
            rows.append([name, "-", "failed", "-", "-", "-", "-",
                         out.stderr.strip().splitlines()[-1]])
        else:
            r = json.loads(out.stdout.strip().splitlines()[-1])
            goal = (f"{VIEWS[name][3]} s cold, first results 10 s, on 2 CPU cores"
                    if name in VIEWS else "")
            rows.append([name, r["size"], f"{r['first']:.2f}", f"{r['cold']:.2f}",
                         f"{r['warm']:.2f}", f"{r['compile']:.2f}", str(r["programs"]), goal])
        print("  ", *rows[-1], file=sys.stderr, flush=True)
    print_table(["workload", "size", "first s", "cold s", "warm s", "compile s", "programs",
                 "goal"], rows, markdown=args.markdown, left=(0, 1, -1))
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
