"""A lecture in four steps, on the home page: each opens one view with its settings and says the one
sentence to say in class. The views are the pages' own presets and defaults (declared in
`engine.experiments`); the README's "A lecture in four steps" tells the same path at more length."""

from __future__ import annotations

from typing import NamedTuple

from engine.experiments import depth_locality, eigenstructure, kernel_theory, separation
from ui.links import link


class Step(NamedTuple):
    title: str
    page: str
    view: str
    spec: object
    controls: dict
    say: str

    @property
    def link(self) -> str:
        """The relative link that opens the step's view (what the home page shows)."""
        return link(self.page, self.view, self.spec, **self.controls)


def _preset(presets, title: str, page: str, view: str, say: str) -> Step:
    record = presets.record(title)
    return Step(title, page, view, record.spec, dict(record.controls), say)


STEPS = (
    _preset(eigenstructure.HYPERCUBE_PRESETS, "Xiao 2022 · MLP: one eigenvalue per frequency |S|",
            "eigenstructure", "hypercube",
            "An MLP kernel's eigenvalues depend only on the frequency |S|; click the deep tree CNN "
            "preset and each frequency splits by how far its coordinates are spread (Xiao 2022)."),
    _preset(kernel_theory.PRESETS,
            "Eigenlearning · local vs long-range mode of equal frequency (tree CNN)",
            "learning_curves", "theory",
            "From the spectrum alone, theory predicts kernel regression's learning curve: the local "
            "mode is learned about 14 times sooner than a long-range one of the same frequency."),
    _preset(depth_locality.PRESETS, depth_locality.LOCAL_PRESET_NAME, "learning_curves",
            "locality",
            "Trained networks learn the 3-local label far better with depth while their NTK "
            "barely moves; the 2-global preset shows depth hurting (Mori & Ueda 2022)."),
    Step("Safran & Lee 2022 · a ball indicator against the dimension", "depth_separation",
         "dimension", separation.DEFAULT_DIMENSION, {},
         "One trained sigmoid unit on a frozen random sigmoid layer stays accurate as d grows, "
         "while one-hidden-layer networks fall towards the best constant predictor."),
)
"""The lecture, in order."""
