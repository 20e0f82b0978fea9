"""What each page's default view (and the presets that carry a paper's claim) shows, measured.

    python bench/papers.py [--markdown] [--only NAME ...]

Every view is computed from an empty result cache (a fresh `IBL_CACHE_DIR`), in this process, as
a first visitor's page would compute it, with the time and memory budgets lifted so that nothing
is refused. For each paper the script prints the claim, the numbers that test it and a verdict
computed from those numbers (`shown` or `NOT shown`), never asserted:

* `universality`: Wang & Wu 2023 on the Universality page's default view (quadratic target):
  median samples needed (bars: min..max over seeds) by CNN, LCN and FCN at each d, their
  parameters, the fitted slopes of log n* against log d; shown when CNN < LCN < FCN at every
  d >= 16 where the FCN reached the target (or where it did not), and the slopes are ordered with
  the FCN's within 0.5 of 2.
* `sparse`: the same on the sparse-product preset x0 x_{d-1}, where plain training does not show
  the theorem's CNN advantage (reported, not a verdict on the paper).
* `depth`: the depth view's default: training error per depth, dropping once 2^L covers d.
* `locality`: Mori & Ueda on the Learning curves page: depth helps the k-local label (default,
  at the largest n) and hurts the k-global label (its preset, at the n the preset shows), for
  trained networks, with the NTK beside them.
* `separation`: Safran & Lee on the Depth separation page's default and its 8,192-sample preset:
  training and test MSE of every model against d, each model's training MSE against model A's,
  and whether the error at the largest d is mostly a failure to fit (test MSE at most twice the
  training MSE) or to generalise.
* `theory`: the Learning curves theory view's default: the n at which the local and the
  long-range mode are half learned, their ratio and the eigenvalues' ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("IBL_CACHE_DIR", tempfile.mkdtemp(prefix="ibl-papers-"))
os.environ.setdefault("IBL_TIME_BUDGET_S", "1e6")
os.environ.setdefault("IBL_MEMORY_BUDGET_MB", "1e6")

from report import machine, print_table  # noqa: E402  (bench/report.py)

from figures.style import band  # noqa: E402


def _median(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """The median over seeds, ignoring diverged (NaN) runs, as the charts draw it."""
    return band(values, axis=axis)[0]


def _n(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:,.0f}"


def _range(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    mid = _median(values)
    if not len(finite):
        return "not reached"
    reached = f"{len(finite)}/{len(values)} seeds" if len(finite) < len(values) else ""
    return f"{_n(mid)} [{_n(finite.min())}–{_n(finite.max())}]" + (f" {reached}" if reached else "")


def _timed(fn, spec):
    start = time.perf_counter()
    view = fn(spec)
    return view, time.perf_counter() - start


def _samples_section(spec, title: str, judge: bool, markdown: bool) -> list[str]:
    from engine.experiments import universality as uni

    view, seconds = _timed(uni.sample_complexity, spec)
    names = {"cnn": "CNN", "lcn": "LCN", "fcn": "FCN"}
    header = ["d"] + [f"{names[a]} n* [min–max]" for a in view.archs] + \
             [f"{names[a]} params" for a in view.archs]
    rows = [[str(int(d))] + [_range(view.samples_needed[a, i]) for a in range(len(view.archs))]
            + [f"{int(view.parameters[a, i]):,}" for a in range(len(view.archs))]
            for i, d in enumerate(view.dims)]
    rows.append(["slope"] + [f"{s:.2f}" for s in view.slope] + [""] * len(view.archs))
    print(f"\n## {title}\n\n{spec}\n\ncomputed in {seconds:.0f} s from an empty cache\n")
    print_table(header, rows, markdown=markdown)
    median = _median(view.samples_needed)  # [a, i]
    ordered = []
    for i, d in enumerate(view.dims):
        if d < 16:
            continue
        cnn, lcn, fcn = median[:, i]
        fcn = np.inf if not np.isfinite(fcn) else fcn  # never reached within n_max: the most
        ordered.append(bool(np.isfinite(cnn) and np.isfinite(lcn) and cnn < lcn < fcn))
    slopes = view.slope
    verdict = (all(ordered) and slopes[0] < slopes[1] < slopes[2] and abs(slopes[2] - 2) < 0.5)
    lines = [f"CNN < LCN < FCN in median n* at every d >= 16: {all(ordered)} ({ordered})",
             f"slopes CNN {slopes[0]:.2f}, LCN {slopes[1]:.2f}, FCN {slopes[2]:.2f}"]
    if judge:
        lines.append(f"verdict: {'shown' if verdict else 'NOT shown'}")
    return lines


def universality(markdown: bool) -> list[str]:
    from engine.experiments import universality as uni

    return _samples_section(uni.DEFAULT_SAMPLES, "Wang & Wu 2023: CNN < LCN < FCN (Universality, "
                            "default view)", True, markdown)


def sparse(markdown: bool) -> list[str]:
    from engine.experiments import universality as uni

    return _samples_section(uni.SPARSE_PRESET, "Wang & Wu 2023: the sparse target x0 x_{d-1} "
                            "(Universality preset)", False, markdown)


def depth(markdown: bool) -> list[str]:
    from engine.experiments import universality as uni

    view, seconds = _timed(uni.depth_sweep, uni.DEFAULT_DEPTH)
    header = ["depth L", "receptive field"] + [f"{c} ch. train / test" for c in view.channels]
    rows = [[str(int(L)), str(int(view.receptive_field[l]))]
            + [f"{_median(view.train_error[l, c]):.3f} / {_median(view.test_error[l, c]):.3f}"
               for c in range(len(view.channels))] for l, L in enumerate(view.depths)]
    print(f"\n## Wang & Wu 2023: universal at depth log2 d (Universality, depth view)\n\n"
          f"{uni.DEFAULT_DEPTH}\n\ncomputed in {seconds:.0f} s from an empty cache\n")
    print_table(header, rows, markdown=markdown)
    train = _median(view.train_error[:, -1])
    shown = bool(train[-1] < 0.5 * train[:-1].min())
    return [f"training error at full depth {train[-1]:.3f} against {train[:-1].min():.3f} below "
            f"it (widest channels): verdict {'shown' if shown else 'NOT shown'}"]


def _locality_rows(view, index: int) -> tuple[list, list]:
    header = ["label", "learner"] + [f"depth {int(L)}" for L in view.depths]
    rows = []
    for r, label in enumerate(view.labels):
        for what, errors in (("network", view.net_test_mse), ("NTK", view.kernel_test_mse)):
            rows.append([label, what] + [f"{_median(errors[r, l, :, index]):.3f}"
                                         for l in range(len(view.depths))])
    return header, rows


def locality(markdown: bool) -> list[str]:
    from engine.experiments import depth_locality as loc

    lines = []
    for name, spec, label, want in (
            ("default view", loc.DEFAULT_LOCALITY, 0, "helps"),
            (loc.GLOBAL_PRESET_NAME, loc.PRESETS[loc.GLOBAL_PRESET_NAME], 1, "hurts")):
        view, seconds = _timed(loc.depth_locality, spec)
        controls = loc.PRESETS.record(name).controls if name in loc.PRESETS else {}
        n = controls.get("at_n", spec.sizes[-1])
        index = list(view.sizes).index(n)
        print(f"\n## Mori & Ueda 2022: depth {want} the {view.labels[label]} label "
              f"(Learning curves, {name})\n\n{spec}\n\ntest MSE at n = {n:,} (median over "
              f"seeds); computed in {seconds:.0f} s from an empty cache\n")
        print_table(*_locality_rows(view, index), markdown=markdown, left=(0, 1))
        net = _median(view.net_test_mse[label, :, :, index])
        ntk = _median(view.kernel_test_mse[label, :, :, index])
        ratio = net[-1] / net[0]
        shown = ratio < 0.8 if want == "helps" else ratio > 1.2
        lines.append(f"{view.labels[label]}, n = {n:,}: network test MSE deepest / shallowest "
                     f"{net[-1]:.3f} / {net[0]:.3f} = {ratio:.2f}; NTK {ntk[-1]:.3f} / "
                     f"{ntk[0]:.3f} = {ntk[-1] / ntk[0]:.2f}: depth {want}: "
                     f"{'shown' if shown else 'NOT shown'}")
    return lines


def separation(markdown: bool) -> list[str]:
    from engine.experiments import separation as sep

    lines = []
    for name, spec in (("default view", sep.DEFAULT_DIMENSION),
                       (sep.FIT_PRESET_NAME, sep.DIMENSION_PRESETS[sep.FIT_PRESET_NAME])):
        view, seconds = _timed(sep.dimension_sweep, spec)
        header = ["model"] + [f"d = {int(d)} train / test" for d in view.dims]
        rows = [[model] + [f"{_median(view.train_mse[m, i]):.3f} / "
                           f"{_median(view.test_mse[m, i]):.3f}" for i in range(len(view.dims))]
                for m, model in enumerate(view.models)]
        print(f"\n## Safran & Lee 2022: the ball indicator (Depth separation, {name})\n\n{spec}"
              f"\n\nMSE, median over seeds (best constant predictor {view.baseline_mse:.3f}); "
              f"computed in {seconds:.0f} s from an empty cache\n")
        print_table(header, rows, markdown=markdown)
        a = _median(view.train_mse[0])
        for m, model in enumerate(view.models):
            train, test = _median(view.train_mse[m]), _median(view.test_mse[m])
            if test[-1] < 0.1:
                verdict = "fits and generalises"
            elif test[-1] > 2 * train[-1]:
                verdict = "mostly generalisation (test MSE over twice the training MSE)"
            else:
                verdict = "mostly fitting (test MSE at most twice the training MSE)"
            versus = "" if m == 0 else \
                f" ({(train / a).min():.1f}–{(train / a).max():.1f} x A's)"
            lines.append(f"{name}, {model}: training MSE {train.min():.3f}–{train.max():.3f}"
                         f"{versus}, test MSE {test[0]:.3f} at d = {int(view.dims[0])} → "
                         f"{test[-1]:.3f} at d = {int(view.dims[-1])}; error at the largest d: "
                         f"{verdict}")
    return lines


def theory(markdown: bool) -> list[str]:
    from engine.experiments import kernel_theory as kt

    view, seconds = _timed(kt.theory, kt.DEFAULT_THEORY)
    half = kt.half_learned(view)
    header = ["mode (frequency, spread)", "eigenvalue", "half learned at n"]
    rows = [[f"({int(f)}, {int(s)})", f"{lam:.3e}", _n(n)] for f, s, lam, n in
            zip(view.mode_frequency, view.mode_spread, view.mode_eigenvalue, half)]
    print(f"\n## Eigenlearning: a local mode learned before a long-range one (Learning curves, "
          f"theory view)\n\n{kt.DEFAULT_THEORY}\n\ncomputed in {seconds:.1f} s from an empty "
          "cache\n")
    print_table(header, rows, markdown=markdown)
    return [f"half learned at n = {half[0]:.0f} against {half[1]:.0f}: {half[1] / half[0]:.1f} "
            f"times sooner (eigenvalue ratio {view.mode_eigenvalue[0] / view.mode_eigenvalue[1]:.1f})"]


SECTIONS = {"universality": universality, "sparse": sparse, "depth": depth,
            "locality": locality, "separation": separation, "theory": theory}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="tables as Markdown")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), help="run these sections")
    args = parser.parse_args(argv)
    print(f"# Papers against the pages' default views\n\n{machine()}; cache "
          f"{os.environ['IBL_CACHE_DIR']}")
    summary = []
    for name in args.only or SECTIONS:
        lines = SECTIONS[name](args.markdown)
        print()
        for line in lines:
            print(f"- {line}")
        sys.stdout.flush()
        summary += [f"{name}: {line}" for line in lines]
    print("\n## Summary\n")
    for line in summary:
        print(f"- {line}")


if __name__ == "__main__":
    main()
