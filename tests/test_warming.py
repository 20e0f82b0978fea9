"""Warm from the first start (`ui.warming`, `python -m engine warm --defaults`): which views, in which
order, and what the home page says of them. The background process itself, its priority and its
end with the server are checked in tests/browser/test_serve.py."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

import engine.__main__
from engine import cache, guard
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


@dataclasses.dataclass(frozen=True)
class Spec:
    n: int


def test_a_warm_is_not_held_to_a_visitors_time_budget_and_goes_on_past_a_refused_view(
        cache_dir, monkeypatch, capsys):
    """An image build on a busy machine stopped at view 32 of 42: "This view would take about
    10 minutes on this machine (the limit is 5 minutes)". No visitor waits on a warm."""
    monkeypatch.setenv(guard.TIME_BUDGET_ENV, "1")  # also restores the variable the warm sets
    computed = []

    def view(name, **limits):
        @cache.cached(name, budget_s=1.0, **limits)
        def fn(spec, *, progress=None):
            computed.append(name)
            return spec.n

        return fn

    slow = view("test.slow", estimate=lambda spec: 5.0)
    huge = view("test.huge", memory=lambda spec: 2**60)
    quick = view("test.quick", estimate=lambda spec: 0.01)
    with pytest.raises(ValueError, match="would take"):
        slow(Spec(1))  # a visitor is refused
    monkeypatch.setattr(engine.__main__, "warm_jobs", lambda defaults: [
        (slow, Spec(1)), (huge, Spec(2)), (quick, Spec(3))])
    assert engine.__main__._warm(argparse.Namespace(defaults=False)) == 1
    out = capsys.readouterr().out
    assert computed == ["test.slow", "test.quick"]
    assert "[  2/3] test.huge" in out and "NOT COMPUTED: " in out and "memory" in out
    assert "1 of 3 views could not be computed" in out
    assert slow.lookup(Spec(1)) == 1 and quick.lookup(Spec(3)) == 3


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
