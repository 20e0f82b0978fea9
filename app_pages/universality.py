"""Universality: CNN against LCN against FCN (Wang & Wu 2023), from real training runs. UI only:
controls mirrored in the URL, one cached engine call per view, charts, explanation, downloads."""

from __future__ import annotations

import streamlit as st

from engine import tasks
from engine.experiments import universality as uni
from figures import universality as figs
from figures.export import csv
import ui
from ui.links import controls_of
from ui.papers import cite

PAGE = "uni"
POWERS = [4, 8, 16, 32, 64, 128]
SIZES = [64, 128, 256, 512, 1024, 2048, 4096, 8192]
STEPS = [250, 500, 1000, 2000, 4000]
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD"}
DEPTH_STEPS = sorted({*STEPS, uni.DEFAULT_DEPTH.steps})


def sample_page(controls: ui.UrlControls) -> None:
    default = uni.DEFAULT_SAMPLES
    controls.presets("Presets", uni.SAMPLE_PRESETS,
                     lambda preset: controls_of("universality", "samples", preset.spec))
    target = controls.selectbox("target", "Target", {k: tasks.TARGETS[k] for k in
                                                     ("sparse_product", "quadratic")},
                                default=default.target)
    d_min = controls.select_slider("d_min", "Smallest d", POWERS, default=default.d_min)
    d_max = controls.select_slider("d_max", "Largest d", [p for p in POWERS if p >= d_min],
                                   default=max(default.d_max, d_min))
    n_max = controls.select_slider("n_max", "Largest training set n", SIZES,
                                   default=default.n_max)
    threshold = controls.field("threshold", default, "threshold", lo=0.05, hi=0.95, step=0.05)
    seeds = controls.field("seeds", default, "seeds")
    steps = controls.select_slider("steps", "Training steps", STEPS, default=default.steps)
    optimizer = controls.radio("opt", "Optimizer", OPTIMIZERS, default=default.optimizer)
    lr = controls.field("lr", default, "learning_rate", lo=0.0001, step=0.001)
    channels = controls.field("channels", default, "channels")
    width = controls.select_slider("width", "FCN width", [16, 32, 64, 128, 256, 512],
                                   default=default.width)
    spec = uni.SampleComplexitySpec(target=target, d_min=d_min, d_max=d_max, n_max=n_max,
                                    seeds=seeds, threshold=threshold, steps=steps,
                                    optimizer=optimizer, learning_rate=lr, channels=channels,
                                    width=width)
    shown = controls.select_slider("curve_d", "Learning curves at d", list(spec.dims),
                                   default=spec.dims[-1])
    controls.finish()
    curve_at = list(spec.dims).index(shown)

    def needed_chart(view: uni.SampleComplexityView) -> None:
        chart, counts = st.columns([5, 2])
        with chart:
            ui.chart(figs.samples_needed_figure(view), key=f"{PAGE}_needed")
        with counts:
            st.markdown("**Trained parameters** (weight sharing is about these)")
            st.dataframe(figs.parameter_table(view), hide_index=True,
                         column_config={"d": st.column_config.NumberColumn(width="small")})

    view = ui.compute(uni.sample_complexity, spec, label="Training CNN, LCN and FCN",
                      preview=needed_chart)
    needed_chart(view)
    st.markdown(figs.ordering(view))
    missing = figs.unreached(view)
    if missing:
        st.info("Never reached the target error within n ≤ "
                f"{spec.n_max:,}: {', '.join(missing)} (not drawn). Raise the largest n or the "
                "target error.")
    if view.diverged.any():
        st.warning(f"{int(view.diverged.sum())} runs diverged (their loss exploded) and are left "
                   "out; lower the learning rate.")
    ui.chart(figs.learning_curves_figure(view, curve_at), key=f"{PAGE}_curves")
    ui.explain(
        claim="Deep CNNs that combine multichanneling and downsampling need Õ(log² d) samples on "
              "their separation task; locally connected networks (no weight sharing) need Ω(d) "
              "and fully connected ones Ω(d²): weight sharing and locality break different "
              "symmetries of the learner.",
        formula=r"n^*_{\mathrm{CNN}} = \tilde O(\log^2 d), \quad n^*_{\mathrm{LCN}} = "
                r"\Omega(d), \quad n^*_{\mathrm{FCN}} = \Omega(d^2)",
        note="Reconstructed setting: Gaussian inputs x ~ N(0, I_d), targets scaled to unit "
             "variance; tree CNN/LCN with filter = stride = 2, depth log₂ d and the same number "
             "of channels in every layer, FCN with "
             f"{uni.FCN_DEPTH} hidden layers; bias scale {uni.BIAS_STD:g}; square loss, full "
             "batch, no early stopping; test error at the best validation checkpoint. n* is "
             "interpolated between grid points in log n against log error; bars span the seeds. "
             f"{uni.MEASURED} The CNN's slope is not 0, but over d = 8..64 log² d itself grows "
             f"like d^0.67. {uni.MEASURED_SPARSE} The theorem's Õ(log² d) is "
             "for a constructed, norm-constrained estimator, not plain gradient training, and the "
             "tree CNN's kernel gives x₀·x_last, the mode widest in space, its smallest "
             "eigenvalue (Xiao 2022).",
        paper=cite("wang_wu"))
    ui.download("Runs (CSV)", csv(figs.sample_table(view), f"Universality, {spec}"),
                file_name="sample_complexity.csv", key=f"{PAGE}_samples_csv")


def depth_page(controls: ui.UrlControls) -> None:
    default = uni.DEFAULT_DEPTH
    controls.presets("Presets", uni.DEPTH_PRESETS,
                     lambda preset: controls_of("universality", "depth", preset.spec))
    s = controls.slider("s", "Filter size = stride s", 2, 4, default=default.s)
    choices = [s ** k for k in range(2, 8) if s ** k <= 64]
    d = controls.select_slider("depth_d", "Input dimension d", choices,
                               default=default.d if default.d in choices else choices[1])
    target = controls.selectbox("depth_target", "Target", tasks.TARGETS,
                                default=default.target)
    top = controls.select_slider("max_channels", "Largest channel count",
                                 [4, 8, 16, 32, 64, 128, 256],
                                 default=max(default.channels))
    channels = tuple(sorted({max(top // 16, 1), max(top // 4, 1), top}))
    n_train = controls.select_slider("n_train", "Training samples", SIZES,
                                     default=default.n_train)
    seeds = controls.field("depth_seeds", default, "seeds")
    steps = controls.select_slider("depth_steps", "Training steps", DEPTH_STEPS,
                                   default=default.steps)
    spec = uni.DepthSpec(d=d, s=s, target=target, channels=channels, n_train=n_train,
                         seeds=seeds, steps=steps, learning_rate=default.learning_rate)
    diagram_depth = controls.slider("diagram", "Receptive fields after layer", 1,
                                    len(spec.depths), default=len(spec.depths))
    controls.finish()

    def depth_chart(view: uni.DepthView) -> None:
        ui.chart(figs.depth_figure(view), key=f"{PAGE}_depth")

    view = ui.compute(uni.depth_sweep, spec, label="Training tree CNNs of every depth",
                      preview=depth_chart)
    depth_chart(view)
    ui.chart(figs.receptive_field_figure(d, s, diagram_depth), key=f"{PAGE}_fields")
    ui.explain(
        claim="A deep CNN with downsampling is universal once its depth reaches log_s d: before "
              "that, each last-layer position sees only s^L inputs and a flatten readout adds up "
              "functions of separate blocks, which cannot represent a target that couples all "
              "coordinates; at L = log_s d one position sees everything and the error drops.",
        formula=r"L^* = \lceil \log_s d \rceil, \quad f(x) = \frac{(\sum_{i<h} x_i)"
                r"(\sum_{i \ge h} x_i)}{\sqrt{h(d-h)}}",
        note="The error is the mean squared error over the target's variance (1 means no better "
             "than predicting 0). Solid: training error (approximation); dotted: test error.",
        paper=cite("wang_wu"))
    ui.download("Runs (CSV)", csv(figs.depth_table(view), f"Universality with depth, {spec}"),
                file_name="depth_sweep.csv", key=f"{PAGE}_depth_csv")


ui.header("Universality",
          "Why do CNNs need so few samples? Train tree CNNs, locally connected networks and "
          "fully connected networks on the same targets, and see how the samples needed grow "
          "with the input dimension, and how depth buys a receptive field that covers the "
          "input.")
controls = ui.UrlControls(PAGE)
view_name = controls.radio("view", "View", {"samples": "Sample complexity", "depth": "Depth"},
                           default="samples")
if view_name == "samples":
    sample_page(controls)
else:
    depth_page(controls)
