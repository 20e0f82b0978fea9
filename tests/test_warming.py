"""Warm from the first start (`ui.warming`, `python -m engine warm --defaults`): which views, in which
order, and what the home page says of them. The background process itself, its priority and its
end with the server are checked in tests/browser/test_serve.py."""

from __future__ import annotations

import pytest

from engine.__main__ import warm_jobs
from engine.experiments import default_views
from ui import warming


def test_the_default_warm_is_the_views_the_pages_open_on_quickest_first():
    jobs = warm_jobs(defaults=True)
    assert {(fn.name, fn.key(spec)) for fn, spec in jobs} == {
        (fn.name, fn.key(spec)) for fn, spec in default_views().values()}
    assert len(jobs) == 8
    estimates = [fn.estimate_seconds(spec) or 0 for fn, spec in jobs]
    assert estimates == sorted(estimates)
    assert len(warm_jobs()) > len(jobs)  # the whole warm adds every preset


def test_the_default_views_are_the_pages_defaults():
    """Each default view is its page's default spec (what a link with no parameters computes)."""
    from engine.experiments import (depth_locality, eigenstructure, kernel_theory, separation,
                                    universality)

    defaults = {eigenstructure.DEFAULT_HYPERCUBE, eigenstructure.DEFAULT_SPHERE,
                universality.DEFAULT_SAMPLES, universality.DEFAULT_DEPTH,
                separation.DEFAULT_DIMENSION, separation.DEFAULT_WIDTH,
                depth_locality.DEFAULT_LOCALITY, kernel_theory.DEFAULT_THEORY}
    assert {spec for _, spec in default_views().values()} == defaults


def test_readiness_counts_what_the_cache_holds(cache_dir):
    assert warming.readiness() == warming.Readiness(0, 8, False)
    fn, spec = default_views()["eigenstructure sphere"]
    fn(spec)
    assert warming.readiness() == warming.Readiness(1, 8, False)


@pytest.mark.parametrize("readiness, says", [
    (warming.Readiness(3, 8, True), "3 of 8 default views are ready.** The others are being "
                                    "computed in the background at the lowest priority"),
    (warming.Readiness(3, 8, False), "3 of 8 default views are ready**; the others are computed "
                                     "the first time they are opened."),
    (warming.Readiness(8, 8, False), "All 8 default views are ready**"),
])
def test_the_home_page_sentence(readiness, says):
    assert says in readiness.sentence


@pytest.mark.parametrize("value, enabled", [
    (None, True), ("1", True), ("yes", True), ("0", False), (" off ", False), ("False", False),
    ("no", False)])
def test_ibl_warm_turns_it_off(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv("IBL_WARM", raising=False)
    else:
        monkeypatch.setenv("IBL_WARM", value)
    assert warming.enabled() is enabled
    if not enabled:
        assert warming.start("/nonexistent") is None
