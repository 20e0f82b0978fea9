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
import resource
import sys
from report import machine, print_table, run_child, timed_median  # noqa: E402  (bench/report.py, beside this script)

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
        mu, cold, warm = timed_median(lambda: spectra.sphere_eigenvalues(layers, d, 400), repeats)
        result.update(eig_cold=cold, eig_warm=warm, detail=f"{len(mu)} eigenvalues, "
                      f"{spectra.default_sphere_nodes(d, 400)} nodes")
    else:
        # Cold spectrum first (it compiles the kernel row), then the bare eigenvalues, warm and
        # measured again cold after clearing the compiled programs.
        spectrum, cold, warm = timed_median(lambda: spectra.hypercube_spectrum(layers, d), repeats)
        result.update(spec_cold=cold, spec_warm=warm)
        import jax

        from engine import kernels
        jax.clear_caches()
        kernels._compiled_stage.cache_clear()
        lam, cold, warm = timed_median(lambda: spectra.hypercube_eigenvalues(layers, d), repeats)
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

    print(machine(), file=sys.stderr)
    names = args.only or [w[0] for w in WORKLOADS]
    results = []
    for name in names:
        results.append(run_child(__file__, name, args.repeats))

    header = ["workload", "eigenvalues cold (s)", "eigenvalues warm (s)", "spectrum cold (s)",
              "spectrum warm (s)", "peak RSS (MiB)", "notes"]
    rows = []
    for res in results:
        spec = ([f"{res['spec_cold']:.2f}", f"{res['spec_warm']:.3f}"] if "spec_cold" in res
                else ["-", "-"])
        rows.append([res["label"], f"{res['eig_cold']:.2f}", f"{res['eig_warm']:.3f}", *spec,
                     f"{res['rss_mib']:,.0f}", res["detail"]])
    print_table(header, rows, markdown=args.markdown, left=(0, -1))
    return results


if __name__ == "__main__":
    main()
