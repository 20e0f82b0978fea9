"""Depth separation: a ball indicator learned by gradient descent with two sigmoidal layers, not
with one (Safran & Lee 2022). UI only: controls mirrored in the URL, one cached engine call per
view, charts, explanation, downloads."""

from __future__ import annotations

import streamlit as st

from engine.experiments import separation as sep
from figures import separation as figs
from figures.export import csv
import ui
from ui.links import controls_of
from ui.papers import cite

PAGE = "sep"
POWERS = [2, 4, 8, 16, 32, 64, 128]
SIZES = [256, 512, 1024, 2048, 4096, 8192]
STEPS = [100, 250, 500, 1000, 2000, 4000]
WIDTHS = [2, 4, 8, 16, 32, 64, 128, 256, 512]
FEATURES = [16, 64, 256, 1024, 2048, 4096]


def common_controls(controls: ui.UrlControls, default) -> dict:
    law = controls.selectbox("law", "Radial law of ‖x‖", sep.LAWS, default=default.law,
                             help="x = ρu with u uniform on the sphere; the law of ρ puts mass on "
                                  "both sides of the ball's radius r = √d.")
    ratio = controls.field("ratio", default, "ratio", step=0.05)
    n_train = controls.select_slider("n_train", "Training samples", SIZES,
                                     default=default.n_train)
    steps = controls.select_slider("steps", "Training steps (full batch)", STEPS,
                                   default=default.steps)
    optimizer = controls.radio("opt", "Optimizer", {"adam": "Adam", "sgd": "Gradient descent"},
                               default=default.optimizer)
    lr = controls.field("lr", default, "learning_rate", lo=0.0001, step=0.005)
    seeds = controls.field("seeds", default, "seeds")
    return dict(law=law, ratio=ratio, n_train=n_train, steps=steps, optimizer=optimizer,
                learning_rate=lr, seeds=seeds)


def error_chart(metric: str):
    """The first chart of either view, alone: what is drawn from the first results."""
    return lambda view: ui.chart(figs.error_figure(view, metric), key=f"{PAGE}_error")


def charts(view, index: int, metric: str, file_name: str) -> None:
    error_chart(metric)(view)
    if view.diverged.any():
        st.warning(f"{int(view.diverged.sum())} runs diverged (their loss exploded) and are left "
                   "out; lower the learning rate.")
    ui.chart(figs.profile_figure(view, index), key=f"{PAGE}_profile")
    ui.chart(figs.curves_figure(view, index), key=f"{PAGE}_curves")
    ui.explain(
        claim="For radially symmetric inputs, gradient descent learns the ball indicator with two "
              "layers of sigmoids even when the first is random and frozen: the random layer "
              "already computes a function close to one of ‖x‖², so what is left is learning "
              "a single sigmoid neuron, an easy problem. With one layer of non-linearities the "
              "network must build the radial function from ridge functions σ(w·x + b): it needs "
              "width that grows with d, no algorithm beats error Ω(d⁻⁴) on some radial "
              "distributions, and gradient descent stalls at a constant error.",
        formula=r"\begin{aligned} f(x) &= \mathbb{1}\{\|x\| \le r\} \\ "
                r"N_A(x) &= \sigma\Big(\sum_{j} v_j\, \sigma(\langle w_j, x\rangle + b_j) + c"
                r"\Big) \quad (w_j, b_j \text{ random, frozen}) \\ "
                r"N_B(x) &= \sum_{j} v_j\, \sigma(\langle w_j, x\rangle + b_j) + c "
                r"\end{aligned}",
        note="Reconstructed experiment: x = ρu, u uniform on the sphere, r = √d; square loss on "
             "0/1 labels, full batch, NTK parameterisation; test error at the best validation "
             "checkpoint on 2,048 fresh points. Classification error thresholds the output at "
             "1/2. Bars span the seeds; the learned function is drawn for seed 0 along random "
             "directions. Dotted lines: training MSE. " + sep.MEASURED + " A needs about d²/2 "
             "random features.",
        paper=cite("safran_lee"))
    left, right = st.columns(2)
    with left:
        ui.download("Runs (CSV)", csv(figs.table(view), f"Depth separation, {view.spec}"),
                    file_name=f"{file_name}.csv", key=f"{PAGE}_runs_csv")
    with right:
        ui.download("Learned functions (CSV)",
                    csv(figs.profile_table(view), f"Depth separation, {view.spec}"),
                    file_name=f"{file_name}_profiles.csv", key=f"{PAGE}_profile_csv")


def dimension_page(controls: ui.UrlControls) -> None:
    default = sep.DEFAULT_DIMENSION
    controls.presets("Presets", sep.DIMENSION_PRESETS,
                     lambda preset: controls_of("depth_separation", "dimension", preset.spec))
    common = common_controls(controls, default)
    d_min = controls.select_slider("d_min", "Smallest d", POWERS, default=default.d_min)
    d_max = controls.select_slider("d_max", "Largest d", [p for p in POWERS if p >= d_min],
                                   default=max(default.d_max, d_min))
    width = controls.select_slider("width", "Width of the trained hidden layers (A all trained, "
                                   "B)", WIDTHS, default=default.width)
    features = controls.select_slider("features", "Random features of A", FEATURES,
                                      default=default.features)
    spec = sep.DimensionSpec(d_min=d_min, d_max=d_max, width=width, features=features, **common)
    shown = controls.select_slider("show_d", "Learned function and curves at d",
                                   list(spec.dims), default=spec.dims[-1])
    metric = controls.radio("metric", "Error", figs.METRICS, default="mse")
    controls.finish()
    view = ui.compute(sep.dimension_sweep, spec, label="Training models A and B",
                      preview=error_chart(metric))
    charts(view, list(view.dims).index(shown), metric, "separation_dimension")


def width_page(controls: ui.UrlControls) -> None:
    default = sep.DEFAULT_WIDTH
    controls.presets("Presets", sep.WIDTH_PRESETS,
                     lambda preset: controls_of("depth_separation", "width", preset.spec))
    common = common_controls(controls, default)
    d = controls.select_slider("w_d", "Input dimension d", POWERS, default=default.d)
    w_min = controls.select_slider("w_min", "Smallest width", WIDTHS, default=min(default.widths))
    w_max = controls.select_slider("w_max", "Largest width", [w for w in WIDTHS if w >= w_min],
                                   default=max(max(default.widths), w_min))
    widths = tuple(w for w in WIDTHS if w_min <= w <= w_max and
                   (WIDTHS.index(w) - WIDTHS.index(w_min)) % 2 == 0) or (w_min,)
    if widths[-1] != w_max:
        widths += (w_max,)
    spec = sep.WidthSpec(d=d, widths=widths, **common)
    shown = controls.select_slider("show_w", "Learned function and curves at width",
                                   list(widths), default=widths[-1])
    metric = controls.radio("metric", "Error", figs.METRICS, default="mse")
    controls.finish()
    view = ui.compute(sep.width_sweep, spec, label="Training models A and B at every width",
                      preview=error_chart(metric))
    charts(view, list(view.widths).index(shown), metric, "separation_width")


ui.header("Depth separation",
          "Can gradient descent find what depth can express? Train a network whose first "
          "sigmoid layer is random and frozen, and one-hidden-layer networks trained end to "
          "end, on the indicator of a ball, and watch how their errors grow with the input "
          "dimension and shrink with width.")
controls = ui.UrlControls(PAGE)
view_name = controls.radio("view", "View", {"dimension": "Error against d",
                                            "width": "Error against width"},
                           default="dimension")
if view_name == "dimension":
    dimension_page(controls)
else:
    width_page(controls)
