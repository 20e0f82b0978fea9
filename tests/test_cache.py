"""The result cache: keys, hits across handles (a restart), computing once under concurrency,
the size bound, and the normalise hook that validates before any work."""

import dataclasses
import threading
import time

import numpy as np
import pytest

from engine import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "c"))
    return tmp_path / "c"


@dataclasses.dataclass(frozen=True)
class Spec:
    n: int = 3
    label: str = "a"


def test_canonical_is_order_independent_and_typed():
    assert cache.canonical({"b": 1, "a": [1, 2.5]}) == cache.canonical({"a": [1, 2.5], "b": 1})
    assert cache.canonical(Spec()) == '{"__type__":"Spec","label":"a","n":3}'
    assert cache.canonical({"x": 1}) != cache.canonical({"x": 1.0})
    with pytest.raises(TypeError, match="plain data"):
        cache.canonical({"x": object()})


def test_key_depends_on_name_spec_and_engine(monkeypatch):
    base = cache.cache_key("f", Spec())
    assert base == cache.cache_key("f", Spec())
    assert base != cache.cache_key("g", Spec())
    assert base != cache.cache_key("f", Spec(n=4))
    monkeypatch.setattr(cache, "ENGINE_KEY", cache.ENGINE_KEY + "-changed")
    assert base != cache.cache_key("f", Spec())


def test_engine_key_tracks_the_source():
    version, digest = cache.ENGINE_KEY.split("+")
    import engine
    assert version == engine.__version__
    assert digest == cache._source_digest() and len(digest) == 16


def test_hit_after_a_restart(cache_dir):
    calls = []

    @cache.cached("test.square")
    def square(spec, *, progress=None):
        calls.append(spec)
        return np.arange(spec.n) ** 2

    assert square.lookup(Spec()) is None
    np.testing.assert_array_equal(square(Spec()), [0, 1, 4])
    np.testing.assert_array_equal(square(Spec()), [0, 1, 4])
    assert len(calls) == 1
    cache._stores.clear()  # a new process opens the directory afresh
    np.testing.assert_array_equal(square.lookup(Spec()), [0, 1, 4])
    assert len(calls) == 1
    assert any(cache_dir.rglob("cache.db"))


def test_concurrent_callers_compute_once(cache_dir):
    calls = []

    @cache.cached("test.slow")
    def slow(spec, *, progress=None):
        calls.append(1)
        time.sleep(0.3)
        return spec.n

    results = []
    threads = [threading.Thread(target=lambda: results.append(slow(Spec(n=7)))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [7] * 6
    assert len(calls) == 1


def test_normalise_validates_before_work_and_shares_entries(cache_dir):
    calls = []

    def normalise(spec):
        if spec.n < 0:
            raise ValueError("n must be >= 0")
        return dataclasses.replace(spec, label="ignored")

    @cache.cached("test.norm", normalise=normalise)
    def f(spec, *, progress=None):
        calls.append(spec)
        return spec.n

    with pytest.raises(ValueError, match="n must be"):
        f(Spec(n=-1))
    with pytest.raises(ValueError, match="n must be"):
        f.lookup(Spec(n=-1))
    assert f(Spec(label="x")) == 3 and f(Spec(label="y")) == 3
    assert calls == [Spec(label="ignored")]


def test_progress_is_passed_through(cache_dir):
    seen = []

    @cache.cached("test.progress")
    def f(spec, *, progress=None):
        for i in range(spec.n):
            progress(i + 1, spec.n)
        return spec.n

    f(Spec(), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_size_is_bounded(cache_dir, monkeypatch):
    monkeypatch.setenv(cache.CACHE_SIZE_ENV, "1")  # 1 MiB

    @cache.cached("test.big")
    def big(spec, *, progress=None):
        return np.full(2**15, float(spec.n))  # 256 KiB

    for n in range(1, 30):
        big(Spec(n=n))
    store = cache.store()
    store.cull()
    assert store.volume() <= 1.5 * 2**20
    assert big.lookup(Spec(n=1)) is None  # the least recently used went first
    assert big.lookup(Spec(n=29)) is not None


@pytest.mark.parametrize("raw", ["lots", "-5", "0", "nan", "inf"])
def test_bad_size_setting_is_refused_with_a_sentence(cache_dir, monkeypatch, raw):
    monkeypatch.setenv(cache.CACHE_SIZE_ENV, raw)
    with pytest.raises(ValueError, match=cache.CACHE_SIZE_ENV):
        cache.store()


def test_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "inductive-bias-lab"
