"""Log axes readable from the back row (figures.style.readable_log_axes, issue 17): at least two
labelled ticks whatever the data spans, labels written as full values, decades when the data
spans several, ticks placed over everything drawn on the axis (error bars and lines too)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from figures.style import MOST_TICKS, log_tick_values, readable_log_axes, tick_text


@pytest.mark.parametrize("value, text", [(0.002, "0.002"), (0.5, "0.5"), (1.0, "1"), (20.0, "20"),
                                         (2000.0, "2,000"), (1e4, "10,000"), (1e5, "10⁵"),
                                         (16.4, "16.4"), (0.0125, "0.0125"),
                                         (2e-6, "2×10⁻⁶"), (1e-20, "10⁻²⁰")])
def test_tick_labels_are_full_values(value, text):
    assert tick_text(value) == text


def test_every_span_gets_at_least_two_ticks_inside_it():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        low = 10.0 ** rng.uniform(-20, 6)
        high = low * 10.0 ** rng.uniform(0.01, 25)
        ticks = log_tick_values(low, high)
        assert 2 <= len(ticks) <= MOST_TICKS + 1, (low, high, ticks)
        assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)
        assert all(low * (1 - 1e-6) <= t <= high * (1 + 1e-6) for t in ticks), (low, high, ticks)


def test_decades_when_the_data_spans_three_or_more():
    assert log_tick_values(0.003, 2.0) == [0.01, 0.1, 1.0]
    assert log_tick_values(0.05, 0.9) == [0.05, 0.1, 0.2, 0.5]  # fewer decades: 1, 2 and 5
    assert log_tick_values(40.0, 130.0) == [50.0, 100.0]
    ticks = log_tick_values(1e-20, 1.0)  # 21 decades: every third, the top one kept
    assert ticks[-1] == 1.0 and len(ticks) <= MOST_TICKS
    assert all(math.isclose(math.log10(b / a), 3) for a, b in zip(ticks, ticks[1:]))


def test_a_figure_is_ticked_over_its_points_error_bars_and_lines():
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[0.3, 0.4, 0.5],
                               error_y=dict(type="data", array=[0.1, 0.1, 0.6],
                                            arrayminus=[0.25, 0.1, 0.1])))
    fig.add_trace(go.Scatter(x=[1, 3], y=[7.0, 8.0], yaxis="y2"))
    fig.add_hline(y=0.02, line=dict(dash="dot"))
    fig.update_layout(yaxis2=dict(type="log", overlaying="y", side="right"))
    fig.update_yaxes(type="log", dtick=1, selector=dict(overlaying=None))
    readable_log_axes(fig)
    assert list(fig.layout.yaxis.tickvals) == [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]  # 0.02 to 1.1
    assert list(fig.layout.yaxis.ticktext) == ["0.02", "0.05", "0.1", "0.2", "0.5", "1"]
    assert fig.layout.yaxis.dtick is None
    assert list(fig.layout.yaxis2.tickvals) == [7.0, 8.0]  # its own trace only
    assert fig.layout.xaxis.tickvals is None  # a linear axis is left as it is


def test_an_axis_with_its_own_ticks_is_left_alone():
    fig = go.Figure(go.Scatter(x=[4, 8, 16], y=[10, 100, 1000]))
    fig.update_xaxes(type="log", tickvals=[4, 8, 16])
    fig.update_yaxes(type="log")
    readable_log_axes(fig)
    assert list(fig.layout.xaxis.tickvals) == [4, 8, 16]
    assert list(fig.layout.yaxis.ticktext) == ["10", "100", "1,000"]


def test_the_spheres_predicted_laws_are_named_on_the_chart():
    """Each panel's dashed predicted law carries its name where it ends (issue 17)."""
    from engine.experiments import eigenstructure
    from figures.eigenstructure import sphere_figure
    from figures.style import power

    view = eigenstructure.sphere(eigenstructure.SphereSpec(d=3, k_max=60, fit_from=10, layers=3))
    fig = sphere_figure(view)
    labels = [t for t in fig.data if t.mode == "text"]
    assert [t.text[0] for t in labels] == [f"{power('k', view.predicted[kernel])} predicted"
                                           for kernel in ("ntk", "nngp")]
    assert [label.xaxis for label in labels] == ["x", "x2"]  # one in each panel


def test_powers_are_written_with_superscripts():
    from figures.style import power

    assert power("k", -4) == "k⁻⁴" and power("d", 2) == "d²" and power("k", -12) == "k⁻¹²"
