"""One look for every chart: fonts large enough for a lecture hall, a colour-blind-safe palette,
log axes written as powers of ten."""

from __future__ import annotations

import math
import warnings

import numpy as np
import plotly.graph_objects as go

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000", "#999999", "#882255", "#44AA99", "#117733")
"""Okabe–Ito, then Tol's muted colours for more than eight series."""

LOG_AXIS = dict(type="log", exponentformat="power", showexponent="all", dtick=1)
"""A log axis labelled at whole powers of ten only (no crowded 2 and 5 minor labels)."""

LOG_AXIS_FINE = dict(type="log", exponentformat="power", showexponent="all", dtick="D2")
"""A log axis also labelled at 2 and 5 times each power of ten: errors that may span less than a
decade (a decade-only axis would show one label, or none)."""

ACTIVATION_NAMES = {"relu": "ReLU", "erf": "erf", "gelu": "GELU", "tanh": "tanh",
                    "sigmoid": "sigmoid", "identity": "identity"}


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def base_layout(**overrides) -> dict:
    # 15 px dark text (tick labels, axis titles): readable on a projector; legends at 13 px, or
    # long series names would take half of a 1280 px chart.
    layout = dict(template="plotly_white", font=dict(size=15, color="#1f2328"),
                  legend=dict(font=dict(size=13), orientation="h", yref="container", y=0,
                              yanchor="bottom", x=0, xanchor="left"),
                  height=520, margin=dict(l=70, r=20, t=60, b=60), hovermode="closest")
    layout.update(overrides)
    return layout


def band(values: np.ndarray, axis: int = -1) -> tuple:
    """Median and the min/max over seeds (the error bars), ignoring diverged (NaN) runs."""
    with warnings.catch_warnings():  # an all-NaN column (every seed diverged) gives NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        return (np.nanmedian(values, axis=axis), np.nanmin(values, axis=axis),
                np.nanmax(values, axis=axis))


# --- Theory lines told from data ------------------------------------------------------------------

THEORY_LINE = dict(dash="dash", width=2)
"""A theory line: dashed, as thick as a data line (a 1 px dash vanishes on a projector); data is
drawn solid, with markers."""


def line_label(x, y, text: str, color: str) -> go.Scatter:
    """`text` written on the chart at the last point `(x[-1], y[-1])` of a line, in its colour: a
    theory line is named where it is drawn, not only in the legend. A text trace, so it follows log
    axes and zoom; not in the legend."""
    return go.Scatter(x=[x[-1]], y=[y[-1]], mode="text", text=[text], name=text,
                      textposition="top left",
                      textfont=dict(color=color, size=14), showlegend=False, hoverinfo="skip",
                      cliponaxis=False)


def power(base: str, exponent: float) -> str:
    """`base` to the `exponent`, written with superscripts: `power("k", -4)` is `k⁻⁴`."""
    return base + f"{exponent:g}".translate(_SUPERSCRIPT)


# --- Log axes readable from the back row -----------------------------------------------------------

MOST_TICKS = 10
"""At most this many labelled ticks on a log axis (every k-th decade when more span the data)."""


def tick_text(value: float) -> str:
    """A log axis' tick label, its full value: `0.002`, `0.5`, `20`, `2,000`; beyond 10⁴ or under
    10⁻³ as powers of ten, `10⁵`, `2×10⁻⁶`."""
    exponent = math.floor(math.log10(value) + 1e-9)
    if -3 <= exponent <= 4:  # three significant digits at most, no trailing zeros
        text = f"{value:,.{max(0, 2 - exponent)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa = round(value / 10.0 ** exponent)
    power = "10" + str(exponent).translate(_SUPERSCRIPT)
    return power if mantissa == 1 else f"{mantissa}×{power}"


def log_tick_values(low: float, high: float) -> list[float]:
    """Tick values for a log axis whose data spans `[low, high]` (both > 0), at least two of them:
    whole decades when three or more lie in the span (every k-th one past `MOST_TICKS`), else 1, 2
    and 5 times each power of ten, else every 1 to 9 times, else the two ends rounded inwards (a
    span under 12%)."""
    lo, hi = math.log10(low), math.log10(high)
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 3:
        step = math.ceil(len(decades) / MOST_TICKS)
        return [10.0 ** k for k in decades[::-1][::step][::-1]]  # the top decade always
    for mantissas in ((1, 2, 5), range(1, 10)):
        values = [m * 10.0 ** k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1)
                  for m in mantissas]
        inside = [v for v in values if low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
        if len(inside) >= 2:
            return inside
    for digits in range(2, 8):  # a narrow span: its ends, rounded inwards to a few digits
        unit = 10.0 ** (math.floor(lo) - digits + 1)
        a, b = math.ceil(low / unit) * unit, math.floor(high / unit) * unit
        if a < b:
            return [a, b]
    return [low, high]


def _axis_values(fig, axis: str) -> np.ndarray:
    """Every value drawn on layout axis `axis` (`xaxis`, `yaxis2`, ...): the traces' points with
    their error bars, and the lines and shapes placed on it."""
    letter, suffix = axis[0], axis[5:]
    ref = letter + suffix  # a trace's `xaxis` / `yaxis` attribute: "x", "y2", ...
    values = []
    for trace in fig.data:
        if (getattr(trace, f"{letter}axis", None) or letter) != ref:
            continue
        points = getattr(trace, letter, None)
        if points is None:
            continue
        points = np.asarray(points, dtype=float).ravel()
        values.append(points)
        error = getattr(trace, f"error_{letter}", None)
        if error is not None and error.array is not None:
            upper = np.asarray(error.array, dtype=float).ravel()
            lower = np.asarray(error.arrayminus if error.arrayminus is not None else error.array,
                               dtype=float).ravel()
            if upper.shape == points.shape and lower.shape == points.shape:
                values += [points + upper, points - lower]
    for shape in fig.layout.shapes or ():
        if (getattr(shape, f"{letter}ref", None) or letter) == ref:
            values.append(np.array([getattr(shape, f"{letter}0"), getattr(shape, f"{letter}1")],
                                   dtype=float))
    return np.concatenate(values) if values else np.array([])


def readable_log_axes(fig):
    """`fig` with every log axis that has no tick values of its own ticked by `log_tick_values`
    over what is drawn on it, each label its full value (`tick_text`): never one tick alone, no
    bare "2" and "5" for 0.2 and 0.5. Returns `fig` (changed in place)."""
    for axis in [name for name in fig.layout.to_plotly_json() if name[1:5] == "axis"]:
        layout_axis = fig.layout[axis]
        if layout_axis.type != "log" or layout_axis.tickvals is not None:
            continue
        values = _axis_values(fig, axis)
        values = values[np.isfinite(values) & (values > 0)]
        if not values.size:
            continue
        ticks = log_tick_values(float(values.min()), float(values.max()))
        layout_axis.update(tickvals=ticks, ticktext=[tick_text(v) for v in ticks], dtick=None,
                           tickmode="array")
    return fig
