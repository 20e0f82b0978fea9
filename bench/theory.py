"""Benchmark `engine.eigenlearning` (the kernel learning-curve theory) and the Theory view.

    python bench/theory.py [--repeats 5] [--markdown] [--only NAME ...]

Workloads, each `eigenlearning.predict` at 50 log-spaced sizes with a target:

* a million distinct eigenvalues `lam_i = i^-1.5` (`n` from 1 to 5e5), ridgeless and with three
  ridges (150 problems);
* a million eigenvalues log-uniform over 1e-300..1 (`n` up to 0.999 of the rank: the hardest
  case for the solver, kappa down to ~1e-300);
* the tree CNN NTK on `{-1, 1}^20` (`tree_cnn(20, (2, 2, 5))`), as its 2^20 eigenvalues and as its
  levels with multiplicities (the spectrum itself is computed once, outside the timing);

timed cold (first call in the process) and warm (median of `repeats`), with the worst relative
error of the conservation law `sum_i m_i L_i = n` at ridge 0 recomputed independently from the
returned `log_kappa`. The last row is the Learning curves page's default Theory view
(`kernel_theory.theory(DEFAULT_THEORY)`) computed from an empty cache in a fresh process: kernel
row, spectrum, theory and 4 x 9 exact kernel regressions up to n = 2048 on d = 16.

Speed goal (never a test): a million-mode spectrum at 50 sizes in under 1 s; the default view
cold in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from report import print_table, run_child, timed_median  # noqa: E402  (bench/report.py, beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

WORKLOADS = [
    ("power_1e6", "1e6 eigenvalues i^-1.5, 50 sizes, ridge 0"),
    ("power_1e6_ridges", "1e6 eigenvalues i^-1.5, 50 sizes x 3 ridges"),
    ("extreme_1e6", "1e6 eigenvalues log-uniform 1e-300..1, 50 sizes"),
    ("tree_d20_modes", "tree CNN d = 20: 2^20 eigenvalues, 50 sizes"),
    ("tree_d20_levels", "tree CNN d = 20: levels x multiplicity, 50 sizes"),
    ("default_view", "Theory view, default spec, empty cache"),
]


def _conservation(lam, m, curve) -> float:
    """Worst `|sum m L - n| / n` over the ridgeless problems below the interpolation limit."""
    import numpy as np
    from scipy.special import expit

    worst = 0.0
    sizes = np.broadcast_to(curve.sizes, curve.log_kappa.shape).ravel()
    ridge = np.broadcast_to(curve.ridge, curve.log_kappa.shape).ravel()
    live = lam > 0
    log_lam = np.log(lam[live])
    for n, r, t in zip(sizes, ridge, curve.log_kappa.ravel()):
        if r == 0 and np.isfinite(t):
            worst = max(worst, abs(float(m[live] @ expit(log_lam - t)) - n) / n)
    return worst


def run_one(name: str, repeats: int) -> dict:
    import numpy as np

    import engine  # noqa: F401  (float64)
    from engine import eigenlearning, spectra
    from engine.specs import tree_cnn

    label = dict(WORKLOADS)[name]
    result = {"name": name, "label": label}
    if name == "default_view":
        from engine.experiments import kernel_theory

        start = time.perf_counter()
        view = kernel_theory.theory(kernel_theory.DEFAULT_THEORY)
        result.update(cold=time.perf_counter() - start, warm=float("nan"), check=float("nan"),
                      detail="measured/theory - 1 at n = " + ", ".join(
                          f"{n}: {e:+.1%}" for n, e in zip(view.sizes_measured[::2],
                                                           view.relative_error[::2])))
        return result

    rng = np.random.default_rng(0)
    ridge = 0.0
    m = None
    if name.startswith("power"):
        lam = np.arange(1, 1_000_001, dtype=np.float64) ** -1.5
        sizes = np.geomspace(1, 5e5, 50)
        if name.endswith("ridges"):
            sizes, ridge = sizes[:, None], np.array([0.0, 1e-6, 1e-2])[None, :]
    elif name == "extreme_1e6":
        lam = 10.0 ** rng.uniform(-300, 0, 1_000_000)
        sizes = np.geomspace(1, 999_000, 50)
    else:
        spectrum = spectra.hypercube_spectrum(tree_cnn(20, (2, 2, 5)), 20)
        sizes = np.geomspace(1, 5e5, 50)
        if name.endswith("levels"):
            lam = eigenlearning.clip_rounding(spectrum.levels.eigenvalue)
            m = spectrum.levels.multiplicity.astype(np.float64)
        else:
            lam = eigenlearning.clip_rounding(spectrum.eigenvalues)
    weights = np.ones_like(lam) if m is None else m
    power = lam * weights / float(lam @ weights)  # a target aligned with the spectrum
    curve, cold, warm = timed_median(lambda: eigenlearning.predict(
        lam, sizes, ridge=ridge, multiplicity=m, target_power=power), repeats)
    result.update(cold=cold, warm=warm, check=_conservation(lam, weights, curve),
                  detail=f"{len(lam):,} entries, {int(np.size(curve.kappa))} problems, "
                         f"kappa {np.min(curve.kappa[curve.kappa > 0]):.1e}.."
                         f"{np.max(curve.kappa):.1e}")
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

    print(f"{os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}", file=sys.stderr)
    results = []
    for name in args.only or [w[0] for w in WORKLOADS]:
        with tempfile.TemporaryDirectory(prefix="ibl-bench-theory-") as cache:
            env = {**os.environ, "IBL_CACHE_DIR": cache}  # the default view starts from nothing
            results.append(run_child(__file__, name, args.repeats, env=env))

    header = ["workload", "cold (s)", "warm (s)", "max |sum L - n| / n", "notes"]
    rows = [[r["label"], f"{r['cold']:.3f}",
             "-" if r["warm"] != r["warm"] else f"{r['warm']:.3f}",
             "-" if r["check"] != r["check"] else f"{r['check']:.1e}", r["detail"]]
            for r in results]
    print_table(header, rows, markdown=args.markdown, left=(0, -1))
    return results


if __name__ == "__main__":
    main()
