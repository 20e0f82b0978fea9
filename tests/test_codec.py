"""No code in the cache: results are stored as arrays and JSON (`engine.codec`), every view's result
type round-trips exactly, and what is not such an entry (a planted pickle that would run a command,
a manifest naming a class from outside the engine, an entry of another view's type) is dropped as
damage without running anything."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle

import numpy as np
import pytest

from engine import cache, codec
from engine.experiments import eigenstructure as eig
from engine.experiments import kernel_theory as kt
from engine.experiments import universality as uni
from engine.specs import parse_layers, tree_cnn

SMALL_VIEWS = [
    (eig.hypercube, eig.HypercubeSpec(arch="tree_cnn", d=8)),
    (eig.sphere, eig.SphereSpec(d=3, layers=2, k_max=30, fit_from=10)),
    (kt.theory, kt.TheorySpec(arch="mlp", depth=2, modes=((1, 0), (2, 1)), d=8, n_min=16,
                              n_max=64, sizes=3, seeds=2)),
]


def _same(a, b) -> None:
    assert type(a) is type(b)
    if dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            _same(getattr(a, field.name), getattr(b, field.name))
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


@pytest.mark.parametrize("fn,spec", SMALL_VIEWS, ids=lambda v: getattr(v, "name", ""))
def test_every_views_result_round_trips_through_the_store(cache_dir, fn, spec):
    computed = fn(spec)
    cache._stores.clear()  # a new process: the entry is decoded from disk
    stored = fn.lookup(spec)
    assert stored is not None
    _same(computed, stored)


def test_values_of_every_kind_round_trip():
    value = {"a": np.arange(6.0).reshape(2, 3), "i": np.int64(7), "b": np.bool_(True),
             "f": float("nan"), "inf": -float("inf"), "z": -0.0, "s": "text", "n": None,
             (1, 2): [1, 2.5, (3,)], "layers": parse_layers(tree_cnn(8, 2)),
             "strings": np.array(["x", "yz"]), "spec": uni.DepthSpec()}
    back = codec.decode(codec.encode(value))
    _same(value, back)
    assert str(back["z"]) == "-0.0"


@pytest.mark.parametrize("value,message", [
    (np.array([object()], dtype=object), "object array"),
    (lambda: 0, "cannot be stored"),
    (pickle, "cannot be stored"),
])
def test_what_needs_code_to_load_is_not_stored(value, message):
    with pytest.raises(TypeError, match=message):
        codec.encode(value)


class _Planted:
    """What an attacker's pickle does on load: run a command (here, create a file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _plant(key: str, payload: bytes) -> None:
    cache.store().set(key, hashlib.sha256(payload).digest() + payload)


def test_a_planted_pickle_is_dropped_without_running(cache_dir, tmp_path):
    fn, spec = SMALL_VIEWS[0]
    marker = tmp_path / "pickle-ran"
    key = fn.key(spec)
    _plant(key, pickle.dumps(_Planted(marker)))
    assert fn.lookup(spec) is None
    assert not marker.exists(), "loading the entry ran the planted pickle"
    assert cache.store().get(key) is None  # dropped as damage
    view = fn(spec)  # computed again, and stored as arrays and JSON
    assert isinstance(view, eig.HypercubeView)
    assert isinstance(fn.lookup(spec), eig.HypercubeView)


@pytest.mark.parametrize("name", ["os:system", "subprocess:Popen", "builtins:eval",
                                  "engine.cache:write", "engine.specs:parse_layers"])
def test_a_manifest_names_only_the_engines_dataclasses(name):
    manifest = json.dumps({"dataclass": name, "fields": {}}).encode()
    blob = codec.encode(0)
    import io

    buffer = io.BytesIO()
    np.savez(buffer, manifest=np.frombuffer(manifest, dtype=np.uint8))
    with pytest.raises(ValueError, match="manifest names"):
        codec.decode(buffer.getvalue())
    assert codec.decode(blob) == 0


def test_an_entry_of_another_type_is_dropped(cache_dir):
    fn, spec = SMALL_VIEWS[0]
    key = fn.key(spec)
    _plant(key, codec.encode(np.zeros(3)))
    assert fn.lookup(spec) is None
    assert cache.store().get(key) is None
    _plant(key, codec.encode(uni.DepthSpec()))  # an engine dataclass, but not this view's
    assert fn.lookup(spec) is None
