"""One cached function per page's computation: a spec in, a small result dataclass of numpy arrays
out. Each page module lists its default and preset specs in `WARM`, which `python -m engine warm`
computes ahead of time (the Docker image does so at build time)."""

from __future__ import annotations


def warm_list() -> list:
    """`(cached function, spec)` for every page's default and preset views, in page order."""
    from engine.experiments import eigenstructure, universality
    from engine.experiments import kernel_theory
    from engine.experiments import depth_locality
    from engine.experiments import separation

    return [*eigenstructure.WARM, *universality.WARM, *kernel_theory.WARM, *depth_locality.WARM,
            *separation.WARM]
