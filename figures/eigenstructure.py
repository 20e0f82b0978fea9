"""Plotly figures, tables and CSV for the Eigenstructure page, built from the engine's results
(`engine.experiments.eigenstructure.HypercubeView` and `SphereView`). Plotly and numpy only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.style import (ACTIVATION_NAMES, LOG_AXIS, PALETTE, THEORY_LINE, base_layout,
                           line_label, power)

ZERO = 1e-13
"""Levels below this fraction of the largest eigenvalue are zero to rounding: they cannot sit on a
log axis and are counted in the caption instead."""


def set_name(mask: int, d: int) -> str:
    """`{0, 3}` for the bit mask 0b1001 (coordinates counted from 0); `∅` for the empty set."""
    if mask < 0:
        return "mixture"
    members = [str(i) for i in range(d) if mask >> i & 1]
    return "{" + ", ".join(members) + "}" if members else "∅"


def _clean(values: np.ndarray, top: float) -> np.ndarray:
    """Values below `ZERO * top` (rounding noise around an exact zero) set to 0."""
    return np.where(np.abs(values) > ZERO * top, values, 0.0)


def hypercube_levels(view) -> pd.DataFrame:
    """One row per level, largest eigenvalue first: the table behind the hypercube chart.
    Eigenvalues that are zero to rounding are written as 0."""
    eigenvalue = _clean(view.eigenvalue, float(np.max(view.eigenvalue)))
    frame = pd.DataFrame({
        "eigenvalue": eigenvalue,
        "multiplicity": view.multiplicity.astype(int),
        "|S|": view.frequency,
        "spread": view.spread.astype(int),
        "example S": [set_name(int(m), view.d) for m in view.example],
        "trace share": eigenvalue * view.multiplicity / view.diagonal,
    })
    if np.any(view.purity < 1):  # the dense route: eigenspaces mixing frequencies
        frame["purity"] = view.purity
    return frame


def nth_eigenvalue(view, n: int) -> float | None:
    """The n-th largest eigenvalue counted with multiplicity (None when n exceeds 2^d)."""
    order = np.argsort(-view.eigenvalue, kind="stable")
    reached = np.cumsum(view.multiplicity[order]) >= n
    return float(view.eigenvalue[order][np.argmax(reached)]) if reached.any() else None


def hypercube_figure(view, *, threshold: float | None = None, n: int | None = None) -> go.Figure:
    """Eigenvalue against frequency |S| on a log axis, one colour per spatial spread; points of one
    frequency are spread sideways by spread so the levels do not hide each other. `threshold`
    draws the n-th largest eigenvalue: the modes above it are those learnable from n samples."""
    top = float(np.max(view.eigenvalue))
    drawn = view.eigenvalue > ZERO * top
    spreads = np.unique(view.spread[drawn])
    offsets = {s: (i - (len(spreads) - 1) / 2) * (0.6 / max(len(spreads), 1))
               for i, s in enumerate(spreads)}
    fig = go.Figure()
    for i, s in enumerate(spreads):
        rows = drawn & (view.spread == s)
        names = [set_name(int(m), view.d) for m in view.example[rows]]
        fig.add_trace(go.Scatter(
            x=view.frequency[rows] + offsets[s], y=view.eigenvalue[rows], mode="markers",
            name=f"{s}", marker=dict(color=PALETTE[i % len(PALETTE)],
                                     size=6 + 2 * np.log10(view.multiplicity[rows]),
                                     line=dict(width=0.5, color="white")),
            customdata=np.stack([view.frequency[rows], view.multiplicity[rows],
                                 view.spread[rows]], axis=1),
            text=names,
            hovertemplate=("λ = %{y:.4e}<br>|S| = %{customdata[0]}<br>"
                           f"{view.spread_kind} = " + "%{customdata[2]}<br>"
                           "multiplicity %{customdata[1]}<br>e.g. S = %{text}<extra></extra>")))
    if threshold is not None and threshold > ZERO * top:
        fig.add_hline(y=threshold, line=dict(color="grey", dash="dot", width=1),
                      annotation_text=f"n = {n:,}: the {n:,}-th largest eigenvalue",
                      annotation_position="top right")
    kernel = view.spec.kernel.upper()
    fig.update_layout(**base_layout(
        title=f"{kernel} eigenvalues on {{-1, 1}}^{view.d}",
        legend_title=f"{view.spread_kind}"))
    fig.update_xaxes(title="frequency |S| (degree of the Walsh monomial)", dtick=1,
                     range=[-0.6, view.d + 0.6])
    fig.update_yaxes(title="eigenvalue λ_S", **LOG_AXIS)
    return fig


def zero_levels(view) -> tuple[int, int]:
    """(levels, eigenvalues counted with multiplicity) that are zero to rounding."""
    zero = view.eigenvalue <= ZERO * float(np.max(view.eigenvalue))
    return int(zero.sum()), int(view.multiplicity[zero].sum())


def trace_figure(view) -> go.Figure:
    """The share of the kernel's trace `K(x, x)` carried by each frequency."""
    share = _clean(view.trace_by_frequency / view.diagonal, 1.0)
    share = np.where(share > 0, share, np.nan)  # an exact zero has no bar on a log axis
    fig = go.Figure(go.Bar(x=np.arange(len(share)), y=share, marker_color=PALETTE[0],
                           hovertemplate="|S| = %{x}<br>share %{y:.3e}<extra></extra>"))
    fig.update_layout(**base_layout(title="Share of the trace K(x, x) per frequency"))
    fig.update_xaxes(title="frequency |S|", dtick=1)
    fig.update_yaxes(title="sum of λ_S over |S| = k, over K(x, x)", **LOG_AXIS)
    return fig


def sphere_figure(view) -> go.Figure:
    """μ_k against k on log-log axes, NTK and NNGP side by side, one line per depth, with the
    predicted power laws anchored at the two-layer curve's first fitted point."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("NTK", "NNGP"), horizontal_spacing=0.1)
    k = view.k
    for col, kernel in enumerate(("ntk", "nngp"), start=1):
        for i, depth in enumerate(view.depths):
            mu = view.mu[kernel][i]
            keep = (k >= 1) & (mu > ZERO * mu[0])
            slope = view.slope[kernel][i]
            label = f"L = {depth}" + ("" if np.isnan(slope) else f" (slope {slope:.2f})")
            fig.add_trace(go.Scatter(
                x=k[keep], y=mu[keep], mode="lines+markers", marker=dict(size=3),
                line=dict(color=PALETTE[i % len(PALETTE)], width=1.5), name=label,
                legendgroup=kernel, legendgrouptitle_text=kernel.upper() if i == 0 else None,
                hovertemplate=f"L = {depth}<br>k = %{{x}}<br>μ_k = %{{y:.4e}}<extra></extra>"),
                row=1, col=col)
        exponent = view.predicted[kernel]
        lo = int(view.window[kernel][0][0])
        anchor = view.mu[kernel][0][lo] if view.mu[kernel][0][lo] > 0 else view.mu[kernel][0][lo + 1]
        ks = np.geomspace(max(lo, 1), k[-1], 50)
        predicted = anchor * (ks / max(lo, 1)) ** exponent
        law = f"{power('k', exponent)} predicted"
        fig.add_trace(go.Scatter(
            x=ks, y=predicted, mode="lines", line=dict(color="black", **THEORY_LINE), name=law,
            legendgroup=kernel, hoverinfo="skip"), row=1, col=col)
        fig.add_trace(line_label(ks, predicted, law, "black"), row=1, col=col)
    name = ACTIVATION_NAMES.get(view.spec.activation, view.spec.activation)
    fig.update_layout(**base_layout(title=f"Funk–Hecke eigenvalues on the sphere in R^{view.spec.d}"
                                          f" ({name})"))
    fig.update_xaxes(title="degree k", **LOG_AXIS)
    fig.update_yaxes(title="eigenvalue μ_k", **LOG_AXIS)
    return fig


def sphere_slopes(view) -> pd.DataFrame:
    rows = []
    for i, depth in enumerate(view.depths):
        row = {"layers L": int(depth)}
        for kernel in ("ntk", "nngp"):
            lo, hi = view.window[kernel][i]
            row[f"{kernel.upper()} slope"] = view.slope[kernel][i]
            row[f"{kernel.upper()} predicted"] = view.predicted[kernel]
            row[f"{kernel.upper()} fit window"] = f"{lo}..{hi}"
        rows.append(row)
    return pd.DataFrame(rows)


def sphere_table(view) -> pd.DataFrame:
    """Long table: k, N(d, k), and μ_k for every kernel and depth."""
    columns = {"k": view.k, "multiplicity N(d,k)": view.multiplicity}
    for kernel in ("ntk", "nngp"):
        for i, depth in enumerate(view.depths):
            columns[f"{kernel}_L{depth}"] = view.mu[kernel][i]
    return pd.DataFrame(columns)
