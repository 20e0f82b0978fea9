"""Named views of a page: each preset declared once, as a record of its title, its spec and the
note its tooltip shows.

A view's presets are a `Presets`, an ordered, read-only mapping from title to spec (so
`presets[title]`, `presets.values()` and `list(presets)` read as a dict would), which also keeps
each record (`presets.record(title)`): the note, and the page controls outside the spec that the
preset sets too (`controls`, by URL name).

>>> views = Presets(Preset("A", 1, "the first"), Preset("B", 2, "the second", {"at": 5}))
>>> list(views), views["B"], views.record("B").controls, views.notes["A"]
(['A', 'B'], 2, {'at': 5}, 'the first')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Preset(NamedTuple):
    """One named view: `title` (what the pill shows), `spec` (the view's engine spec), `note`
    (the tooltip: what the paper shows and what the preset shows of it), and `controls`, page
    controls that are not part of the spec, by URL name (e.g. the n a chart is drawn at)."""

    title: str
    spec: Any
    note: str
    controls: Mapping = {}


class Presets(Mapping):
    """The presets of one view, in order; titles are unique and every preset has a note."""

    def __init__(self, *presets: Preset):
        self._records = {}
        for preset in presets:
            if preset.title in self._records:
                raise ValueError(f"Two presets are titled {preset.title!r}; give each its own.")
            if not preset.note:
                raise ValueError(f"The preset {preset.title!r} has no note; say what it shows.")
            self._records[preset.title] = preset

    def __getitem__(self, title: str) -> Any:
        return self._records[title].spec

    def __iter__(self):
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def record(self, title: str) -> Preset:
        """The whole record of the preset titled `title`."""
        return self._records[title]

    @property
    def notes(self) -> dict:
        """Title -> note, for the pills' tooltip."""
        return {title: preset.note for title, preset in self._records.items()}
