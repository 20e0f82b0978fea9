"""Benchmark `engine.spectra`: the hypercube spectrum at d = 16 and d = 20, and one sphere spectrum.

    python bench/spectra.py [--repeats 5] [--markdown] [--only NAME ...]

Workloads: an MLP with 3 hidden layers and deep tree CNNs (`tree_cnn(16, 2)`: four layers of
patches of 2; `tree_cnn(20, (4, 5))` and the deeper `tree_cnn(20, (2, 2, 5))`), ReLU, NTK, at
d = 16 (65,536 eigenvalues) and d = 20 (1,048,576). For each, `hypercube_eigenvalues` (one kernel
row and a fast Walsh–Hadamard transform) and `hypercube_spectrum` (plus frequency, spread and the
grouping into levels) are timed cold (the first call in a fresh process, compilation included)
and warm (the median of `repeats` further calls). One sphere row times `sphere_eigenvalues` for
5-layer ReLU NTK at d = 3 up to k = 400 the same way.

Each workload runs in its own Python process, so that every cold time is really cold and the peak
resident memory (`ru_maxrss`) is that workload's alone (it includes JAX and numpy, ~300 MiB).
Speed goals live here, never in tests: the d = 20 spectrum should take at most 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

WORKLOADS = [
    # name, label, kind, builder (evaluated in the child), d
    ("mlp3_d16", "MLP, 3 hidden layers, d = 16", "cube", "mlp(3)", 16),
    ("tree_cnn_2_d16", "tree CNN, filters 2x2x2x2, d = 16", "cube", "tree_cnn(16, 2)", 16),
    ("mlp3_d20", "MLP, 3 hidden layers, d = 20", "cube", "mlp(3)", 20),
    ("tree_cnn_4x5_d20", "tree CNN, filters 4x5, d = 20", "cube", "tree_cnn(20, (4, 5))", 20),
    ("tree_cnn_2x2x5_d20", "tree CNN, filters 2x2x5, d = 20", "cube", "tree_cnn(20, (2, 2, 5))",
     20),
    ("sphere_mlp4_d3", "sphere, 5-layer ReLU NTK, d = 3, k <= 400", "sphere", "mlp(4)", 3),
]


def _timed(fn, repeats):
    start = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - start)
    return out, cold, sorted(warm)[len(warm) // 2]


def run_one(name: str, repeats: int) -> dict:
    """Time one workload in this (fresh) process; returns a JSON-able dict."""
    import numpy as np

    import engine  # noqa: F401  (float64)
    from engine import spectra
    from engine.specs import mlp, tree_cnn

    _, label, kind, builder, d = next(w for w in WORKLOADS if w[0] == name)
    layers = eval(builder, {"mlp": mlp, "tree_cnn": tree_cnn})  # a fixed builder from WORKLOADS
    result = {"name": name, "label": label}
    if kind == "sphere":
        mu, cold, warm = _timed(lambda: spectra.sphere_eigenvalues(layers, d, 400), repeats)
        result.update(eig_cold=cold, eig_warm=warm, detail=f"{len(mu)} eigenvalues, "
                      f"{spectra.default_sphere_nodes(d, 400)} nodes")
    else:
        # Cold spectrum first (it compiles the kernel row), then the bare eigenvalues, warm and
        # measured again cold after clearing the compiled programs.
        spectrum, cold, warm = _timed(lambda: spectra.hypercube_spectrum(layers, d), repeats)
        result.update(spec_cold=cold, spec_warm=warm)
        import jax

        from engine import kernels
        jax.clear_caches()
        kernels._compiled_stage.cache_clear()
        lam, cold, warm = _timed(lambda: spectra.hypercube_eigenvalues(layers, d), repeats)
        result.update(eig_cold=cold, eig_warm=warm,
                      detail=f"{len(lam):,} eigenvalues, {len(spectrum.levels.eigenvalue)} levels, "
                             f"trace error {abs(lam.sum() - spectrum.diagonal):.0e}")
        assert np.array_equal(lam, spectrum.eigenvalues)
    result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm calls (median is reported)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--only", nargs="*", help="workload names to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(args.child, args.repeats)))
        return []

    import jax
    device = jax.devices()[0]
    print(f"engine on {jax.default_backend()} ({device.device_kind}), jax {jax.__version__}, "
          f"{os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}", file=sys.stderr)
    names = args.only or [w[0] for w in WORKLOADS]
    results = []
    for name in names:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name,
                              "--repeats", str(args.repeats)], check=True, capture_output=True,
                             text=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        print(f"{name}: {res}", file=sys.stderr, flush=True)

    header = ["workload", "eigenvalues cold (s)", "eigenvalues warm (s)", "spectrum cold (s)",
              "spectrum warm (s)", "peak RSS (MiB)", "notes"]
    rows = []
    for res in results:
        spec = ([f"{res['spec_cold']:.2f}", f"{res['spec_warm']:.3f}"] if "spec_cold" in res
                else ["-", "-"])
        rows.append([res["label"], f"{res['eig_cold']:.2f}", f"{res['eig_warm']:.3f}", *spec,
                     f"{res['rss_mib']:,.0f}", res["detail"]])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(c.rjust(w) if 0 < i < len(row) - 1 else c.ljust(w)
                            for i, (c, w) in enumerate(zip(row, widths))))
    return results


if __name__ == "__main__":
    main()
