"""Plotly figures, tables and CSV for the Learning curves page, from
`engine.experiments.depth_locality.LocalityView` (Mori & Ueda) and
`engine.experiments.kernel_theory.TheoryView` (eigenlearning against experiment)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.experiments.kernel_theory import half_learned
from figures.style import LOG_AXIS, LOG_AXIS_FINE, PALETTE, band, base_layout

LABEL_NAMES = {"k_local": "k-local", "k_global": "k-global"}
KERNEL_NAMES = {"ntk": "NTK", "nngp": "NNGP"}


def _depth_colour(index: int, count: int) -> str:
    """Shallow to deep: light to dark blue (viridis-like, readable on a projector)."""
    ramp = ("#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b", "#041c40",
            "#020e20")
    return ramp[min(int(round(index * (len(ramp) - 1) / max(count - 1, 1))), len(ramp) - 1)] \
        if count > 1 else ramp[4]


def _error_bars(mid, lo, hi) -> dict:
    return dict(type="data", symmetric=False, array=hi - mid, arrayminus=mid - lo, width=3)


# ------------------------------------------------------------------------------- Mori & Ueda
def locality_curves_figure(view) -> go.Figure:
    """Test MSE against n: rows k-local / k-global, columns trained network / its kernel, one line
    per depth (light = shallow, dark = deep), bars over seeds."""
    kernel = KERNEL_NAMES[view.spec.kernel]
    titles = [f"{LABEL_NAMES[label]}: {what}" for label in view.labels
              for what in ("trained network", f"{kernel} regression")]
    fig = make_subplots(rows=len(view.labels), cols=2, subplot_titles=titles, shared_xaxes=True,
                        shared_yaxes=True, horizontal_spacing=0.06, vertical_spacing=0.1)
    for r, label in enumerate(view.labels):
        for c, (errors, what) in enumerate(((view.net_test_mse, "network"),
                                            (view.kernel_test_mse, kernel))):
            for l, depth in enumerate(view.depths):
                mid, lo, hi = band(errors[r, l], axis=0)
                fig.add_trace(go.Scatter(
                    x=view.sizes, y=mid, mode="lines+markers", name=f"depth {depth}",
                    legendgroup=f"depth {depth}", showlegend=(r == 0 and c == 0),
                    line=dict(color=_depth_colour(l, len(view.depths))),
                    error_y=_error_bars(mid, lo, hi),
                    hovertemplate=(f"{LABEL_NAMES[label]}, {what}, depth {depth}<br>n = %{{x}}"
                                   "<br>test MSE %{y:.3f}<extra></extra>")),
                    row=r + 1, col=c + 1)
    fig.update_layout(**base_layout(height=760, legend_title="hidden layers",
                                    title=f"Learning curves, d = {view.spec.d}, "
                                          f"k = {view.spec.k}, {view.spec.distribution} inputs"))
    fig.update_xaxes(**LOG_AXIS_FINE)
    fig.update_yaxes(**LOG_AXIS_FINE)
    for c in (1, 2):
        fig.update_xaxes(title="training samples n", row=len(view.labels), col=c)
    for r in range(1, len(view.labels) + 1):
        fig.update_yaxes(title="test MSE (±1 labels)", row=r, col=1)
    return fig


def locality_depth_figure(view, index: int = -1) -> go.Figure:
    """The test MSE at `n = view.sizes[index]` (the largest by default) against depth: for each
    label, the trained network (solid) and its kernel (dashed). Mori & Ueda: the networks' lines
    slope in opposite directions, the kernel's do not follow."""
    kernel = KERNEL_NAMES[view.spec.kernel]
    n = int(view.sizes[index])
    fig = go.Figure()
    for r, label in enumerate(view.labels):
        for errors, what, dash in ((view.net_test_mse, "network", "solid"),
                                   (view.kernel_test_mse, kernel, "dash")):
            mid, lo, hi = band(errors[r, :, :, index], axis=-1)
            fig.add_trace(go.Scatter(
                x=view.depths, y=mid, mode="lines+markers", name=f"{LABEL_NAMES[label]}, {what}",
                line=dict(color=PALETTE[r], dash=dash), error_y=_error_bars(mid, lo, hi),
                hovertemplate=(f"{LABEL_NAMES[label]}, {what}<br>depth %{{x}}<br>test MSE "
                               "%{y:.3f}<extra></extra>")))
    fig.update_layout(**base_layout(title=f"Depth against locality at n = {n:,}",
                                    legend_title="label, learner"))
    fig.update_xaxes(title="hidden layers (depth)", dtick=1)
    fig.update_yaxes(title=f"test MSE at n = {n:,}", **LOG_AXIS_FINE)
    return fig


def locality_table(view) -> pd.DataFrame:
    rows = []
    for r, label in enumerate(view.labels):
        for l, depth in enumerate(view.depths):
            for s in range(view.net_test_mse.shape[2]):
                for j, n in enumerate(view.sizes):
                    rows.append({"label": label, "depth": int(depth), "seed": s, "n": int(n),
                                 "network_test_mse": view.net_test_mse[r, l, s, j],
                                 "network_train_mse": view.net_train_mse[r, l, s, j],
                                 "network_diverged": bool(view.diverged[r, l, s, j]),
                                 "kernel_test_mse": view.kernel_test_mse[r, l, s, j],
                                 "kernel_test_error": view.kernel_test_error[r, l, s, j]})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- theory
def mode_name(frequency: int, spread: int) -> str:
    return f"|S| = {frequency}, spread {spread}"


def coordinates(mask: int) -> str:
    """The set S of a bit mask, as '{0, 3}'."""
    bits = [str(i) for i in range(int(mask).bit_length()) if mask >> i & 1]
    return "{" + ", ".join(bits) + "}"


def theory_figure(view) -> go.Figure:
    """Predicted (line) against measured (markers, bars over seeds) test MSE of kernel regression
    against n, log-log; the training MSE the theory predicts, dotted."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=view.sizes_theory, y=view.test_mse_theory, mode="lines", name="theory: test MSE",
        line=dict(color=PALETTE[0], width=3),
        hovertemplate="theory<br>n = %{x:.0f}<br>test MSE %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=view.sizes_theory, y=view.test_mse_theory_distinct, mode="lines",
        name="theory at the expected number of distinct points",
        line=dict(color=PALETTE[0], width=1, dash="dash"),
        hovertemplate=("theory, n → expected distinct points<br>n = %{x:.0f}<br>test MSE "
                       "%{y:.4g}<extra></extra>")))
    mid, lo, hi = band(view.test_mse_measured, axis=0)
    fig.add_trace(go.Scatter(
        x=view.sizes_measured, y=mid, mode="markers", name="kernel regression: test MSE",
        marker=dict(color=PALETTE[1], size=10, symbol="circle"), error_y=_error_bars(mid, lo, hi),
        customdata=view.relative_error,
        hovertemplate=("measured (median of seeds)<br>n = %{x}<br>test MSE %{y:.4g}<br>mean / "
                       "theory − 1 = %{customdata:+.1%}<extra></extra>")))
    if np.any(view.train_mse_theory > 0):
        fig.add_trace(go.Scatter(
            x=view.sizes_theory, y=view.train_mse_theory, mode="lines",
            name="theory: train MSE", line=dict(color=PALETTE[2], dash="dot"),
            hovertemplate="theory (train)<br>n = %{x:.0f}<br>MSE %{y:.4g}<extra></extra>"))
        mid, lo, hi = band(view.train_mse_measured, axis=0)
        fig.add_trace(go.Scatter(
            x=view.sizes_measured, y=mid, mode="markers", name="kernel regression: train MSE",
            marker=dict(color=PALETTE[2], size=8, symbol="diamond"),
            error_y=_error_bars(mid, lo, hi),
            hovertemplate="measured (train)<br>n = %{x}<br>MSE %{y:.4g}<extra></extra>"))
    fig.update_layout(**base_layout(title="Kernel regression: theory against experiment",
                                    legend_title=""))
    fig.update_xaxes(title="training samples n", **LOG_AXIS)
    fig.update_yaxes(title="MSE (target variance 1)", **LOG_AXIS)
    return fig


def learnability_figure(view, *, levels: int = 12, modes: int = 8) -> go.Figure:
    """Learnability λ/(λ+κ) of the target's `modes` modes of largest share (thick) and of the
    `levels` largest spectrum levels (thin, grey) against n: a mode is learned once κ(n) falls
    below its eigenvalue."""
    fig = go.Figure()
    order = np.argsort(-view.level_eigenvalue)[:levels]
    for l in order:
        name = mode_name(view.level_frequency[l], view.level_spread[l])
        fig.add_trace(go.Scatter(
            x=view.sizes_theory, y=view.level_learnability[:, l], mode="lines",
            line=dict(color="#bbbbbb", width=1), name=name, legendgroup="levels",
            showlegend=False,
            hovertemplate=(f"level {name}, λ = {view.level_eigenvalue[l]:.3g} "
                           f"(×{int(view.level_multiplicity[l])})<br>n = %{{x:.0f}}<br>"
                           "learnability %{y:.3f}<extra></extra>")))
    for c in range(min(modes, len(view.mode_frequency))):
        name = (f"{mode_name(view.mode_frequency[c], view.mode_spread[c])}, "
                f"λ = {view.mode_eigenvalue[c]:.2e}")
        fig.add_trace(go.Scatter(
            x=view.sizes_theory, y=view.mode_learnability[:, c], mode="lines", name=name,
            line=dict(color=PALETTE[c % len(PALETTE)], width=3),
            hovertemplate=(f"target mode S = {coordinates(view.mode_example[c])}<br>{name}<br>"
                           "n = %{x:.0f}<br>learnability %{y:.3f}<extra></extra>")))
    fig.add_hline(y=0.5, line=dict(color="grey", dash="dot"),
                  annotation_text="half learned: κ(n) = λ")
    fig.update_layout(**base_layout(title="Which modes are learned at each n (grey: the "
                                          f"{min(levels, len(order))} largest spectrum levels)",
                                    legend_title="target mode"))
    fig.update_xaxes(title="training samples n", **LOG_AXIS)
    fig.update_yaxes(title="learnability λ / (λ + κ)", range=[-0.02, 1.02])
    return fig


def modes_table(view) -> pd.DataFrame:
    return pd.DataFrame({
        "example S": [coordinates(s) for s in view.mode_example],
        "frequency |S|": view.mode_frequency.astype(int),
        "spread": view.mode_spread.astype(int),
        "eigenvalue λ": view.mode_eigenvalue,
        "monomials": view.mode_count.astype(int),
        "share of target variance": view.mode_power,
        "half learned at n (theory)": half_learned(view),
    })


def theory_table(view) -> pd.DataFrame:
    """Both curves on one grid: theory rows (seed empty) and measured rows."""
    theory = pd.DataFrame({"source": "theory", "n": view.sizes_theory, "seed": np.nan,
                           "test_mse": view.test_mse_theory, "train_mse": view.train_mse_theory,
                           "kappa": view.kappa, "e0": view.e0})
    measured = [{"source": "kernel regression", "n": int(n), "seed": s,
                 "test_mse": view.test_mse_measured[s, j],
                 "train_mse": view.train_mse_measured[s, j], "kappa": np.nan, "e0": np.nan}
                for s in range(view.test_mse_measured.shape[0])
                for j, n in enumerate(view.sizes_measured)]
    return pd.concat([theory, pd.DataFrame(measured)], ignore_index=True)
