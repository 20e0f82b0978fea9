"""Benchmark `engine.kernels.nngp_ntk` against neural-tangents 0.6.5 on the same inputs.

    python bench/kernels.py [--repeats 7] [--nt-python .nt-venv/bin/python] [--markdown]

Workloads (issue 2): an MLP of depth 5 on 2,000 inputs of dimension 50; a tree CNN with filter 2
on 500 inputs of dimension 128; a tree CNN with filter 3 on 300 inputs of dimension 81; a 3-layer
circular CNN with global average pooling on 128 inputs of dimension 24. ReLU, w_std 1.4, b_std 0.1,
the kernel of the inputs with themselves (`x2=None`), NNGP and NTK, float64.

For each, the engine is timed in this process: the first call (compilation included) and the best
of `repeats` warm calls. When the neural-tangents venv exists (`make reference` or
`bash tools/make_nt_venv.sh` makes `.nt-venv`), the same script runs tools/nt_bench.py there on the
same inputs, in the same run, timing neural-tangents' jitted `kernel_fn` the same way. The two
libraries alternate for `rounds` rounds (a shared machine's slow spells then hit both), and the
table gives medians over rounds, the median speed-up with its range, and the largest difference
between the two libraries' numbers relative to the largest entry, off the diagonal and on it. (On
the diagonal an input meets itself, rho = 1, where the arc-cosine map turns a one-ulp difference in
the input Gram matrix into ~1e-8: the engine pins rho = 1 there exactly, neural-tangents rounds.)
Speed goals live here, never in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import engine  # noqa: E402,F401  (enables float64)
from engine.kernels import kernel_plan, nngp_ntk  # noqa: E402
from engine.specs import conv_net, mlp, tree_cnn  # noqa: E402
from report import machine, print_table, timed  # noqa: E402  (bench/report.py, beside this script)

STD = {"w_std": 1.4, "b_std": 0.1}
WORKLOADS = [
    ("mlp_depth5", "MLP, depth 5, 2,000 x 50", mlp(5, **STD), 2000, 50),
    ("tree_cnn_s2", "tree CNN, filter 2, 500 x 128", tree_cnn(128, 2, **STD), 500, 128),
    ("tree_cnn_s3", "tree CNN, filter 3, 300 x 81", tree_cnn(81, 3, **STD), 300, 81),
    ("circular_cnn_gap", "circular CNN x3 + pool, 128 x 24", conv_net(3, 3, **STD), 128, 24),
]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="warm calls per round (best is kept)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating engine / neural-tangents rounds (median is reported)")
    parser.add_argument("--nt-python", default=os.path.join(ROOT, ".nt-venv", "bin", "python"))
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args(argv)

    print(machine(), file=sys.stderr)
    have_nt = os.path.exists(args.nt_python)
    if not have_nt:
        print(f"no neural-tangents venv at {args.nt_python}: run `bash tools/make_nt_venv.sh` "
              "to compare; timing the engine alone.", file=sys.stderr)
    results = {name: {"warm": [], "nt_warm": []} for name, *_ in WORKLOADS}
    with tempfile.TemporaryDirectory() as workdir:
        inputs = {}
        for name, _, layers, n, d in WORKLOADS:
            inputs[name] = np.random.default_rng(0).standard_normal((n, d))
            np.save(os.path.join(workdir, f"{name}.npy"), inputs[name])
        with open(os.path.join(workdir, "workloads.json"), "w") as f:
            json.dump([{"name": w[0], "layers": w[2], "repeats": args.repeats} for w in WORKLOADS], f)
        # Rounds alternate the two libraries, so that a slow spell of a shared machine hits both.
        for round_ in range(args.rounds):
            for name, _, layers, n, d in WORKLOADS:
                res = results[name]
                x = inputs[name]
                (nngp, ntk), cold, warm = timed(lambda: nngp_ntk(layers, x), args.repeats)
                res["warm"].append(min(warm))
                if round_ == 0:
                    res.update(cold=cold, nngp=nngp, ntk=ntk,
                               plan=kernel_plan(layers, d, n).describe().splitlines()[0])
                print(f"round {round_ + 1} engine {name}: best warm {min(warm):.4f} s",
                      file=sys.stderr, flush=True)
            if not have_nt:
                continue
            env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
            subprocess.run([args.nt_python, os.path.join(ROOT, "tools", "nt_bench.py"), workdir],
                           check=True, env=env)
            with open(os.path.join(workdir, "nt_times.json")) as f:
                nt_times = json.load(f)
            for name, res in results.items():
                res["nt_warm"].append(min(nt_times["workloads"][name]["warm"]))
                if round_ == 0:
                    res["nt_cold"] = nt_times["workloads"][name]["cold"]
                    ref = np.load(os.path.join(workdir, f"{name}.nt.npz"))
                    off = ~np.eye(len(ref["nngp"]), dtype=bool)
                    res["diff_off"] = max(float(np.abs(res[k] - ref[k])[off].max() / np.abs(ref[k]).max())
                                          for k in ("nngp", "ntk"))
                    res["diff_diag"] = max(float(np.abs(res[k] - ref[k])[~off].max() / np.abs(ref[k]).max())
                                           for k in ("nngp", "ntk"))

    header = ["workload", "engine cold (s)", "engine warm (s)"]
    if have_nt:
        header += ["NT cold (s)", "NT warm (s)", "speed-up (warm)", "diff off-diag.", "diff diag."]
    rows = []
    for name, label, *_ in WORKLOADS:
        res = results[name]
        row = [label, f"{res['cold']:.2f}", f"{np.median(res['warm']):.4f}"]
        if have_nt:
            ratios = np.array(res["nt_warm"]) / np.array(res["warm"])
            row += [f"{res['nt_cold']:.2f}", f"{np.median(res['nt_warm']):.4f}",
                    f"{np.median(ratios):.1f}x ({ratios.min():.1f}-{ratios.max():.1f})",
                    f"{res['diff_off']:.0e}", f"{res['diff_diag']:.0e}"]
        rows.append(row)
    print_table(header, rows, markdown=args.markdown, left=(0,))
    for name, *_ in WORKLOADS:
        print(f"  {name}: {results[name]['plan']}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
