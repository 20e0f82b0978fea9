"""One look for every chart: fonts large enough for a lecture hall, a colour-blind-safe palette,
log axes written as powers of ten."""

from __future__ import annotations

import warnings

import numpy as np

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


def base_layout(**overrides) -> dict:
    layout = dict(template="plotly_white", font=dict(size=14), height=520,
                  margin=dict(l=70, r=20, t=60, b=60), hovermode="closest")
    layout.update(overrides)
    return layout


def band(values: np.ndarray, axis: int = -1) -> tuple:
    """Median and the min/max over seeds (the error bars), ignoring diverged (NaN) runs."""
    with warnings.catch_warnings():  # an all-NaN column (every seed diverged) gives NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        return (np.nanmedian(values, axis=axis), np.nanmin(values, axis=axis),
                np.nanmax(values, axis=axis))
