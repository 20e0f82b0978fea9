"""Every view's controls under their URL names, declared once: a page's presets, a link from one
page to another's view, and the tests' shared links all read `VIEWS`.

A view's URL holds `view=<name>` and one parameter per control; most controls are a spec field
(`names`: URL name -> field), a few are derived from the spec (`derived`, e.g. the largest channel
count, from which the page builds the channel sequence).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple
from urllib.parse import urlencode


REFUSED = "link=refused"
"""The query string that a link too long for Streamlit (over 1,000 parameters or 512 KiB, dropped
before any page sees it) arrives as, under `serve.py`."""

REFUSED_SENTENCE = ("This link was too long to read (over 1,000 parameters or 512 KiB, where a view "
                    "needs at most a dozen), so the page shows its default view. Copy the link "
                    "again from the address bar of the view you want to share.")


def refused(query_params) -> bool:
    """Whether the page was opened by a link too long to read (see `REFUSED`)."""
    name, value = REFUSED.split("=")
    return query_params.get(name) == value


def mode_token(mode) -> str:
    """A `(frequency, spread)` eigenmode as the URL writes it, e.g. `2-4`."""
    return f"{mode[0]}-{mode[1]}"


class View(NamedTuple):
    """One view of a page: `names` maps each URL parameter to its spec field; `derived(spec)`
    gives the controls computed from the spec."""

    names: dict
    derived: Callable[[Any], dict] = lambda spec: {}


_SEPARATION = {"law": "law", "ratio": "ratio", "n_train": "n_train", "steps": "steps",
               "lr": "learning_rate", "opt": "optimizer", "seeds": "seeds"}

VIEWS = {
    "universality": {
        "samples": View({"target": "target", "d_min": "d_min", "d_max": "d_max",
                         "n_max": "n_max", "seeds": "seeds", "threshold": "threshold",
                         "steps": "steps", "opt": "optimizer", "lr": "learning_rate",
                         "channels": "channels", "width": "width"}),
        "depth": View({"s": "s", "depth_d": "d", "depth_target": "target", "n_train": "n_train",
                       "depth_seeds": "seeds", "depth_steps": "steps"},
                      lambda spec: {"max_channels": max(spec.channels)}),
    },
    "eigenstructure": {
        "hypercube": View({"arch": "arch", "d": "d", "depth": "depth", "filter": "filter_size",
                           "readout": "readout", "act": "activation", "w_std": "w_std",
                           "b_std": "b_std", "kernel": "kernel"}),
        "sphere": View({"sphere_d": "d", "layers": "layers", "sphere_act": "activation",
                        "sphere_b_std": "b_std", "k_max": "k_max", "fit_from": "fit_from"}),
    },
    "depth_separation": {
        "dimension": View({**_SEPARATION, "d_min": "d_min", "d_max": "d_max", "width": "width",
                           "features": "features"}),
        "width": View({**_SEPARATION, "w_d": "d"},
                      lambda spec: {"w_min": min(spec.widths), "w_max": max(spec.widths)}),
    },
    "learning_curves": {
        "locality": View({"inputs": "distribution", "d": "d", "k": "k", "lr_n_min": "n_min",
                          "lr_n_max": "n_max", "lr_opt": "optimizer", "lr_seeds": "seeds",
                          "lr_steps": "steps", "lr_width": "width", "lr_lr": "learning_rate",
                          "lr_kernel": "kernel", "lr_ridge": "ridge"},
                         lambda spec: {"max_depth": max(spec.depths), "lr_at_n": spec.sizes[-1]}),
        "theory": View({"th_arch": "arch", "th_d": "d", "th_depth": "depth",
                        "th_filter": "filter_size", "th_act": "activation", "th_kernel": "kernel",
                        "target": "target", "th_k": "k", "ridge": "ridge", "noise": "noise",
                        "th_n_max": "n_max", "th_seeds": "seeds"},
                       lambda spec: {"modes": [mode_token(m) for m in spec.modes]}),
        "live": View({"lv_arch": "arch", "lv_d": "d", "lv_depth": "depth",
                      "lv_filter": "filter_size", "lv_act": "activation", "lv_width": "width",
                      "lv_target": "target", "lv_k": "k", "lv_n": "n", "lv_seed": "seed"},
                     lambda spec: {"lv_modes": [mode_token(m) for m in spec.modes]}),
    },
}
"""Page (its URL path) -> view (the `view` parameter) -> `View`."""


def controls_of(page: str, view: str, spec, **overrides) -> dict:
    """The view's controls for `spec`, by URL name (what a preset sets), with `overrides` (controls
    a preset sets beyond its spec)."""
    entry = VIEWS[page][view]
    return {**{url: getattr(spec, field) for url, field in entry.names.items()},
            **entry.derived(spec), **overrides}


def link(page: str, view: str, spec, **overrides) -> str:
    """The relative link that opens `page` on this view of `spec`."""
    values = {name: ",".join(value) if isinstance(value, list) else value
              for name, value in controls_of(page, view, spec, **overrides).items()}
    return f"/{page}?" + urlencode({"view": view, **values})
