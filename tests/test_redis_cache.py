"""The shared result cache (`IBL_CACHE_URL`, `engine.redis_store`) on a real `redis-server`
(Debian's package; `.ci/run` installs it): the embedded cache's contract, across processes. A view
asked for by two processes at once is computed once; a holder killed mid-computation blocks no one
beyond its lock's expiry; a damaged entry is computed again; the size bound evicts the least
recently used entries; a server that stops leaves views computed and served with a notice, the
health probe saying why, and the cache works again when it is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import redis

from engine import cache, redis_store
from redis_helpers import Server
from test_cache import _WORKER as CACHE_WORKER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    running.stop()


@pytest.fixture
def shared(server, monkeypatch, tmp_path):
    """The cache on `server`, emptied; the raw client for inspection."""
    monkeypatch.setenv(cache.CACHE_URL_ENV, server.url)
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "dir"))
    client = redis.Redis.from_url(server.url)
    client.flushdb()
    cache._stores.clear()
    yield client
    cache._stores.clear()


@dataclass(frozen=True)
class Spec:
    n: int


def _counted(name: str):
    calls = []

    @cache.cached(name)
    def view(spec, *, progress=None) -> np.ndarray:
        calls.append(spec)
        return np.arange(spec.n, dtype=float)

    view.calls = calls
    return view


# --- Across processes -----------------------------------------------------------------------------

def _worker(url, calls, n, sleep, lock_ttl=15.0):
    """`tests/test_cache.py`'s process on the shared cache, its lock expiring `lock_ttl` seconds
    after its last renewal (three heartbeats, `IBL_HEARTBEAT_S`)."""
    env = dict(os.environ, IBL_CACHE_URL=url, CALLS=str(calls), SLEEP=str(sleep),
               IBL_HEARTBEAT_S=str(lock_ttl / 3), JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", CACHE_WORKER, str(n)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)


def test_two_processes_asking_for_one_view_compute_it_once(shared, server, tmp_path):
    calls = tmp_path / "calls"
    workers = [_worker(server.url, calls, 100_000, 2) for _ in range(2)]
    outputs = [w.communicate(timeout=120)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert [float(o) for o in outputs] == [700_000.0, 700_000.0]
    assert len(calls.read_text().split()) == 1
    # A third process (another machine, a restarted server) reads it.
    third = _worker(server.url, calls, 100_000, 2)
    assert float(third.communicate(timeout=120)[0]) == 700_000.0
    assert len(calls.read_text().split()) == 1


def test_a_holder_killed_mid_computation_blocks_no_one_beyond_its_locks_expiry(
        shared, server, tmp_path):
    calls = tmp_path / "calls"
    victim = _worker(server.url, calls, 10, 600, lock_ttl=2.0)
    deadline = time.time() + 120
    while not (calls.exists() and calls.read_text().strip()):  # it holds the lock, computing
        assert time.time() < deadline and victim.poll() is None
        time.sleep(0.1)
    time.sleep(2.5)  # longer than the lock's expiry: only the holder's renewals keep it
    assert shared.keys(redis_store.LOCKS + "*"), "the live holder's lock expired"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert len(cache.store()) == 0  # nothing half-written
    start = time.perf_counter()
    survivor = _worker(server.url, calls, 10, 0, lock_ttl=2.0)
    assert float(survivor.communicate(timeout=120)[0]) == 70.0
    assert time.perf_counter() - start < 60
    assert len(calls.read_text().split()) == 2


# --- Entries ---------------------------------------------------------------------------------------

def test_a_view_is_read_back_and_a_damaged_entry_computed_again(shared):
    view = _counted("test.redis.damage")
    spec = Spec(n=5)
    np.testing.assert_array_equal(view(spec), np.arange(5.0))
    np.testing.assert_array_equal(view(spec), np.arange(5.0))
    assert len(view.calls) == 1
    entry = redis_store.VALUES + view.key(spec)
    for damage in (b"B" + b"\x00" * 40, b"B" + shared.get(entry)[1:-3], b"?x", b""):
        shared.set(entry, damage)
        np.testing.assert_array_equal(view(spec), np.arange(5.0))
        assert shared.get(entry)[:1] == b"B" and view.lookup(spec) is not None
    assert len(view.calls) == 5  # each damage computed again, and stored again
    # A valid entry of another type is damage too: it decodes, and the view refuses its type.
    shared.set(entry, b"B" + cache._pack({"not": "an array"}))
    np.testing.assert_array_equal(view(spec), np.arange(5.0))
    assert len(view.calls) == 6


def test_the_size_bound_evicts_the_least_recently_used_entries(shared, monkeypatch):
    view = _counted("test.redis.bound")
    one = len(cache._pack(np.arange(1000.0))) + 1
    monkeypatch.setenv(cache.CACHE_SIZE_ENV, str(3.5 * one / 2**20))
    cache._stores.clear()
    specs = [Spec(n=1000 + i) for i in range(3)]
    for spec in specs:
        view(spec)
    view(specs[0])  # read: now the most recently used
    view(Spec(n=999))  # a fourth entry: the least recently used one (n = 1001) goes
    assert [view.lookup(s) is not None for s in specs] == [True, False, True]
    assert len(cache.store()) == 3
    assert cache.store().volume() <= 3.5 * one
    assert cache.store().volume() == sum(shared.strlen(k) for k in shared.keys(
        redis_store.VALUES + "*"))


def test_the_calibration_is_kept_as_json(shared, monkeypatch):
    monkeypatch.setenv(cache.CALIBRATE_ENV, "1")
    cache.record_time("test.redis.timed", 2.0, 3.0, 1.0)
    cache.record_time("test.redis.timed", 2.0, 5.0, 1.0)
    assert cache._ratios("test.redis.timed") == [1.5, 2.5]
    assert shared.get(redis_store.VALUES + cache._CALIBRATION + "*") == b"J[1.5, 2.5]"


# --- Faults ----------------------------------------------------------------------------------------

def test_a_stopped_server_leaves_views_served_with_a_notice_until_it_is_back(monkeypatch,
                                                                                tmp_path):
    own = Server()
    try:
        monkeypatch.setenv(cache.CACHE_URL_ENV, own.url)
        monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "dir"))
        cache._stores.clear()
        view = _counted("test.redis.down")
        view(Spec(n=3))
        assert cache.degraded() is None and cache.probe() == []
        own.stop()
        start = time.perf_counter()
        np.testing.assert_array_equal(view(Spec(n=4)), np.arange(4.0))  # computed here
        assert not cache.last_saved()
        np.testing.assert_array_equal(view(Spec(n=3)), np.arange(3.0))  # not readable: again
        assert time.perf_counter() - start < 3 * redis_store.TIMEOUT_S
        assert len(view.calls) == 3
        notice = cache.degraded()
        assert notice and "cannot be reached" in notice and str(own.port) in notice
        assert any("cannot be reached" in problem for problem in cache.probe())
        own.start()  # back (empty: no persistence): the cache works again, no restart needed
        view(Spec(n=4))
        assert cache.last_saved() and cache.degraded() is None and cache.probe() == []
        assert view.lookup(Spec(n=4)) is not None
    finally:
        own.stop()
        cache._stores.clear()


def test_a_malformed_cache_url_is_refused_with_a_sentence_and_views_still_computed(
        monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_URL_ENV, "http://user:secret@example.com/0")
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "dir"))
    cache._stores.clear()
    try:
        problems = cache.settings_problems()
        assert len(problems) == 1 and "is not a Redis URL" in problems[0]
        assert "secret" not in problems[0]
        assert "not a Redis URL" in cache.degraded()
        view = _counted("test.redis.badurl")
        np.testing.assert_array_equal(view(Spec(n=2)), np.arange(2.0))
        assert not cache.last_saved()
    finally:
        cache._stores.clear()
