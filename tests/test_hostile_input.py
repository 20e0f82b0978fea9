"""Bad input, systematically (hypothesis): every page view's spec, with random and hostile values
in any of its fields, is either refused with a `ValueError` that says what to change or accepted
as a valid spec whose estimated time and memory are within their budgets; never another exception,
and no work starts (only the validation and the estimates run). The engine's contract functions
(`nngp_ntk`, `hypercube_eigenvalues`, `sphere_eigenvalues`) likewise, with hostile architectures,
dimensions, degrees and inputs: a `ValueError` with a sentence, or a finite float64 result of the
promised shape; a request too large for memory is refused before anything is allocated."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import guard
from engine.experiments import (depth_locality, eigenstructure, kernel_theory, live, separation,
                                universality)

VIEWS = [
    (eigenstructure.hypercube, eigenstructure.HypercubeSpec, None),
    (eigenstructure.sphere, eigenstructure.SphereSpec, None),
    (universality.sample_complexity, universality.SampleComplexitySpec, universality.TIME_BUDGET_S),
    (universality.depth_sweep, universality.DepthSpec, universality.TIME_BUDGET_S),
    (separation.dimension_sweep, separation.DimensionSpec, separation.TIME_BUDGET_S),
    (separation.width_sweep, separation.WidthSpec, separation.TIME_BUDGET_S),
    (depth_locality.depth_locality, depth_locality.LocalitySpec, depth_locality.TIME_BUDGET_S),
    (kernel_theory.theory, kernel_theory.TheorySpec, kernel_theory.TIME_BUDGET_S),
    (live.setup, live.LiveSpec, live.TIME_BUDGET_S),
]

HOSTILE = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-10**30, max_value=10**30),
    st.sampled_from([0, -1, 1, 2, 3, 7, 64, 1023, 2**31, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e-300, 1e300, 0.5]),
    st.text(max_size=20),
    st.sampled_from(["", "relu", "mlp", "ntk", "__import__('os').system('ls')", "<script>",
                     "x" * 10_000, "1e9", "nan", "-1"]),
    st.lists(st.integers(min_value=-5, max_value=300), max_size=6).map(tuple),
    st.lists(st.tuples(st.integers(-2, 20), st.integers(-2, 40)), max_size=10).map(tuple),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@st.composite
def hostile_specs(draw, spec_type):
    fields = [f.name for f in dataclasses.fields(spec_type)]
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True))
    return dataclasses.replace(spec_type(), **{name: draw(HOSTILE) for name in chosen})


@pytest.mark.parametrize("view, spec_type, budget", VIEWS, ids=[v[0].name for v in VIEWS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_specs_are_refused_with_a_sentence_or_accepted_within_budget(view, spec_type,
                                                                             budget, data):
    spec = data.draw(hostile_specs(spec_type))
    try:
        normal = view.normalise(spec)
    except ValueError as error:
        message = str(error)
        assert len(message.split()) >= 4, message  # a sentence, not a bare value
        assert len(message) < 1000, "a refusal should not echo a huge value back"
        return
    assert type(normal) is spec_type
    assert view.normalise(normal) == normal  # canonical
    seconds = view.estimate_seconds(normal)
    if budget is not None:
        assert seconds is not None and seconds <= guard.time_budget(budget)
    nbytes = view.estimate_bytes(normal)
    assert nbytes is not None and 0 < nbytes <= guard.memory_budget()


def test_the_time_budget_is_configurable(monkeypatch):
    view = universality.sample_complexity
    spec = universality.SampleComplexitySpec(d_max=64, n_max=8192, seeds=4, steps=2000)
    monkeypatch.setenv(guard.MEMORY_BUDGET_ENV, "1e6")  # time alone is tested here
    monkeypatch.setenv(guard.TIME_BUDGET_ENV, "1e7")  # a big machine: anything goes
    seconds = view.estimate_seconds(spec)
    assert universality.TIME_BUDGET_S < seconds < 1e7
    monkeypatch.setenv(guard.TIME_BUDGET_ENV, "")  # unset: the view's own budget refuses it
    with pytest.raises(ValueError, match=guard.TIME_BUDGET_ENV):
        view.normalise(spec)
    monkeypatch.setenv(guard.TIME_BUDGET_ENV, str(seconds * 1.01))
    assert view.normalise(spec) is not None
    monkeypatch.setenv(guard.TIME_BUDGET_ENV, str(seconds * 0.99))
    with pytest.raises(ValueError, match="minutes"):
        view.normalise(spec)


@pytest.mark.parametrize("raw", ["lots", "-1", "0", "nan", "inf"])
def test_a_bad_time_budget_setting_is_refused_with_a_sentence(monkeypatch, raw):
    monkeypatch.setenv(guard.TIME_BUDGET_ENV, raw)
    with pytest.raises(ValueError, match="positive number of seconds"):
        guard.time_budget(900)


# --- The engine's contract functions (ENGINE_CONTRACT.md) ----------------------------------------

from engine.kernels import nngp_ntk  # noqa: E402
from engine.spectra import hypercube_eigenvalues, sphere_eigenvalues  # noqa: E402

MLP = [{"layer": "dense"}, {"layer": "relu"}, {"layer": "dense"}]
LAYER = st.one_of(
    st.fixed_dictionaries({"layer": st.sampled_from(["dense", "relu", "erf", "conv", "local",
                                                     "flatten", "gelu", "attention", ""])},
                          optional={"w_std": HOSTILE, "b_std": HOSTILE, "filter_size": HOSTILE,
                                    "stride": HOSTILE, "padding": HOSTILE, "bogus": HOSTILE}),
    HOSTILE)
LAYERS = st.one_of(st.just(MLP), st.lists(LAYER, max_size=5), HOSTILE)
SMALL_WHOLE = st.one_of(st.integers(-3, 9), HOSTILE)


def _refused_or_valid(call, shape):
    """A `ValueError` with a sentence, or a finite float64 array of `shape`; nothing else."""
    try:
        result = call()
    except ValueError as error:
        assert 10 <= len(str(error)) <= 1000, str(error)  # a sentence, not a dump
        return
    assert result.dtype == "float64" and result.shape == shape(result)
    assert np.isfinite(result).all()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=LAYERS, d=SMALL_WHOLE, kernel=st.one_of(st.sampled_from(["ntk", "nngp"]), HOSTILE))
# Found by this test: a d of 10^302 (a float) was refused with its 303 digits, twice, and the
# digits of 2^d / 2^30 (a 1,003-character "sentence"); a kernel name of thousands of characters
# was repeated whole.
@example(layers=[{"layer": "dense"}, {"layer": "relu"}, {"layer": "dense"}], d=1e302, kernel=None)
@example(layers=[{"layer": "dense"}, {"layer": "relu"}, {"layer": "dense"}], d=3, kernel="x" * 5000)
def test_hostile_hypercube_eigenvalues(layers, d, kernel):
    _refused_or_valid(lambda: hypercube_eigenvalues(layers, d, kernel=kernel),
                      lambda _: (2 ** d,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=LAYERS, d=SMALL_WHOLE, k_max=st.one_of(st.integers(-3, 40), HOSTILE),
       kernel=st.one_of(st.sampled_from(["ntk", "nngp"]), HOSTILE))
def test_hostile_sphere_eigenvalues(layers, d, k_max, kernel):
    _refused_or_valid(lambda: sphere_eigenvalues(layers, d, k_max, kernel=kernel),
                      lambda _: (k_max + 1,))


X = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(1, 5)).flatmap(
        lambda shape: st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64),
                               min_size=shape[0] * shape[1], max_size=shape[0] * shape[1])
        .map(lambda v: np.array(v, dtype=np.float64).reshape(shape))),
    st.sampled_from([np.zeros(4), np.zeros((0, 3)), np.zeros((2, 3, 1)), np.zeros((10**7, 0)),
                     np.full((2, 3), 1e300), np.array([["a", "b"]]), np.zeros((3_000_000, 1))]),
    HOSTILE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=LAYERS, x=X)
# Found by this test: inputs of 1e300 overflowed the recursion to NaN instead of being refused.
@example(layers=[{"layer": "dense"}, {"layer": "relu"}, {"layer": "dense"}],
         x=np.full((2, 3), 1e300))
# Found by this test (2026-12-07): inputs of 2^257 were accepted, and the product of two variances
# overflowed to NaN; such inputs are now refused (`kernels.INPUT_MAX`).
@example(layers=[{"layer": "dense"}, {"layer": "relu"}, {"layer": "dense"}],
         x=np.array([[0.0, 2.0 ** 257], [0.0, 2.0 ** 256]]))
# Weights that grow a deep stack past float64 are refused with a sentence, not returned as inf.
@example(layers=[{"layer": "dense", "w_std": 1e30}, {"layer": "relu"}] * 5 + [{"layer": "dense"}],
         x=np.full((2, 3), 1e70))
def test_hostile_nngp_ntk(layers, x):
    def both():
        nngp, ntk = nngp_ntk(layers, x)
        assert nngp.shape == ntk.shape
        return np.stack([nngp, ntk])

    _refused_or_valid(both, lambda r: (2, len(x), len(x)))
