"""Learning curves: depth against the locality of the target (Mori & Ueda 2022), and kernel
regression against the eigenlearning theory (Simon et al. 2023; Bordelon, Canatar & Pehlevan 2020).
UI only: controls mirrored in the URL, one cached engine call per view, charts, explanation,
downloads."""

from __future__ import annotations

import streamlit as st

from engine import locality
from engine.experiments import depth_locality as loc
from engine.experiments import eigenstructure as eig
from engine.experiments import kernel_theory as kt
from figures import learning_curves as figs
from figures.export import csv
from figures.style import ACTIVATION_NAMES
import ui
from ui.links import controls_of, link, mode_token
from ui.papers import cite

PAGE = "lc"
SIZES = [256, 512, 1024, 2048, 4096]
STEPS = [250, 500, 1000, 2000, 4000]
SMALLEST = [16, 32, 64, 128, 256, 512]
OPTIMIZERS = {"momentum": "SGD with momentum", "adam": "Adam", "sgd": "SGD"}
WIDTHS = [16, 32, 64, 128, 256, 512]


def _divisors(d: int) -> list[int]:
    return [k for k in range(1, d + 1) if d % k == 0]


def _locality_preset(preset) -> dict:
    """A preset's controls; `at_n` (the n its depth chart is drawn at) where it has one."""
    at = {"lr_at_n": preset.controls["at_n"]} if "at_n" in preset.controls else {}
    return controls_of("learning_curves", "locality", preset.spec, **at)


def locality_page(controls: ui.UrlControls) -> None:
    default = loc.DEFAULT_LOCALITY
    controls.presets("Presets", loc.PRESETS, _locality_preset)
    inputs = controls.radio("inputs", "Inputs", locality.INPUTS, default=default.distribution,
                            help="On the hypercube only permutations and sign flips of the "
                                 "coordinates are symmetries; Gaussian inputs are rotation "
                                 "invariant, which makes k-local and k-global labels "
                                 "equivalent for an MLP.")
    d = controls.field("d", default, "d", lo=4, hi=24)
    divisors = _divisors(d)
    k = controls.select_slider("k", "Label order k (k must divide d)", divisors,
                               default=default.k if default.k in divisors else divisors[1])
    max_depth = controls.slider("max_depth", "Deepest network (hidden layers)", 1, loc.DEPTH_MAX,
                                default=max(default.depths))
    width = controls.select_slider("lr_width", "Network width", WIDTHS, default=default.width)
    # Minibatches of `batch_size` need at least that many samples (the engine refuses fewer).
    n_min = controls.select_slider("lr_n_min", "Smallest training set n",
                                   [n for n in SMALLEST if n >= default.batch_size],
                                   default=default.n_min)
    n_max = controls.select_slider("lr_n_max", "Largest training set n",
                                   [n for n in SIZES if n >= n_min], default=default.n_max)
    seeds = controls.field("lr_seeds", default, "seeds")
    steps = controls.select_slider("lr_steps", "Training steps", STEPS, default=default.steps)
    optimizer = controls.radio("lr_opt", "Optimizer", OPTIMIZERS, default=default.optimizer,
                               help="Minibatches of "
                                    f"{default.batch_size}. Adam rescales each coordinate, which "
                                    "breaks the rotation symmetry of Gaussian inputs; SGD keeps "
                                    "it.")
    lr = controls.field("lr_lr", default, "learning_rate", lo=0.0001, hi=1.0, step=0.001)
    kernel = controls.radio("lr_kernel", "Kernel", figs.KERNEL_NAMES, default=default.kernel)
    ridge = controls.field("lr_ridge", default, "ridge", hi=10.0, step=0.01,
                           help="0: the interpolating kernel regressor, what an infinitely wide "
                                "network trained to convergence computes.")
    spec = loc.LocalitySpec(distribution=inputs, d=d, k=k, depths=tuple(range(1, max_depth + 1)),
                            width=width, n_min=n_min, n_max=n_max, seeds=seeds, steps=steps,
                            optimizer=optimizer, learning_rate=lr, kernel=kernel, ridge=ridge)
    at_n = controls.select_slider("lr_at_n", "Depth chart at n", list(spec.sizes),
                                  default=spec.sizes[-1],
                                  help="Depth hurts the k-global label at small n and the order "
                                       "can reverse at large n (shallow networks underfit).")
    controls.finish()
    depth_at = list(spec.sizes).index(at_n)

    def charts(view: loc.LocalityView) -> None:
        ui.chart(figs.locality_depth_figure(view, depth_at), key=f"{PAGE}_depth")
        ui.chart(figs.locality_curves_figure(view), key=f"{PAGE}_curves")

    view = ui.compute(loc.depth_locality, spec, label="Training networks and solving kernels",
                      preview=charts)
    charts(view)
    if view.diverged.any():
        st.warning(f"{int(view.diverged.sum())} training runs diverged (their loss exploded) and "
                   "are left out; lower the learning rate.")
    ui.explain(
        claim="With k-local labels (a product of k neighbouring features) deeper networks learn "
              "faster; with k-global labels (a product over k blocks that cover every feature) "
              "deeper networks learn slower. The NTK of the same networks does not show this "
              "dependence on depth: it comes from feature learning. With Gaussian inputs the two "
              "labels are rotations of each other and an MLP cannot tell them apart.",
        formula=r"y_{k\text{-local}} = \prod_{i<k} \operatorname{sign}(x_i), \qquad "
                r"y_{k\text{-global}} = \prod_{j<k} \operatorname{sign}\Big(\sum_{i \in B_j} "
                r"x_i\Big), \quad |B_j| = d/k",
        note="Reconstructed setting: MLPs with 1..L hidden ReLU layers (σ_b > 0: without a bias a "
             "two-layer ReLU NTK cannot learn odd parities), trained on the square loss with "
             f"minibatches of {default.batch_size}, test MSE at the best validation checkpoint; "
             "kernel regression with the exact infinite-width kernel of the same MLP in float64. "
             "Labels are ±1, so an MSE of 1 is no better than predicting 0. Bars span the seeds. "
             f"The depth chart is drawn at the n chosen in “Depth chart at n”. {loc.MEASURED}",
        paper=cite("mori_ueda"))
    ui.download("Runs (CSV)", csv(figs.locality_table(view), f"Learning curves, {spec}"),
                file_name="depth_locality.csv", key=f"{PAGE}_locality_csv")


TARGETS = {"modes": "Eigenmodes (frequency, spread)", "k_local": "k-local label",
           "k_global": "k-global label"}


def theory_page(controls: ui.UrlControls) -> None:
    default = kt.DEFAULT_THEORY
    controls.presets("Presets", kt.PRESETS,
                     lambda preset: controls_of("learning_curves", "theory", preset.spec))
    arch = controls.selectbox("th_arch", "Kernel of", eig.ARCHITECTURES, default=default.arch)
    d = controls.field("th_d", default, "d")
    depth, filter_size = default.depth, default.filter_size
    if arch == "mlp":
        depth = controls.slider("th_depth", "Depth (hidden layers)", 1, eig.DEPTH_MAX,
                                default=default.depth)
    elif arch == "shallow_cnn":
        depth = controls.slider("th_depth", "Dense layers above the conv", 1, eig.DEPTH_MAX,
                                default=1)
    if arch != "mlp":
        filter_size = controls.slider("th_filter", "Filter size", 2, d,
                                      default=min(default.filter_size, d))
    activation = controls.selectbox("th_act", "Activation",
                                    {a: ACTIVATION_NAMES[a] for a in ("relu", "erf", "gelu")},
                                    default=default.activation)
    kernel = controls.radio("th_kernel", "Kernel", figs.KERNEL_NAMES, default=default.kernel)
    target = controls.radio("target", "Target", TARGETS, default=default.target)
    spec = kt.TheorySpec(arch=arch, d=d, depth=depth, filter_size=filter_size,
                         activation=activation, kernel=kernel, target=target)
    modes, k = default.modes, default.k
    if target == "modes":
        try:
            offered = kt.available_modes(spec)
        except ValueError as error:
            controls.finish()
            st.error(str(error), icon="🚫")
            st.stop()
        options = {mode_token(m): figs.mode_name(*m) for m in offered}
        chosen = controls.multiselect("modes", "Target modes (equal weights)", options,
                                      default=[mode_token(m) for m in default.modes],
                                      most=kt.MODES_MAX,
                                      help="Each mode is the Walsh monomial χ_S of smallest S "
                                           "with that frequency |S| and spatial spread (see the "
                                           "Eigenstructure page).")
        modes = tuple(tuple(int(v) for v in token.split("-")) for token in chosen)
    else:
        divisors = _divisors(d)
        k = controls.select_slider("th_k", "Label order k (k must divide d)", divisors,
                                   default=default.k if default.k in divisors else divisors[0])
    ridge = controls.field("ridge", default, "ridge", step=0.01)
    noise = controls.field("noise", default, "noise", step=0.1)
    n_max = controls.select_slider("th_n_max", "Largest training set n", SIZES,
                                   default=default.n_max)
    seeds = controls.field("th_seeds", default, "seeds")
    controls.finish()
    spec = kt.TheorySpec(arch=arch, d=d, depth=depth, filter_size=filter_size,
                         activation=activation, kernel=kernel, target=target, modes=modes, k=k,
                         ridge=ridge, noise=noise, n_max=n_max, seeds=seeds)
    view = ui.compute(kt.theory, spec, label="Solving kernel regression and the theory")

    ui.chart(figs.theory_figure(view), key=f"{PAGE}_theory")
    if (view.test_mse_theory == 0).any():
        st.caption(f"From n = {view.rank:,.0f} on (the number of nonzero eigenvalues) every mode is "
                   "learned and the predicted test error is 0: not drawn on the log axis.")
    ui.chart(figs.learnability_figure(view), key=f"{PAGE}_learnability")
    spectrum = link("eigenstructure", "hypercube", kt.hypercube_spec(spec))
    st.markdown("**Target modes**: the eigenfunctions the target is made of, with their "
                f"eigenvalues. See them among all {2 ** spec.d:,} modes on the "
                f"[Eigenstructure page]({spectrum}).")
    st.dataframe(figs.modes_table(view), hide_index=True,
                 column_config={"eigenvalue λ": st.column_config.NumberColumn(format="%.3e"),
                                "share of target variance":
                                    st.column_config.NumberColumn(format="%.3f")})
    ui.explain(
        claim="Kernel regression learns the target's eigenmodes in order of eigenvalue: each "
              "mode's learnability λ/(λ+κ) rises from 0 to 1 as n grows and the effective ridge "
              "κ(n) falls past λ. The spectrum alone predicts the whole learning curve, "
              "including the overfitting factor E₀.",
        formula=r"\sum_i \frac{\lambda_i}{\lambda_i + \kappa} + \frac{\delta}{\kappa} = n, \quad "
                r"\mathcal{L}_i = \frac{\lambda_i}{\lambda_i + \kappa}, \quad "
                r"E_0 = \frac{n}{n - \sum_i \mathcal{L}_i^2}, \quad "
                r"\mathrm{MSE} = E_0 \Big(\sum_i (1 - \mathcal{L}_i)^2 v_i^2 + \varepsilon^2\Big)",
        note="Inputs uniform on {−1, 1}^d, drawn with replacement; the eigenvalues are the exact "
             "Walsh spectrum of the kernel (the Eigenstructure page's). Measured: kernel ridge "
             "regression in float64 with the population test error computed exactly by a "
             "Walsh–Hadamard transform, markers at the median of the seeds, bars from min to max. "
             "The theory assumes n independent draws from a continuum; on the cube, draws repeat "
             "once n nears 2^d, and the dashed line evaluates the theory at the expected number "
             "of distinct points instead. Near a fully learned target the measured mean runs "
             "10–40% above the prediction (κ fluctuates between training sets).",
        paper=cite("simon", "bordelon"))
    ui.download("Curves (CSV)", csv(figs.theory_table(view), f"Kernel theory, {spec}"),
                file_name="learning_curve_theory.csv", key=f"{PAGE}_theory_csv")


ui.header("Learning curves",
          "How fast does test error fall with the number of samples? See depth help a network "
          "learn local features and hurt on global ones, while its NTK does not follow; and "
          "see kernel regression's learning curve predicted from the kernel's spectrum alone.")
controls = ui.UrlControls(PAGE)
view_name = controls.radio("view", "View", {"locality": "Depth and locality",
                                            "theory": "Theory against experiment"},
                           default="locality")
if view_name == "locality":
    locality_page(controls)
else:
    theory_page(controls)
