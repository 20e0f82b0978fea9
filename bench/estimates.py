"""How well the views' time estimates hold, idle and busy, before and after calibration.

    python bench/estimates.py [--markdown] [--busy-procs N]

From an empty result cache (a temporary `IBL_CACHE_DIR`, so compilation is cold too), a list of
small views of every training and theory page (`workloads`) is computed in two phases, with a
different training length in each, so every computation is a miss:

1. idle: on this machine as it is;
2. busy: with `--busy-procs` processes (default: twice the cores) spinning beside it, once the
   load factor (`engine.cache.load_factor`, a few seconds' average) has risen.

For each computation the table gives the view's declared estimate (`IBL_CALIBRATE=0`: the
constants fitted on one idle CPU), the calibrated estimate the page would show just before
(`engine.cache.Cached.estimate_seconds`: the median ratio this machine measured so far, times the
load factor now), the measured time, and each estimate's ratio to it. The goal (issue on live
views): every calibrated estimate within a factor 1.5 of the measured time, idle or busy, once the
machine has measured a few computations (`engine.cache.MIN_RATIOS`). Figures as ratios, measured in
one run on one machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time

os.environ["IBL_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-bench-estimates-")
os.environ["IBL_CALIBRATE"] = "1"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from report import machine, print_table  # noqa: E402  (bench/report.py, beside this script)

from engine import cache  # noqa: E402
from engine.experiments import depth_locality as dl  # noqa: E402
from engine.experiments import kernel_theory as kt  # noqa: E402
from engine.experiments import separation as sep  # noqa: E402
from engine.experiments import universality as uni  # noqa: E402

GOAL = 1.5
"""An estimate holds when it is within this factor of the measured time (either side)."""


def workloads(steps: int) -> list:
    """`(label, cached view, spec)`: small views of each training page, and the theory view."""
    return [
        ("universality samples", uni.sample_complexity,
         uni.SampleComplexitySpec(d_min=4, d_max=8, n_max=256, seeds=1, steps=steps)),
        ("universality depth", uni.depth_sweep,
         uni.DepthSpec(d=16, s=4, channels=(1, 4), n_train=256, seeds=1, steps=steps)),
        ("learning curves locality", dl.depth_locality,
         dl.LocalitySpec(d=10, k=2, depths=(1, 2), width=16, n_min=64, n_max=256, seeds=1,
                         steps=steps)),
        ("depth separation dimension", sep.dimension_sweep,
         sep.DimensionSpec(d_min=2, d_max=8, n_train=256, steps=steps // 2, seeds=1,
                           features=64, width=8)),
        ("learning curves theory", kt.theory,
         kt.TheorySpec(seeds=(steps - 200) // 50)),
    ]


def _declared(view, spec) -> float:
    os.environ["IBL_CALIBRATE"] = "0"
    try:
        return view.estimate_seconds(spec)
    finally:
        os.environ["IBL_CALIBRATE"] = "1"


def run(phase: str, steps_list) -> list[list]:
    rows = []
    for steps in steps_list:
        for label, view, spec in workloads(steps):
            declared = _declared(view, spec)
            calibrated = view.estimate_seconds(spec)
            load = cache.load_factor()
            start = time.perf_counter()
            view(spec)
            measured = time.perf_counter() - start
            rows.append([phase, label, f"{load:.2f}", f"{declared:.1f}", f"{calibrated:.1f}",
                         f"{measured:.1f}", f"{measured / declared:.2f}",
                         f"{measured / calibrated:.2f}"])
            print("  ", *rows[-1], flush=True)
    return rows


def _spin() -> None:
    while True:
        pass


def _held(rows: list[list], column: int) -> str:
    ratios = [float(row[column]) for row in rows]
    inside = sum(1 / GOAL <= r <= GOAL for r in ratios)
    return f"{inside}/{len(ratios)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--busy-procs", type=int, default=2 * (os.cpu_count() or 1))
    args = parser.parse_args()
    print(machine())
    print("idle:", flush=True)
    idle = run("idle", (250,))
    spawn = multiprocessing.get_context("spawn")  # not fork: JAX runs threads in this process
    spinners = [spawn.Process(target=_spin, daemon=True) for _ in range(args.busy_procs)]
    for p in spinners:
        p.start()
    try:
        waited = time.perf_counter()
        while cache.load_factor() < 1.0 + args.busy_procs / (2 * (os.cpu_count() or 1)) \
                and time.perf_counter() - waited < 90:
            time.sleep(2)
        print(f"busy ({args.busy_procs} spinning processes, load factor "
              f"{cache.load_factor():.2f}):", flush=True)
        busy = run("busy", (300,))
    finally:
        for p in spinners:
            p.terminate()
    rows = idle + busy
    print_table(["phase", "view", "load factor", "declared s", "calibrated s", "measured s",
                 "measured / declared", "measured / calibrated"], rows, markdown=args.markdown,
                left=(0, 1))
    warm = cache.MIN_RATIOS
    print(f"within {GOAL}x of the measured time: declared {_held(rows, 6)}, calibrated "
          f"{_held(rows, 7)}; after the first {warm} computations: declared "
          f"{_held(rows[warm:], 6)}, calibrated {_held(rows[warm:], 7)}; busy phase: declared "
          f"{_held(busy, 6)}, calibrated {_held(busy, 7)}")


if __name__ == "__main__":
    main()
