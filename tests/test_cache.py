"""The result cache: keys, hits across handles (a restart), computing once under concurrency,
the size bound, the normalise hook that validates before any work, and faults: damaged entries,
two processes on one entry, a computation killed half-way."""

import dataclasses
import hashlib
import logging
import threading
import time

import numpy as np
import pytest

from engine import cache


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


def test_each_computation_is_logged_once_with_its_key(cache_dir, caplog):
    @cache.cached("test.logged")
    def logged(spec, *, progress=None):
        return spec.n

    with caplog.at_level(logging.INFO, logger="engine.cache"):
        logged(Spec(n=3))
        logged(Spec(n=3))  # a hit: not computed, not logged
    key = logged.key(Spec(n=3))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("computed")]
    assert len(lines) == 1 and lines[0].startswith(f"computed test.logged {key[:16]} in ")


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


# --- Faults --------------------------------------------------------------------------------------

def _squares(calls):
    @cache.cached("test.faults")
    def squares(spec, *, progress=None):
        calls.append(spec)
        return np.arange(spec.n, dtype=np.float64) ** 2

    return squares


@pytest.mark.parametrize("damage", ["truncated", "flipped", "not-ours", "unpicklable"])
def test_a_damaged_entry_is_detected_and_recomputed(cache_dir, damage):
    calls = []
    squares = _squares(calls)
    spec = Spec(n=50_000)  # 400 kB: diskcache keeps it in a file of its own
    squares(spec)
    key, store = squares.key(spec), cache.store()
    blob = store.get(key)
    damaged = {"truncated": blob[: len(blob) // 2],
               "flipped": blob[:-1] + bytes([blob[-1] ^ 1]),
               "not-ours": "a string",
               "unpicklable": hashlib.sha256(b"junk").digest() + b"junk"}[damage]
    store.set(key, damaged)
    assert squares.lookup(spec) is None
    assert key not in store  # the damaged entry is gone
    np.testing.assert_array_equal(squares(spec), np.arange(50_000.0) ** 2)
    assert len(calls) == 2
    np.testing.assert_array_equal(squares.lookup(spec), np.arange(50_000.0) ** 2)


def test_a_value_file_damaged_on_disk_is_recomputed(cache_dir):
    calls = []
    squares = _squares(calls)
    spec = Spec(n=50_000)
    squares(spec)
    (value_file,) = [p for p in (cache_dir / "results").rglob("*.val")]
    value_file.write_bytes(value_file.read_bytes()[:1000])  # half-written by a dying disk
    assert squares.lookup(spec) is None
    squares(spec)
    assert len(calls) == 2
    value_file.unlink(missing_ok=True)
    for path in (cache_dir / "results").rglob("*.val"):
        path.unlink()  # the file is gone altogether
    cache._stores.clear()
    assert squares.lookup(spec) is None
    squares(spec)
    assert len(calls) == 3


_WORKER = """
import os, sys, time
import numpy as np
from engine import cache
from dataclasses import dataclass

@dataclass(frozen=True)
class Spec:
    n: int

@cache.cached("test.processes")
def slow(spec, *, progress=None):
    with open(os.environ["CALLS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(float(os.environ.get("SLEEP", "1")))
    return np.full(spec.n, 7.0)

print(float(slow(Spec(n=int(sys.argv[1]))).sum()), flush=True)
"""


def _worker(cache_dir, calls, n, sleep, **kwargs):
    import os
    import subprocess
    import sys

    env = dict(os.environ, IBL_CACHE_DIR=str(cache_dir), CALLS=str(calls), SLEEP=str(sleep),
               JAX_PLATFORMS="cpu")
    return subprocess.Popen([sys.executable, "-c", _WORKER, str(n)], env=env,
                            stdout=subprocess.PIPE, text=True, **kwargs)


def test_two_processes_asking_for_one_entry_compute_it_once(cache_dir, tmp_path):
    calls = tmp_path / "calls"
    workers = [_worker(cache_dir, calls, 100_000, 2) for _ in range(2)]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert [float(o) for o in outputs] == [700_000.0, 700_000.0]
    assert len(calls.read_text().split()) == 1  # computed once; the other process waited and read
    # A third process (a restarted server) finds the entry intact.
    third = _worker(cache_dir, calls, 100_000, 2)
    assert float(third.communicate(timeout=120)[0]) == 700_000.0
    assert len(calls.read_text().split()) == 1


def test_a_killed_computation_leaves_nothing_and_blocks_no_one(cache_dir, tmp_path):
    import signal

    calls = tmp_path / "calls"
    victim = _worker(cache_dir, calls, 10, 600)
    deadline = time.time() + 120
    while not (calls.exists() and calls.read_text().strip()):  # it holds the lock, computing
        assert time.time() < deadline and victim.poll() is None
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert len(cache.store()) == 0  # nothing half-written
    start = time.perf_counter()
    survivor = _worker(cache_dir, calls, 10, 0)
    assert float(survivor.communicate(timeout=120)[0]) == 70.0
    assert time.perf_counter() - start < 60  # did not wait for the dead process's lock
    assert len(calls.read_text().split()) == 2
