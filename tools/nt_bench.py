"""Time neural-tangents 0.6.5 on the workloads of bench/kernels.py (run by it, in the NT venv).

    .nt-venv/bin/python tools/nt_bench.py WORKDIR

WORKDIR holds `workloads.json` (name, layers, repeats) and `{name}.npy` inputs written by
bench/kernels.py. For each workload this builds the same network with `to_stax`, jits its
`kernel_fn` (the documented fast path: `jax.jit(kernel_fn, static_argnames="get")`), times the
first call (compilation included) and the best of `repeats` warm calls on `x2=None` in float64 on
the CPU, and writes `{name}.nt.npz` (nngp, ntk) and `nt_times.json` back to WORKDIR.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import is_spatial, to_stax  # noqa: E402  (also enables x64, CPU only)

import jax  # noqa: E402
import jaxlib  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402


def main(workdir: str) -> None:
    with open(os.path.join(workdir, "workloads.json")) as f:
        workloads = json.load(f)
    times = {"versions": {"neural_tangents": nt.__version__, "jax": jax.__version__,
                          "jaxlib": jaxlib.__version__}, "workloads": {}}
    for w in workloads:
        x = np.load(os.path.join(workdir, f"{w['name']}.npy"))
        if is_spatial(w["layers"]):
            x = x[:, :, None]  # NWC: a length-d signal with one channel
        x = jax.device_put(x)
        kernel_fn = jax.jit(to_stax(w["layers"])[2], static_argnames="get")
        start = time.perf_counter()
        nngp, ntk = jax.block_until_ready(kernel_fn(x, None, get=("nngp", "ntk")))
        cold = time.perf_counter() - start
        warm = []
        for _ in range(w["repeats"]):
            start = time.perf_counter()
            jax.block_until_ready(kernel_fn(x, None, get=("nngp", "ntk")))
            warm.append(time.perf_counter() - start)
        np.savez(os.path.join(workdir, f"{w['name']}.nt.npz"), nngp=np.asarray(nngp),
                 ntk=np.asarray(ntk))
        times["workloads"][w["name"]] = {"cold": cold, "warm": warm}
        print(f"neural-tangents {w['name']}: cold {cold:.3f} s, best warm {min(warm):.4f} s",
              file=sys.stderr, flush=True)
    with open(os.path.join(workdir, "nt_times.json"), "w") as f:
        json.dump(times, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
