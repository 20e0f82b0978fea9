"""The "Watch it learn" view, measured: how fast its engine advances, and how close a network's mode
curves come to its NTK's prediction as the width grows.

    python bench/live.py [--markdown]

1. Speed (the issue's goal: at least 5 chart updates a second on two CPU cores for the default
   setup, the first frame within 3 s of play): from an empty result cache and a cold process,
   the setup (spectrum, eigensystem), the start (the network drawn, its first frame) and the first
   chunk (compilation included), then the median of 40 chunks at the page's default steps per
   frame. The engine's share only: the page adds its charts (`bench/pages.py` times pages).
2. The presets' claims: for each preset at its rate, the step at which each target component is
   first half learned, by the network and by the NTK's prediction (2,000 steps at most).
3. Lazy against feature learning: for one hidden layer at widths 16 to 8,192 (d = 8, n = 64,
   rate 4, 300 steps), and for the default setup's depth 2 at width 16 with rate 8, the largest
   gap over the run between the network's learned fraction of a target mode and the NTK's
   prediction, and between their test errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ["IBL_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-bench-live-")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from report import machine, median, print_table  # noqa: E402  (bench/report.py, beside this script)

from engine.experiments import live  # noqa: E402

STEPS_PER_FRAME = live.STEPS_PER_FRAME
"""The page's default steps per frame."""


def speed(markdown: bool) -> None:
    spec = live.DEFAULT_LIVE
    began = time.perf_counter()
    setup = live.setup(spec)
    setup_s = time.perf_counter() - began
    began = time.perf_counter()
    run = live.start(setup)
    start_s = time.perf_counter() - began
    began = time.perf_counter()
    run = live.advance(setup, run, STEPS_PER_FRAME, live.RATE_DEFAULT)
    first_s = time.perf_counter() - began
    chunks = []
    for _ in range(40):
        began = time.perf_counter()
        run = live.advance(setup, run, STEPS_PER_FRAME, live.RATE_DEFAULT)
        chunks.append(time.perf_counter() - began)
    chunk_s = median(chunks)
    rows = [["setup (cold)", f"{setup_s:.2f} s"], ["start: network and first frame", f"{start_s:.2f} s"],
            ["first chunk (compiles)", f"{first_s:.2f} s"],
            [f"chunk of {STEPS_PER_FRAME} steps, median of 40", f"{chunk_s * 1000:.1f} ms"],
            ["chunks a second (engine only)", f"{1 / chunk_s:.0f}"],
            ["estimated chunk (`chunk_seconds`)",
             f"{live.chunk_seconds(setup.spec, STEPS_PER_FRAME) * 1000:.1f} ms"]]
    print(f"Speed, default setup ({spec.arch}, d = {spec.d}, width {spec.width}, n = {spec.n})")
    print_table(["what", "time"], rows, markdown=markdown)


def gaps(spec: live.LiveSpec, rate: float, chunks: int = 12, steps: int = 25) -> tuple:
    setup = live.setup(spec)
    run = live.start(setup)
    for _ in range(chunks):
        run = live.advance(setup, run, steps, rate)
    frames = run.frames
    mode = max(abs(a - b) for f in frames for a, b in zip(f.fractions, f.ntk_fractions))
    test = max(abs(f.test_mse - f.ntk_test_mse) for f in frames)
    return mode, test, frames[-1]


def lazy(markdown: bool) -> None:
    rows = []
    for width in (16, 64, 256, 1024, 4096, 8192):
        spec = live.LiveSpec(d=8, depth=1, width=width, n=64, modes=((1, 0), (2, 1)))
        mode, test, last = gaps(spec, 4.0)
        rows.append([f"1 hidden layer, width {width:,}, rate 4", f"{mode:.3f}", f"{test:.3f}",
                     " / ".join(f"{a:.2f} vs {b:.2f}" for a, b in zip(last.fractions,
                                                                      last.ntk_fractions))])
    spec = live.LiveSpec(d=8, depth=2, width=16, n=128)
    mode, test, last = gaps(spec, 8.0, chunks=20)
    rows.append(["2 hidden layers, width 16, rate 8", f"{mode:.3f}", f"{test:.3f}",
                 " / ".join(f"{a:.2f} vs {b:.2f}" for a, b in zip(last.fractions,
                                                                  last.ntk_fractions))])
    print("Largest gap between network and NTK prediction over the run (d = 8)")
    print_table(["network", "mode fraction", "test MSE", "fractions at the end: network vs NTK"],
                rows, markdown=markdown, left=(0, 3))


def half_learned(frames, attribute: str, c: int) -> str:
    for frame in frames:
        if getattr(frame, attribute)[c] >= 0.5:
            return f"{frame.step:,}"
    return f"> {frames[-1].step:,}"


def claims(markdown: bool) -> None:
    rows = []
    for title, spec in live.PRESETS.items():
        rate = live.PRESETS.record(title).controls.get("rate", live.RATE_DEFAULT)
        setup = live.setup(spec)
        run = live.start(setup)
        for _ in range(80):
            run = live.advance(setup, run, 25, rate)
        for c, (f, s) in enumerate(zip(setup.component_frequency, setup.component_spread)):
            rows.append([title if c == 0 else "", f"{rate:g}", f"|S| = {f}, spread {s}",
                         half_learned(run.frames, "fractions", c),
                         half_learned(run.frames, "ntk_fractions", c)])
    print("Step at which each target component is half learned (2,000 steps at most)")
    print_table(["preset", "rate", "component", "network", "NTK"], rows, markdown=markdown,
                left=(0, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    print(machine())
    speed(args.markdown)
    claims(args.markdown)
    lazy(args.markdown)


if __name__ == "__main__":
    main()
