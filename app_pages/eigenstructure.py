"""Eigenstructure: exact kernel spectra on the hypercube (Xiao 2022) and the sphere (Bietti & Bach
2021). UI only: controls mirrored in the URL, one cached engine call per view, charts, explanation,
downloads."""

from __future__ import annotations

import numpy as np
import streamlit as st

from engine.experiments import eigenstructure as eig
from figures import eigenstructure as figs
from figures.export import csv
from figures.style import ACTIVATION_NAMES
import ui
from ui.links import controls_of
from ui.papers import cite

PAGE = "eig"
ACTIVATIONS = {a: ACTIVATION_NAMES[a] for a in ("relu", "erf", "gelu", "tanh", "sigmoid")}


def hypercube_controls(controls: ui.UrlControls) -> eig.HypercubeSpec:
    default = eig.DEFAULT_HYPERCUBE
    controls.presets("Presets", eig.HYPERCUBE_PRESETS,
                     lambda preset: controls_of("eigenstructure", "hypercube", preset.spec))
    arch = controls.selectbox("arch", "Architecture", eig.ARCHITECTURES, default=default.arch,
                              help="MLP: dense layers. Shallow CNN: one conv layer (stride 1, "
                                   "circular padding) under a dense head. Deep tree CNN / LCN: "
                                   "non-overlapping patches merged layer by layer until one "
                                   "position sees the whole input.")
    cnn = arch != "mlp"
    readout = "flatten"
    if arch == "shallow_cnn":
        readout = controls.radio("readout", "Readout", eig.READOUTS, default=default.readout,
                                 help="Pooling after a weight-shared conv mixes positions: Walsh "
                                      "monomials stop being eigenfunctions and the spectrum needs "
                                      f"a dense eigendecomposition (d ≤ {eig.D_MAX_DENSE}).")
    dense_route = readout == "global_avg_pool"
    d = controls.field("d", default, "d", hi=eig.D_MAX_DENSE if dense_route else None,
                       help="The spectrum has 2^d eigenvalues (one per subset S of the d "
                            "coordinates).")
    depth = default.depth
    if arch == "mlp":
        depth = controls.field("depth", default, "depth")
    elif arch == "shallow_cnn":
        depth = controls.field("depth", default, "depth", default=1,
                               label="Dense layers above the conv",
                               help="1 means conv, activation, readout.")
    filter_size = default.filter_size
    if cnn:
        filter_size = controls.slider("filter", "Filter size", 2, d, default=min(3, d)
                                      if arch == "shallow_cnn" else 2,
                                      help="Tree networks use this patch size as often as it "
                                           "divides d, then the prime factors of the rest.")
    activation = controls.selectbox("act", "Activation", ACTIVATIONS, default=default.activation)
    w_std = controls.field("w_std", default, "w_std", lo=0.1, step=0.1)
    b_std = controls.field("b_std", default, "b_std", step=0.1)
    kernel = controls.radio("kernel", "Kernel", eig.KERNELS, default=default.kernel)
    return eig.HypercubeSpec(arch=arch, d=d, depth=depth, filter_size=filter_size,
                             readout=readout, activation=activation, w_std=w_std, b_std=b_std,
                             kernel=kernel)


def _describe(view: eig.HypercubeView) -> str:
    spec = view.spec
    act = ACTIVATIONS[spec.activation]
    if spec.arch == "mlp":
        shape = f"{spec.depth} hidden dense layers"
    elif spec.arch == "shallow_cnn":
        shape = (f"one conv layer (filter {spec.filter_size}, stride 1, circular) and "
                 f"{spec.depth - 1} dense layers above it")
    else:
        filters = eig.tree_filters_for(spec.d, spec.filter_size)
        kind = "conv" if spec.arch == "tree_cnn" else "local"
        shape = (f"patch tree {' × '.join(map(str, filters))} ({len(filters)} {kind} layers with "
                 "filter = stride)")
    readout = (f", {eig.READOUTS[spec.readout].lower()} readout" if spec.arch == "shallow_cnn"
               else "")
    return (f"**{eig.ARCHITECTURES[spec.arch]}**: {shape}, {act}, σ_w = {spec.w_std:g}, "
            f"σ_b = {spec.b_std:g}{readout}. Route: {view.route}.")


def hypercube_page(controls: ui.UrlControls) -> None:
    spec = hypercube_controls(controls)
    n = controls.select_slider("n", "Samples n (learnable modes)", [10 ** k for k in range(1, 7)],
                               default=1000, help="Kernel regression with n samples learns "
                                                  "roughly the n modes of largest eigenvalue.")
    controls.finish()
    view = ui.compute(eig.hypercube, spec, label=f"Spectrum on {{-1, 1}}^{spec.d}")

    zero_levels, zero_count = figs.zero_levels(view)
    threshold = figs.nth_eigenvalue(view, n)
    ui.chart(figs.hypercube_figure(view, threshold=threshold, n=n), key=f"{PAGE}_hypercube")
    st.markdown(_describe(view))  # under the chart, which fits the screen above it
    caption = (f"{len(view.eigenvalue)} distinct levels among {2 ** spec.d:,} eigenvalues; "
               f"they sum to K(x, x) = {view.diagonal:.6g} "
               f"(sum: {float(np.sum(view.eigenvalue * view.multiplicity)):.6g}).")
    if zero_levels:
        caption += (f" {zero_count:,} eigenvalues in {zero_levels} levels are zero to rounding and "
                    "not drawn on the log axis.")
    st.caption(caption)

    # The table at the page's full width: beside a chart, its last columns were cut off at 1280 px.
    st.subheader("Leading modes")
    table = figs.hypercube_levels(view)
    st.dataframe(table.head(30), hide_index=True, height=360,
                 column_config={"eigenvalue": st.column_config.NumberColumn(format="%.4e"),
                                "trace share": st.column_config.NumberColumn(format="%.3e"),
                                "spread": st.column_config.NumberColumn(help=view.spread_kind)})
    st.caption(f"One row per level (eigenvalue, frequency and spread); spread is the "
               f"{view.spread_kind}.")
    ui.chart(figs.trace_figure(view), key=f"{PAGE}_trace")

    ui.explain(
        claim="An MLP kernel's eigenvalue depends only on the frequency |S| of the Walsh "
              "monomial: one level per frequency. A hierarchical CNN kernel splits each frequency "
              "by space: monomials whose coordinates sit in one small patch get larger eigenvalues "
              "than equally frequent monomials spread over the input, so local high-frequency "
              "and long-range low-frequency interactions are both learnable. Weight sharing does "
              "not change the spectrum under a flatten readout (CNN and LCN coincide).",
        formula=r"K(x, y) = \sum_{S \subseteq [d]} \lambda_S\, \chi_S(x)\, \chi_S(y), \quad "
                r"\chi_S(x) = \prod_{i \in S} x_i, \quad "
                r"\lambda_S = \mathbb{E}_{x \sim \{\pm 1\}^d}\left[K(x, \mathbf{1})\, "
                r"\chi_S(x)\right]",
        note="Computed exactly in float64: one kernel row K(x, 1) over all 2^d points, then a fast "
             "Walsh–Hadamard transform (O(d 2^d)). The horizontal line marks the n-th largest "
             "eigenvalue counted with multiplicity: modes above it are the ones kernel regression "
             "with n samples learns first.",
        paper=cite("xiao"))
    header = f"Hypercube spectrum, {_describe(view)}"
    ui.download("Levels (CSV)", csv(table, header), file_name=f"hypercube_levels_d{spec.d}.csv",
                key=f"{PAGE}_levels_csv")


def sphere_controls(controls: ui.UrlControls) -> eig.SphereSpec:
    default = eig.DEFAULT_SPHERE
    controls.presets("Presets", eig.SPHERE_PRESETS,
                     lambda preset: controls_of("eigenstructure", "sphere", preset.spec))
    d = controls.field("sphere_d", default, "d")
    layers = controls.field("layers", default, "layers", help="Depths 2..L are drawn; a depth-L "
                                                               "network has L - 1 hidden layers.")
    activation = controls.selectbox("sphere_act", "Activation",
                                    {a: ACTIVATIONS[a] for a in eig.SPHERE_ACTIVATIONS},
                                    default=default.activation)
    b_std = controls.field("sphere_b_std", default, "b_std", step=0.1)
    k_max = controls.field("k_max", default, "k_max")
    fit_from = controls.slider("fit_from", "Fit slopes from k =", 1, k_max - 1,
                               default=default.fit_from)
    return eig.SphereSpec(d=d, layers=layers, activation=activation, b_std=b_std, k_max=k_max,
                          fit_from=fit_from)


def sphere_page(controls: ui.UrlControls) -> None:
    spec = sphere_controls(controls)
    controls.finish()
    view = ui.compute(eig.sphere, spec, label=f"Funk–Hecke spectra on S^{spec.d - 1}")
    ui.chart(figs.sphere_figure(view), key=f"{PAGE}_sphere")
    st.caption("Zero eigenvalues (two-layer kernels without bias vanish at odd k ≥ 3) cannot sit on "
               "a log axis and are left out. Slopes are least-squares fits of log μ_k on log k "
               f"over k ≥ {spec.fit_from}, up to the last k with μ_k ≥ 10⁻¹⁰ μ_0.")
    st.subheader("Fitted decay exponents")
    st.dataframe(figs.sphere_slopes(view), hide_index=True)
    ui.explain(
        claim="On the sphere, deep ReLU kernels decay at the same polynomial rate as two-layer "
              "ones: μ_k ~ C k^(-d) for the NTK and k^(-(d+2)) for the NNGP, at every depth. Depth "
              "changes only the constant C; the rate comes from the kernel's regularity at "
              "t = ±1. With a smooth activation (erf) the decay is faster than any power.",
        formula=r"K(t) = \sum_{k \ge 0} \mu_k\, N(d, k)\, P_k^{(d)}(t), \quad "
                r"\mu_k = \mathbb{E}_t\!\left[K(t)\, P_k^{(d)}(t)\right] \sim C_L\, k^{-d} "
                r"\;(\mathrm{NTK}),\quad C_L\, k^{-(d+2)} \;(\mathrm{NNGP})",
        note="t = x·y/d for inputs on the sphere of radius √d; P_k^{(d)} is the Gegenbauer "
             "polynomial with P_k(1) = 1 and N(d, k) the number of degree-k spherical harmonics. "
             "μ_k is computed by Gauss–Legendre quadrature in the angle θ = arccos t, where the "
             "ReLU kernels are smooth.",
        paper=cite("bietti_bach"))
    header = (f"Sphere spectra, d = {spec.d}, depths 2..{spec.layers}, {spec.activation}, "
              f"b_std = {spec.b_std:g}")
    ui.download("Eigenvalues (CSV)", csv(figs.sphere_table(view), header),
                file_name=f"sphere_eigenvalues_d{spec.d}.csv", key=f"{PAGE}_sphere_csv")


ui.header("Eigenstructure",
          "What a kernel learns first is decided by its eigenvalues. Here they are computed "
          "exactly: on the hypercube, where architecture sorts eigenfunctions by frequency and "
          "by space, and on the sphere, where depth leaves the decay rate unchanged.")
controls = ui.UrlControls(PAGE)
view_name = controls.radio("view", "View", {"hypercube": "Hypercube", "sphere": "Sphere"},
                           default="hypercube")
if view_name == "hypercube":
    hypercube_page(controls)
else:
    sphere_page(controls)
