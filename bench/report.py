"""What every benchmark in `bench/` shares: timing a call cold and warm, running each workload in a
fresh child process, the line naming the machine, and printing the result table (aligned text, or
Markdown for the README)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable, Sequence


def timed(fn: Callable, repeats: int) -> tuple:
    """`(fn(), cold seconds, [warm seconds of each of `repeats` further calls])`."""
    start = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - start)
    return out, cold, warm


def median(values: Sequence[float]) -> float:
    """The median (upper, for an even count) of `values`; NaN when there are none."""
    return sorted(values)[len(values) // 2] if len(values) else float("nan")


def machine(extra: str = "") -> str:
    """One line naming JAX's backend and device, the CPU count and the processor."""
    import jax

    device = jax.devices()[0]
    line = (f"engine on {jax.default_backend()} ({device.device_kind}), jax {jax.__version__}, "
            f"{os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}")
    return line + (f"; {extra}" if extra else "")


def run_child(script: str, name: str, repeats: int, env: dict | None = None) -> dict:
    """Run workload `name` of `script` in a fresh process (`script --child name --repeats n`, which
    prints its result as JSON on its last line), so that nothing compiled or cached is shared."""
    out = subprocess.run([sys.executable, os.path.abspath(script), "--child", name,
                          "--repeats", str(repeats)], check=True, capture_output=True, text=True,
                         env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{name}: {result}", file=sys.stderr, flush=True)
    return result


def print_table(header: list, rows: list, *, markdown: bool, left: Sequence[int] = (0,)) -> None:
    """The table as Markdown, or as text with the columns in `left` (negative indices count from
    the end) left-aligned and the others right-aligned."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
        return
    flush_left = {i % len(header) for i in left}
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) if i in flush_left else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))


def timed_median(fn: Callable, repeats: int) -> tuple:
    """`(fn(), cold seconds, median warm seconds)`, as `timed` measures them."""
    out, cold, warm = timed(fn, repeats)
    return out, cold, median(warm)
