"""Plotly figures, tables and CSV for the Universality page, from
`engine.experiments.universality.SampleComplexityView` and `DepthView`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.style import LOG_AXIS, PALETTE, THEORY_LINE, band, base_layout, line_label

NAMES = {"cnn": "CNN", "lcn": "LCN", "fcn": "FCN"}
THEORY = {"cnn": ("log² d", lambda d: np.log(d) ** 2), "lcn": ("d", lambda d: d),
          "fcn": ("d²", lambda d: d ** 2)}
"""Wang & Wu's sample complexity of each architecture on their separation task, as it is shown
and as a function of d (`Õ(log² d)`, `Ω(d)`, `Ω(d²)`)."""


def learning_curves_figure(view, d_index: int) -> go.Figure:
    """Relative test error against n at one d, one line per architecture, bars over seeds."""
    d = int(view.dims[d_index])
    fig = go.Figure()
    for a, arch in enumerate(view.archs):
        mid, lo, hi = band(view.test_error[a, d_index], axis=0)
        fig.add_trace(go.Scatter(
            x=view.sizes, y=mid, mode="lines+markers", name=NAMES[arch],
            line=dict(color=PALETTE[a]),
            error_y=dict(type="data", symmetric=False, array=hi - mid, arrayminus=mid - lo),
            hovertemplate=f"{NAMES[arch]}<br>n = %{{x}}<br>test error %{{y:.3f}}<extra></extra>"))
    fig.add_hline(y=view.spec.threshold, line=dict(color="grey", dash="dot"),
                  annotation_text=f"target error {view.spec.threshold:g}")
    fig.update_layout(**base_layout(title=f"Learning curves at d = {d}", legend_title="network"))
    fig.update_xaxes(title="training samples n", **LOG_AXIS)
    fig.update_yaxes(title="test MSE / Var(y)", **LOG_AXIS)
    return fig


def samples_needed_figure(view) -> go.Figure:
    """Samples needed to reach the target error against d, log-log, with fitted slopes and the
    theory's rates (anchored at each architecture's first finite point)."""
    fig = go.Figure()
    dims = view.dims.astype(float)
    for a, arch in enumerate(view.archs):
        mid, lo, hi = band(view.samples_needed[a], axis=-1)
        slope = view.slope[a]
        label = f"{NAMES[arch]}" + ("" if np.isnan(slope) else f" (slope {slope:.2f})")
        fig.add_trace(go.Scatter(
            x=dims, y=mid, mode="lines+markers", name=label, line=dict(color=PALETTE[a]),
            error_y=dict(type="data", symmetric=False, array=hi - mid, arrayminus=mid - lo),
            hovertemplate=f"{NAMES[arch]}<br>d = %{{x}}<br>n needed %{{y:.0f}}<extra></extra>"))
        finite = np.nonzero(np.isfinite(mid))[0]
        if len(finite):
            d0, n0 = dims[finite[0]], mid[finite[0]]
            shown, rate = THEORY[arch]
            theory = n0 * rate(dims) / rate(d0)
            fig.add_trace(go.Scatter(
                x=dims, y=theory, mode="lines", name=f"{NAMES[arch]} theory ∝ {shown}",
                line=dict(color=PALETTE[a], **THEORY_LINE), hoverinfo="skip"))
            fig.add_trace(line_label(dims, theory, f"∝ {shown}", PALETTE[a]))
    fig.update_layout(**base_layout(title=f"Samples needed to reach test error "
                                          f"{view.spec.threshold:g}", legend_title="network"))
    fig.update_xaxes(title="input dimension d", type="log", tickvals=view.dims)
    fig.update_yaxes(title="samples needed n*", **LOG_AXIS)
    return fig


def ordering(view) -> str:
    """One sentence on what the view shows: whether the median samples needed are strictly
    ordered CNN < LCN < FCN at each d (only the last may never reach the target: it then needs
    more than `n_max`; two that never reach it are not ordered), and the fitted slopes."""
    median = band(view.samples_needed)[0]
    need = np.where(np.isfinite(median), median, np.inf)
    names = [NAMES[a] for a in view.archs]
    held, broken = [], []
    for i, d in enumerate(view.dims):
        ordered = np.isfinite(need[:-1, i]).all() and np.all(np.diff(need[:, i]) > 0)
        (held if ordered else broken).append(f"d = {int(d)}")
    slopes = ", ".join(f"{names[a]} {s:.2f}" for a, s in enumerate(view.slope) if np.isfinite(s))
    if not broken:
        where = "at every d shown"
    elif not held:
        where = "at no d shown"
    else:
        where = f"at {', '.join(held)} but not at {', '.join(broken)}"
    return (f"Median samples needed ordered {' < '.join(names)} {where}. Fitted slopes of log n* "
            f"against log d: {slopes or 'too few points'} "
            f"(theory: {', '.join(THEORY[arch][0] for arch in view.archs)}).")


def parameter_table(view) -> pd.DataFrame:
    """Trained parameters of each network at each d."""
    return pd.DataFrame({"d": view.dims.astype(int),
                         **{NAMES[arch]: view.parameters[a] for a, arch in enumerate(view.archs)}})


def unreached(view) -> list[str]:
    """'FCN at d = 32' for every (architecture, d) whose median run never reached the target."""
    median = band(view.samples_needed)[0]
    return [f"{NAMES[arch]} at d = {int(d)}" for a, arch in enumerate(view.archs)
            for i, d in enumerate(view.dims) if not np.isfinite(median[a, i])]


def sample_table(view) -> pd.DataFrame:
    rows = []
    for a, arch in enumerate(view.archs):
        for i, d in enumerate(view.dims):
            for s in range(view.test_error.shape[2]):
                for j, n in enumerate(view.sizes):
                    rows.append({"network": NAMES[arch], "d": int(d),
                                 "parameters": int(view.parameters[a, i]), "seed": s, "n": int(n),
                                 "test_error": view.test_error[a, i, s, j],
                                 "train_error": view.train_error[a, i, s, j],
                                 "diverged": bool(view.diverged[a, i, s, j]),
                                 "samples_needed": view.samples_needed[a, i, s]})
    return pd.DataFrame(rows)


def depth_figure(view) -> go.Figure:
    """Relative error against depth, one line per channel count (bars over seeds), with the depth
    at which the receptive field covers the input marked."""
    fig = go.Figure()
    for c, channels in enumerate(view.channels):
        for kind, dash, errors in (("train", "solid", view.train_error),
                                   ("test", "dot", view.test_error)):
            mid, lo, hi = band(errors[:, c], axis=-1)
            fig.add_trace(go.Scatter(
                x=view.depths, y=mid, mode="lines+markers", line=dict(color=PALETTE[c], dash=dash),
                name=f"{channels} channels, {kind}",
                error_y=dict(type="data", symmetric=False, array=hi - mid, arrayminus=mid - lo),
                customdata=view.receptive_field,
                hovertemplate=(f"{channels} channels ({kind})<br>depth %{{x}}, receptive field "
                               "%{customdata}<br>error %{y:.3f}<extra></extra>")))
    full = int(view.depths[-1])
    fig.add_vline(x=full, line=dict(color="grey", dash="dash"),
                  annotation_text=f"receptive field = d = {view.spec.d}")
    fig.update_layout(**base_layout(title=f"Tree CNN fitted to a target of all {view.spec.d} "
                                          "coordinates", legend_title="channels per layer"))
    fig.update_xaxes(title="depth L (conv layers, filter = stride = s)", dtick=1)
    fig.update_yaxes(title="MSE / Var(y)", **LOG_AXIS)
    return fig


def depth_table(view) -> pd.DataFrame:
    rows = []
    for l, depth in enumerate(view.depths):
        for c, channels in enumerate(view.channels):
            for s in range(view.train_error.shape[2]):
                rows.append({"depth": int(depth), "receptive_field": int(view.receptive_field[l]),
                             "channels": int(channels), "seed": s,
                             "train_error": view.train_error[l, c, s],
                             "test_error": view.test_error[l, c, s],
                             "diverged": bool(view.diverged[l, c, s])})
    return pd.DataFrame(rows)


def receptive_field_figure(d: int, s: int, depth: int, *, highlight: int = 0) -> go.Figure:
    """The patch tree layer by layer: each bar is one position of a layer, spanning the inputs it
    sees (`s^l` of them at layer l); the receptive field of position `highlight` of the last layer
    is drawn in colour."""
    fig = go.Figure()
    field = s ** depth  # inputs seen by one last-layer position
    first, last = highlight * field, (highlight + 1) * field
    for level in range(depth + 1):
        span = s ** level
        positions = np.arange(d // span)
        lit = (positions * span >= first) & ((positions + 1) * span <= last)
        fig.add_trace(go.Bar(
            x=np.full(len(positions), span * 0.92), base=positions * span + span * 0.04,
            y=np.full(len(positions), level), orientation="h", width=0.6,
            marker_color=np.where(lit, PALETTE[0], "#d9d9d9"),
            customdata=np.stack([positions, positions * span, (positions + 1) * span - 1], 1),
            hovertemplate=(f"layer {level}" + ("" if level else " (input)") +
                           ", position %{customdata[0]}<br>sees inputs %{customdata[1]}"
                           "–%{customdata[2]}<extra></extra>"),
            showlegend=False))
    fig.update_layout(**base_layout(title=f"Receptive fields: d = {d}, filter = stride = {s}",
                                    height=120 + 60 * (depth + 1), barmode="overlay"))
    fig.update_xaxes(title="input coordinate", range=[0, d])
    fig.update_yaxes(title="layer", dtick=1, autorange="reversed")
    return fig
