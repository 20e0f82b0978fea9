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


def test_minus_zero_is_the_same_setting_as_zero():
    assert cache.cache_key("f", {"b_std": -0.0}) == cache.cache_key("f", {"b_std": 0.0})
    assert cache.cache_key("f", {"b_std": -0.5}) != cache.cache_key("f", {"b_std": 0.5})


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
    assert list((cache_dir / "locks").iterdir()) == []  # no lock file left once released
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


# --- Calibrated estimates -------------------------------------------------------------------------

def _timed(name, sleep_s, estimate_s, budget_s=None):
    """A view that takes `sleep_s` and claims `estimate_s`; its calls counted in `.calls`."""
    calls = []

    @cache.cached(name, estimate=lambda spec: estimate_s, budget_s=budget_s)
    def view(spec, *, progress=None):
        calls.append(spec)
        time.sleep(sleep_s)
        return spec.n

    view.calls = calls
    return view


@pytest.fixture
def calibrating(cache_dir, monkeypatch):
    """Calibration on, on a machine whose load factor the test sets (`load[0]`, 1 to start)."""
    monkeypatch.setenv(cache.CALIBRATE_ENV, "1")
    load = [1.0]
    monkeypatch.setattr(cache, "load_factor", lambda **_: load[0])
    monkeypatch.setattr(cache, "load_since", lambda began: load[0])
    return load


def test_estimates_follow_what_this_machine_measured(calibrating):
    view = _timed("test.calibrated", sleep_s=1.2, estimate_s=0.4)
    assert view.estimate_seconds(Spec(n=0)) == pytest.approx(0.4)  # nothing measured yet
    for n in range(cache.MIN_RATIOS):
        view(Spec(n=n))
    # Each run took 3x (or a little more than 3x) its estimate: so will the next, says the view.
    assert 3 * 0.4 <= view.estimate_seconds(Spec(n=99)) <= 3.6 * 0.4
    # A machine twice as busy now: twice as long.
    calibrating[0] = 2.0
    assert 6 * 0.4 <= view.estimate_seconds(Spec(n=99)) <= 7.2 * 0.4


def test_a_busy_run_is_recorded_as_an_idle_one(calibrating):
    # Measured at load 3, the view took 3x its estimate: on an idle machine it is on time.
    view = _timed("test.busy", sleep_s=1.2, estimate_s=0.4)
    calibrating[0] = 3.0
    for n in range(cache.MIN_RATIOS):
        view(Spec(n=n))
    calibrating[0] = 1.0
    assert 0.4 <= view.estimate_seconds(Spec(n=99)) <= 1.2 * 0.4


def test_a_run_slowed_more_than_max_load_recorded_is_not_recorded(calibrating):
    """The server's nice-19 warm-up while a visitor computes: its time says little of the machine."""
    view = _timed("test.starved", sleep_s=1.2, estimate_s=0.4)
    calibrating[0] = cache.MAX_LOAD_RECORDED * 1.5
    for n in range(cache.MIN_RATIOS):
        view(Spec(n=n))
    assert cache._ratios("test.starved") == []
    calibrating[0] = cache.MAX_LOAD_RECORDED
    view(Spec(n=99))
    assert len(cache._ratios("test.starved")) == 1


def test_a_new_view_borrows_every_views_calibration(calibrating):
    slow = _timed("test.slow_view", sleep_s=1.2, estimate_s=0.3)
    for n in range(cache.MIN_RATIOS):
        slow(Spec(n=n))
    fresh = _timed("test.fresh_view", sleep_s=0.0, estimate_s=1.0)
    assert fresh.estimate_seconds(Spec()) >= 4.0  # the machine measured 4x: assume so here too


def test_short_runs_and_a_damaged_record_leave_the_estimate_alone(calibrating):
    quick = _timed("test.quick", sleep_s=0.0, estimate_s=0.5)
    for n in range(5):
        quick(Spec(n=n))  # far below MIN_MEASURED_S: overhead, not the machine
    assert quick.estimate_seconds(Spec(n=99)) == pytest.approx(0.5)
    cache.store().set(cache._CALIBRATION + "test.quick", "not a list")
    cache.store().set(cache._CALIBRATION + "*", [float("nan"), -1.0, "x"])
    assert quick.estimate_seconds(Spec(n=99)) == pytest.approx(0.5)


def test_calibration_stays_within_its_range(calibrating):
    for _ in range(cache.MIN_RATIOS):
        cache.record_time("test.range", 1e-6, 10.0, 1.0)
    assert cache.calibration("test.range") == cache.RATIO_RANGE[1]


def test_calibration_off_gives_the_declared_estimate(calibrating, monkeypatch):
    view = _timed("test.off", sleep_s=1.2, estimate_s=0.4)
    for n in range(cache.MIN_RATIOS):
        view(Spec(n=n))
    monkeypatch.setenv(cache.CALIBRATE_ENV, "0")
    calibrating[0] = 5.0
    assert view.estimate_seconds(Spec(n=99)) == pytest.approx(0.4)


def test_a_computation_over_its_budget_on_this_machine_now_is_refused_before_work(calibrating):
    # Within its 10 s budget on an idle machine (estimate 4 s), the view is a valid one whose
    # stored result is served; computing it at load 5 (about 20 s) is refused before any work.
    view = _timed("test.budget", sleep_s=0.0, estimate_s=4.0, budget_s=10.0)
    assert view.lookup(Spec(n=1)) is None
    calibrating[0] = 5.0
    with pytest.raises(ValueError, match="would take about 20 s on this machine"):
        view(Spec(n=1))
    assert view.calls == []
    calibrating[0] = 1.0
    assert view(Spec(n=1)) == 1 and len(view.calls) == 1
    calibrating[0] = 5.0
    assert view(Spec(n=1)) == 1 and len(view.calls) == 1  # stored: served however busy


def test_load_factor_counts_the_threads_ready_to_run(monkeypatch):
    """`max(1, (busy + 1) / cores)`, with `busy` as `engine.load` counts it (tests/test_load.py),
    on the whole machine before a computation and in other processes while one runs."""
    asked = []
    monkeypatch.setattr(cache.cpu_load, "recent_busy",
                        lambda exclude_self: asked.append(exclude_self) or 4.0)
    monkeypatch.setattr(cache.cpu_load.os, "cpu_count", lambda: 2)
    assert cache.load_factor() == pytest.approx(2.5) and asked == [True]
    with cache.computation_slots().hold():  # a computation of this process counts as a thread
        assert cache.load_factor() == pytest.approx(3.0)
        assert cache.load_factor(computing=True) == pytest.approx(2.5)  # ... but not its own
    monkeypatch.setattr(cache.cpu_load, "recent_busy", lambda exclude_self: 0.0)
    assert cache.load_factor() == 1.0
