"""Learning curves: depth against the locality of the target (Mori & Ueda 2022), kernel
regression against the eigenlearning theory (Simon et al. 2023; Bordelon, Canatar & Pehlevan 2020),
and a network trained live, mode by mode, beside its NTK's exact prediction (Jacot et al. 2018).
UI only: controls mirrored in the URL, one cached engine call per view, charts, explanation,
downloads."""

from __future__ import annotations

import dataclasses
import time

import streamlit as st

from engine import locality
from engine.experiments import depth_locality as loc
from engine.experiments import eigenstructure as eig
from engine.experiments import kernel_theory as kt
from engine.experiments import live
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


def _target_controls(controls: ui.UrlControls, spec: kt.TheorySpec, default, *,
                     names: tuple[str, str]) -> tuple[tuple, int]:
    """`(modes, k)` of a target on the cube (the Theory view's, also the live view's): modes
    offered for `spec`'s architecture and d, or a label's order; `names` are the URL names of
    the modes and of k."""
    modes, k = default.modes, default.k
    if spec.target == "modes":
        try:
            offered = kt.available_modes(spec)
        except ValueError as error:
            controls.finish()
            st.error(str(error), icon="🚫")
            st.stop()
        options = {mode_token(m): figs.mode_name(*m) for m in offered}
        chosen = controls.multiselect(names[0], "Target modes (equal weights)", options,
                                      default=[mode_token(m) for m in default.modes],
                                      most=kt.MODES_MAX,
                                      help="Each mode is the Walsh monomial χ_S of smallest S "
                                           "with that frequency |S| and spatial spread (see the "
                                           "Eigenstructure page).")
        modes = tuple(tuple(int(v) for v in token.split("-")) for token in chosen)
    else:
        divisors = _divisors(spec.d)
        k = controls.select_slider(names[1], "Label order k (k must divide d)", divisors,
                                   default=default.k if default.k in divisors else divisors[0])
    return modes, k


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
    modes, k = _target_controls(controls, kt.TheorySpec(
        arch=arch, d=d, depth=depth, filter_size=filter_size, activation=activation,
        kernel=kernel, target=target), default, names=("modes", "th_k"))
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


LIVE_WIDTHS = [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
LIVE_SIZES = [8, 16, 32, 64, 128, 256, 512, 1024]
LIVE_SPEEDS = [1, 2, 5, 10, 20, 50, 100]
# While playing, a chunk of steps and a redraw every this many seconds (at most 10 a second); and
# playing pauses by itself after PLAY_LIMIT_S, so a forgotten tab does not train for ever.
FRAME_EVERY_S = 0.1
PLAY_LIMIT_S = 600.0
LIVE_STATE = f"{PAGE}_live_run"


def _live_preset(preset) -> dict:
    return controls_of("learning_curves", "live", preset.spec,
                       lv_rate=preset.controls.get("rate", live.RATE_DEFAULT))


def _player(setup: live.LiveSetup, rate: float, speed: int) -> None:
    """Play, pause, step and reset a run of `setup`, redrawn every `FRAME_EVERY_S` while playing
    (a Streamlit fragment: only this part of the page reruns). The run lives in the session; a new
    setup starts a new run, and a reset draws the same network again (the seed), so it replays
    the run exactly."""
    state = st.session_state.setdefault(LIVE_STATE, {})
    key = live.setup.key(setup.spec)
    if state.get("key") != key:
        state.clear()
        state.update(key=key, run=live.start(setup), playing=False, ticks=[])
    ticking = state["playing"]  # this page run's fragment reruns by itself while playing

    def stop(note: str | None = None) -> None:
        state["playing"] = False
        state["note"] = note
        st.rerun()  # a whole-page run: the new fragment does not rerun by itself

    @st.fragment(run_every=FRAME_EVERY_S if ticking else None)
    def frame() -> None:
        playing = state["playing"]  # read now: a tick sent before a pause must not advance
        buttons = st.columns([1, 1, 1, 1, 3])
        played = buttons[0].button("Play", key=f"{PAGE}_live_play", type="primary",
                                   icon=":material/play_arrow:", disabled=playing)
        paused = buttons[1].button("Pause", key=f"{PAGE}_live_pause", icon=":material/pause:",
                                   disabled=not playing)
        stepped = buttons[2].button("Step", key=f"{PAGE}_live_step",
                                    icon=":material/skip_next:",
                                    help=f"{speed} steps (the steps per frame), then pause.")
        reset = buttons[3].button("Reset", key=f"{PAGE}_live_reset", icon=":material/replay:",
                                  help="Back to step 0: the same network and training set.")
        if played or paused:
            state.update(playing=bool(played), since=time.monotonic(), note=None, ticks=[])
            st.rerun()
        if ticking and not playing and not (stepped or reset):
            st.rerun()  # a tick left over from before a pause: stop the ticking
        if reset:
            state.update(run=live.start(setup), ticks=[], note=None)
            if playing:
                stop()
        elif stepped or playing:
            try:
                with ui.slot():
                    state["run"] = live.advance(setup, state["run"], speed, rate)
            except ValueError as error:
                stop(str(error))
            state["ticks"] = (state["ticks"] + [time.monotonic()])[-10:]
            if stepped and playing:
                stop()
            if playing and time.monotonic() - state["since"] > PLAY_LIMIT_S:
                stop(f"Paused after {PLAY_LIMIT_S / 60:.0f} minutes of play; press Play to go on.")
        run = state["run"]
        last = run.frames[-1]
        ticks = state["ticks"]
        rate_now = (f" · {(len(ticks) - 1) / (ticks[-1] - ticks[0]):.1f} frames/s"
                    if playing and len(ticks) > 2 else "")
        buttons[4].markdown(f"**step {last.step:,}** · test MSE {last.test_mse:.3f} "
                            f"(NTK {last.ntk_test_mse:.3f}){rate_now}")
        if state.get("note"):
            st.info(state["note"], icon="⏸️")
        st.altair_chart(figs.live_modes_chart(setup, run.frames), key=f"{PAGE}_live_modes",
                        theme=None)
        st.altair_chart(figs.live_loss_chart(run.frames), key=f"{PAGE}_live_loss", theme=None)
        if not playing:
            ui.download("Curves (CSV)", csv(figs.live_table(setup, run.frames),
                                            f"Watch it learn, {setup.spec}"),
                        file_name="watch_it_learn.csv", key=f"{PAGE}_live_csv")

    frame()


def live_page(controls: ui.UrlControls) -> None:
    default = live.DEFAULT_LIVE
    controls.presets("Presets", live.PRESETS, _live_preset)
    arch = controls.selectbox("lv_arch", "Network", live.ARCHITECTURES, default=default.arch)
    d = controls.field("lv_d", default, "d")
    depth, filter_size = default.depth, default.filter_size
    if arch == "mlp":
        depth = controls.field("lv_depth", default, "depth")
    else:
        filter_size = controls.slider("lv_filter", "Filter size", 2, d,
                                      default=min(default.filter_size, d))
    width = controls.select_slider("lv_width", "Width (channels)", LIVE_WIDTHS,
                                   default=default.width)
    activation = controls.selectbox("lv_act", "Activation",
                                    {a: ACTIVATION_NAMES[a] for a in live.ACTIVATIONS},
                                    default=default.activation)
    target = controls.radio("lv_target", "Target", TARGETS, default=default.target)
    spec = live.LiveSpec(arch=arch, d=d, depth=depth, filter_size=filter_size,
                         activation=activation, width=width, target=target)
    modes, k = _target_controls(controls, spec.theory_spec(), default, names=("lv_modes", "lv_k"))
    sizes = [n for n in LIVE_SIZES if n <= 2 ** d]
    n = controls.select_slider("lv_n", "Training points n (distinct)", sizes,
                               default=min(default.n, sizes[-1]))
    seed = controls.field("lv_seed", default, "seed",
                          help="Draws the training set and the network; Reset replays it.")
    rate = controls.number("lv_rate", "Learning rate η", live.RATE_MIN, live.RATE_MAX,
                           default=live.RATE_DEFAULT, step=0.5,
                           help="May be changed during a run: the NTK's prediction follows "
                                "the rates actually used.")
    speed = controls.select_slider("lv_speed", "Steps per frame", LIVE_SPEEDS, default=live.STEPS_PER_FRAME)
    controls.finish()
    spec = dataclasses.replace(spec, modes=modes, k=k, n=n, seed=seed)
    setup = ui.compute(live.setup, spec, label="Computing the NTK's eigensystem on the cube")
    _player(setup, rate, speed)
    if rate >= setup.stable_rate:
        st.warning(f"η = {rate:g} is above 2/μ_max = {setup.stable_rate:.2f}: the NTK's "
                   "prediction diverges along its top direction (the network may too, or "
                   "leave the lazy regime).", icon="⚠️")
    ui.explain(
        claim="Gradient descent learns a target's modes in order of the NTK's eigenvalue: each "
              "relaxes like 1 − (1 − ημ)^t. A wide network follows its NTK's prediction (the lazy "
              "regime); a narrow one, or one trained at a large rate, departs from it as its "
              "features move: feature learning, which is how depth helps local targets "
              "(Mori & Ueda).",
        formula=r"f_t(x) = f_0(x) + \Theta(x, X)\, V \operatorname{diag}\Big(\frac{1 - "
                r"\prod_{s<t}(1 - \eta_s \mu_i)}{n\, \mu_i}\Big) V^\top \big(y - f_0(X)\big),"
                r"\quad \frac{\Theta(X, X)}{n} = V \operatorname{diag}(\mu) V^\top",
        note=f"Full-batch gradient descent on (1/2n) Σ (f(xᵢ) − yᵢ)² over n distinct points of "
             f"{{−1, 1}}^d, float32, NTK parameterisation; the network is evaluated on all 2^d "
             f"points after every frame, so each learned fraction ⟨f, v⟩/⟨v, v⟩ (the network's "
             f"Walsh coefficients on a target mode, over the target's) and the test MSE are exact. "
             f"The dashed lines are the exact linearised dynamics of the infinite-width network, "
             f"from this network's own initial function, at the rates used (float64). Stable for "
             f"η < 2/μ_max = {setup.stable_rate:.2f} here. A label's components are the spectrum "
             f"levels that carry most of it. Playing pauses after {PLAY_LIMIT_S / 60:.0f} "
             f"minutes.",
        paper=cite("jacot", "lee", "mori_ueda"))


ui.header("Learning curves",
          "How fast does test error fall with the number of samples? See depth help a network "
          "learn local features and hurt on global ones, while its NTK does not follow; and "
          "see kernel regression's learning curve predicted from the kernel's spectrum alone; "
          "and watch a network learn, mode by mode, beside its NTK's prediction.")
controls = ui.UrlControls(PAGE)
view_name = controls.radio("view", "View", {"locality": "Depth and locality",
                                            "theory": "Theory against experiment",
                                            "live": "Watch it learn"},
                           default="locality")
if view_name == "locality":
    locality_page(controls)
elif view_name == "theory":
    theory_page(controls)
else:
    live_page(controls)
