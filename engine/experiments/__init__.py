"""One cached function per page's computation: a spec in, a small result dataclass of numpy arrays
out. Each page module lists its default and preset specs in `WARM`, which `python -m engine warm`
computes ahead of time (the Docker image does so at build time); `default_views` are the views a
page opens on, which `python serve.py` (`make run`) computes in the background from the first start."""

from __future__ import annotations


def warm_list() -> list:
    """`(cached function, spec)` for every page's default and preset views, in page order."""
    from engine.experiments import eigenstructure, universality
    from engine.experiments import kernel_theory
    from engine.experiments import depth_locality
    from engine.experiments import separation
    from engine.experiments import live

    return [*eigenstructure.WARM, *universality.WARM, *kernel_theory.WARM, *depth_locality.WARM,
            *separation.WARM, *live.WARM]


def default_views() -> dict:
    """`{name: (cached function, spec)}` for the view each page and page view opens on, with no
    parameters in its link: eight views, in page order."""
    from engine.experiments import depth_locality, eigenstructure, kernel_theory, separation
    from engine.experiments import universality

    return {
        "eigenstructure hypercube": (eigenstructure.hypercube, eigenstructure.DEFAULT_HYPERCUBE),
        "eigenstructure sphere": (eigenstructure.sphere, eigenstructure.DEFAULT_SPHERE),
        "universality samples": (universality.sample_complexity, universality.DEFAULT_SAMPLES),
        "universality depth": (universality.depth_sweep, universality.DEFAULT_DEPTH),
        "depth separation dimension": (separation.dimension_sweep, separation.DEFAULT_DIMENSION),
        "depth separation width": (separation.width_sweep, separation.DEFAULT_WIDTH),
        "learning curves locality": (depth_locality.depth_locality,
                                     depth_locality.DEFAULT_LOCALITY),
        "learning curves theory": (kernel_theory.theory, kernel_theory.DEFAULT_THEORY),
    }


def cached_views() -> dict:
    """`{name: cached function}` for every view of every experiment module (what a worker may be
    asked to compute, by name: `engine.worker`)."""
    import importlib
    import pkgutil

    from engine.cache import Cached

    found = {}
    for module in pkgutil.iter_modules(__path__):
        namespace = vars(importlib.import_module(f"{__name__}.{module.name}"))
        found.update({view.name: view for view in namespace.values() if isinstance(view, Cached)})
    return found
