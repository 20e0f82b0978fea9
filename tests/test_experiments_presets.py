"""The presets of every view (engine/experiments/*.py): each has a note for its tooltip, is warmed
and listed in docs/presets.md, and a name cites a figure only where that document records the
figure as read."""

import re
from pathlib import Path

import pytest

from engine.experiments import (depth_locality, eigenstructure, kernel_theory, live, separation,
                                universality)

VIEWS = [(universality, "SAMPLE_PRESETS"), (universality, "DEPTH_PRESETS"),
         (eigenstructure, "HYPERCUBE_PRESETS"), (eigenstructure, "SPHERE_PRESETS"),
         (separation, "DIMENSION_PRESETS"), (separation, "WIDTH_PRESETS"),
         (depth_locality, "PRESETS"), (kernel_theory, "PRESETS"), (live, "PRESETS")]
DOC = (Path(__file__).resolve().parent.parent / "docs" / "presets.md").read_text()


@pytest.mark.parametrize("module, name", VIEWS, ids=[f"{m.__name__.rsplit('.', 1)[-1]}.{n}"
                                                    for m, n in VIEWS])
def test_each_preset_has_a_note_is_warmed_and_documented(module, name):
    presets = getattr(module, name)
    assert presets
    warmed = [spec for _, spec in module.WARM]
    for title, spec in presets.items():
        assert presets.record(title).note, f"no tooltip note for {title!r}"
        assert spec in warmed, f"{title!r} is not warmed"
        assert title.replace("|", r"\|") in DOC, f"{title!r} is not in docs/presets.md"


def test_a_figure_is_cited_only_where_the_document_records_it_as_read():
    for module, name in VIEWS:
        for title in getattr(module, name):
            for number in re.findall(r"Fig\. (\d+)", title):
                assert f"| Fig. {number} |" in DOC, title
