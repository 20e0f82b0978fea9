"""Plotly figures, tables and CSV for the Depth separation page, from
`engine.experiments.separation.DimensionView` and `WidthView` (fields shared; the swept axis is
`dims` or `widths`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.style import LOG_AXIS_FINE, PALETTE, band, base_layout

NAMES = {"A": "A: frozen sigmoid layer → sigmoid unit", "A_full": "A, all trained",
         "B_sigmoid": "B: one sigmoid layer", "B_relu": "B: one ReLU layer"}
SHORT = {"A": "A", "A_full": "A (all trained)", "B_sigmoid": "B sigmoid", "B_relu": "B ReLU"}
DASH = {"A": "solid", "A_full": "dot", "B_sigmoid": "solid", "B_relu": "dash"}
METRICS = {"mse": "test and training MSE", "error": "test classification error"}


def swept(view) -> tuple[np.ndarray, str, str]:
    """`(values, axis title, name)` of the swept axis: d for a dimension view, width otherwise."""
    if hasattr(view, "dims"):
        return view.dims, "input dimension d", "d"
    return view.widths, "hidden width (random features for A)", "width"


def _metric(view, metric: str) -> np.ndarray:
    return 1.0 - view.test_accuracy if metric == "error" else view.test_mse


def baseline(view, metric: str) -> float:
    """The best constant predictor: error min(p, 1 − p), MSE p (1 − p), p the share inside."""
    p = view.spec.ratio
    return min(p, 1 - p) if metric == "error" else view.baseline_mse


def error_figure(view, metric: str) -> go.Figure:
    """Error against d (or width), one colour per model, bars over seeds, log axes; the best
    constant predictor as a horizontal line. With `metric="mse"` each model's training MSE
    (dotted) is drawn beside its test MSE (solid): a model whose training error is as high as its
    test error fails to fit (optimisation or approximation); one whose training error is far
    below its test error overfits (generalisation)."""
    x, title, name = swept(view)
    sets = [("test", "solid", _metric(view, metric))]
    if metric == "mse":
        sets.append(("training", "dot", view.train_mse))
    fig = go.Figure()
    for m, model in enumerate(view.models):
        for kind, dash, errors in sets:
            mid, lo, hi = band(errors[m], axis=-1)
            what = METRICS[metric] if metric == "error" else f"{kind} MSE"
            fig.add_trace(go.Scatter(
                x=x, y=mid, mode="lines+markers", legendgroup=model,
                name=NAMES[model] if len(sets) == 1 else f"{SHORT[model]}, {kind}",
                line=dict(color=PALETTE[m], dash=dash),
                error_y=dict(type="data", symmetric=False, array=hi - mid, arrayminus=mid - lo),
                customdata=view.parameters[m],
                hovertemplate=(f"{NAMES[model]}<br>{name} = %{{x}}<br>{what} %{{y:.3g}}"
                               "<br>%{customdata:,} trained parameters<extra></extra>")))
    fig.add_hline(y=baseline(view, metric), line=dict(color="grey", dash="dot"),
                  annotation_text="best constant predictor", annotation_position="bottom right")
    what = "d" if name == "d" else f"width at d = {view.spec.d}"
    fig.update_layout(**base_layout(title=f"Learning the ball indicator: {METRICS[metric]} "
                                          f"against {what}",
                                    legend_title="model" if len(sets) == 1 else "model, set"))
    fig.update_xaxes(title=title, type="log", tickvals=x)
    fig.update_yaxes(title=METRICS[metric], **LOG_AXIS_FINE)
    return fig


def profile_figure(view, index: int) -> go.Figure:
    """The learned function against ||x|| / r at one d (or width): mean over directions of the
    first seed's model, ± one standard deviation as a band; the target 1{||x|| ≤ r} and the
    ball's edge."""
    x, _, name = swept(view)
    norms = view.norms
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=norms, y=(norms <= 1).astype(float), mode="lines",
                             line=dict(color="black", width=2, shape="hv"),
                             name="target 1{‖x‖ ≤ r}", hoverinfo="skip"))
    for m, model in enumerate(view.models):
        mean, std = view.output_mean[m, index, 0], view.output_std[m, index, 0]
        colour = PALETTE[m]
        fig.add_trace(go.Scatter(
            x=np.concatenate([norms, norms[::-1]]),
            y=np.concatenate([mean + std, (mean - std)[::-1]]), fill="toself",
            fillcolor=_transparent(colour), line=dict(width=0), hoverinfo="skip",
            legendgroup=model, showlegend=False))
        fig.add_trace(go.Scatter(
            x=norms, y=mean, mode="lines", name=NAMES[model], legendgroup=model,
            line=dict(color=colour, dash=DASH[model]),
            customdata=std,
            hovertemplate=(f"{NAMES[model]}<br>‖x‖/r = %{{x:.3f}}<br>output %{{y:.3f}} ± "
                           "%{customdata:.3f}<extra></extra>")))
    fig.add_vline(x=1.0, line=dict(color="grey", dash="dash"), annotation_text="ball's edge")
    fig.update_layout(**base_layout(title=f"Learned function against ‖x‖ at {name} = "
                                          f"{int(x[index])} (seed 0; band: ± 1 sd over "
                                          "directions)", legend_title="model"))
    fig.update_xaxes(title="‖x‖ / r")
    fig.update_yaxes(title="network output")
    return fig


def _transparent(hex_colour: str, alpha: float = 0.15) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def curves_figure(view, index: int) -> go.Figure:
    """Test (solid) and training (dotted) MSE against training steps at one d (or width), median
    over seeds."""
    x, _, name = swept(view)
    fig = go.Figure()
    for m, model in enumerate(view.models):
        for kind, dash, curves in (("test", "solid", view.test_curve),
                                   ("train", "dot", view.train_curve)):
            mid = band(curves[m, index], axis=0)[0]
            fig.add_trace(go.Scatter(
                x=view.eval_steps, y=mid, mode="lines", name=f"{SHORT[model]}, {kind}",
                line=dict(color=PALETTE[m], dash=dash), legendgroup=model,
                hovertemplate=(f"{NAMES[model]} ({kind})<br>step %{{x}}<br>MSE %{{y:.4f}}"
                               "<extra></extra>")))
    fig.add_hline(y=view.baseline_mse, line=dict(color="grey", dash="dot"),
                  annotation_text="best constant predictor", annotation_position="bottom right")
    fig.update_layout(**base_layout(title=f"Training curves at {name} = {int(x[index])} "
                                          "(median over seeds)", legend_title="model, set"))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="MSE", **LOG_AXIS_FINE)
    return fig


def table(view) -> pd.DataFrame:
    x, _, name = swept(view)
    rows = []
    for m, model in enumerate(view.models):
        for i, value in enumerate(x):
            for s in range(view.test_mse.shape[2]):
                rows.append({"model": model, name: int(value), "seed": s,
                             "trained_parameters": int(view.parameters[m, i]),
                             "test_mse": view.test_mse[m, i, s],
                             "train_mse": view.train_mse[m, i, s],
                             "test_accuracy": view.test_accuracy[m, i, s],
                             "diverged": bool(view.diverged[m, i, s])})
    return pd.DataFrame(rows)


def profile_table(view) -> pd.DataFrame:
    x, _, name = swept(view)
    rows = []
    for m, model in enumerate(view.models):
        for i, value in enumerate(x):
            for s in range(view.output_mean.shape[2]):
                for g, norm in enumerate(view.norms):
                    rows.append({"model": model, name: int(value), "seed": s,
                                 "norm_over_radius": norm,
                                 "output_mean": view.output_mean[m, i, s, g],
                                 "output_std": view.output_std[m, i, s, g]})
    return pd.DataFrame(rows)
