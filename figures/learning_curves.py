"""Plotly figures, tables and CSV for the Learning curves page, from
`engine.experiments.depth_locality.LocalityView` (Mori & Ueda) and
`engine.experiments.kernel_theory.TheoryView` (eigenlearning against experiment)."""

from __future__ import annotations

import altair as alt
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


# ------------------------------------------------------------------------------- watch it learn
# Vega-Lite (Altair), not Plotly: these charts are sent again several times a second, and Streamlit
# gives a Plotly chart a new identity whenever its data changes, so the browser rebuilt it from
# nothing each frame and it flickered (blank in 1 to 2 of 4 screenshots while playing); a Vega-Lite
# chart keeps its place and takes the new rows.
LIVE_POINTS = 400
"""At most this many frames are drawn (evenly thinned, the last one always kept): a chart sent
several times a second stays small however long the run."""
LIVE_DASH = {"network": [1, 0], "NTK prediction": [7, 4]}
"""The network solid, the NTK's prediction dashed (as every theory line here)."""
LIVE_STYLE = dict(labelFontSize=15, titleFontSize=15, labelColor="#1f2328",
                  titleColor="#1f2328")
LOSS_NAMES = {"test MSE": ("test_mse", "ntk_test_mse"),
              "train MSE": ("train_mse", "ntk_train_mse")}


def _drawn(frames: tuple) -> list:
    if len(frames) <= LIVE_POINTS:
        return list(frames)
    keep = np.unique(np.linspace(0, len(frames) - 1, LIVE_POINTS).round().astype(int))
    return [frames[i] for i in keep]


def component_names(setup) -> list[str]:
    """Each target component's name: its frequency and spread, and its share of the target."""
    return [f"{mode_name(f, s)} ({p:.0%})" for f, s, p in
            zip(setup.component_frequency, setup.component_spread, setup.component_power)]


def _live_chart(rows: pd.DataFrame, names: list[str], *, title: str, y_title: str,
                y_scale: dict, height: int) -> alt.Chart:
    colour = alt.Color("curve:N", title=None, sort=names,
                       scale=alt.Scale(domain=names, range=list(PALETTE[:len(names)])),
                       legend=alt.Legend(orient="bottom", labelFontSize=13, labelLimit=400,
                                         columns=3))
    dash = alt.StrokeDash("source:N", title=None, sort=list(LIVE_DASH),
                          scale=alt.Scale(domain=list(LIVE_DASH), range=list(LIVE_DASH.values())),
                          legend=alt.Legend(orient="bottom", labelFontSize=13))
    return (alt.Chart(rows, title=alt.TitleParams(title, fontSize=18, color="#1f2328"))
            .mark_line(strokeWidth=2.5, point=len(rows["step"].unique()) < 30)
            .encode(x=alt.X("step:Q", title="gradient step t", axis=alt.Axis(**LIVE_STYLE)),
                    y=alt.Y("value:Q", title=y_title, scale=alt.Scale(**y_scale),
                            axis=alt.Axis(**LIVE_STYLE)),
                    color=colour, strokeDash=dash,
                    detail="series:N",
                    tooltip=[alt.Tooltip("series:N", title="curve"), "step:Q",
                             alt.Tooltip("value:Q", format=".4g")])
            .properties(height=height))


def live_modes_rows(setup, frames: tuple) -> pd.DataFrame:
    """The modes chart's data, long form: step, curve (a target component), source (network or
    NTK prediction), series (both), value (the learned fraction)."""
    drawn = _drawn(frames)
    steps = np.array([f.step for f in drawn])
    rows = []
    for c, name in enumerate(component_names(setup)):
        for source, values in (("network", [f.fractions[c] for f in drawn]),
                               ("NTK prediction", [f.ntk_fractions[c] for f in drawn])):
            rows.append(pd.DataFrame({"step": steps, "curve": name, "source": source,
                                      "series": f"{source}: {name}", "value": values}))
    return pd.concat(rows, ignore_index=True)


def live_loss_rows(frames: tuple) -> pd.DataFrame:
    """The MSE chart's data, in `live_modes_rows`' form."""
    drawn = _drawn(frames)
    steps = np.array([f.step for f in drawn])
    rows = []
    for name, (net, ntk) in LOSS_NAMES.items():
        for source, attribute in (("network", net), ("NTK prediction", ntk)):
            rows.append(pd.DataFrame({"step": steps, "curve": name, "source": source,
                                      "series": f"{source}: {name}",
                                      "value": [getattr(f, attribute) for f in drawn]}))
    return pd.concat(rows, ignore_index=True)


def live_modes_chart(setup, frames: tuple) -> alt.Chart:
    """Learned fraction `<f, v> / <v, v>` of each target component against the step: the network
    solid, the NTK's exact prediction dashed, one colour per component."""
    return _live_chart(live_modes_rows(setup, frames), component_names(setup),
                       title="Learned fraction of each target mode",
                       y_title="learned fraction ⟨f, v⟩ / ⟨v, v⟩",
                       y_scale=dict(domain=[-0.1, 1.15], clamp=True), height=400)


def live_loss_chart(frames: tuple) -> alt.Chart:
    """Train and test MSE against the step, log scale: the network solid, the NTK dashed."""
    return _live_chart(live_loss_rows(frames), list(LOSS_NAMES),
                       title="Train and test MSE (test: exact, over the whole cube)",
                       y_title="MSE (target variance 1)", y_scale=dict(type="log"), height=300)


def live_table(setup, frames: tuple) -> pd.DataFrame:
    """Every frame of a run: step, the rate of the chunk that ended there, both MSEs and each
    component's learned fraction, for the network and the NTK's prediction."""
    table = {"step": [f.step for f in frames], "learning_rate": [f.rate for f in frames],
             "train_mse": [f.train_mse for f in frames], "test_mse": [f.test_mse for f in frames],
             "ntk_train_mse": [f.ntk_train_mse for f in frames],
             "ntk_test_mse": [f.ntk_test_mse for f in frames]}
    for c, (freq, spread) in enumerate(zip(setup.component_frequency, setup.component_spread)):
        table[f"learned |S|={freq} spread {spread}"] = [f.fractions[c] for f in frames]
        table[f"ntk learned |S|={freq} spread {spread}"] = [f.ntk_fractions[c] for f in frames]
    return pd.DataFrame(table)
