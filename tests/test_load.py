"""`engine.load`: the threads that want a CPU, counted by the kernel and weighed by priority,
checked against processes and threads this test starts, and against a fake `/proc`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import pytest

from engine import load


def _spin(nice: int) -> str:
    return f"import os\nos.nice({nice})\nwhile True: pass"


@pytest.fixture
def spinners(request):
    """Three other processes, each always ready to run (more than CI's two cores), at the nice
    value the test is parametrised with."""
    processes = [subprocess.Popen([sys.executable, "-c", _spin(request.param)]) for _ in range(3)]
    time.sleep(0.3)  # up and spinning
    yield processes
    for process in processes:
        process.kill()
        process.wait()


@pytest.fixture
def short_window(monkeypatch):
    """A meter of this test's own, averaging over 1 s instead of `WINDOW_S`."""
    monkeypatch.setattr(load, "WINDOW_S", 1.0)
    monkeypatch.setattr(load, "_meter", load._Meter())


def _task(path, tid: int, state: str, nice: int) -> None:
    path.mkdir(parents=True)
    # pid (comm) state, then fields 4-18, nice the 19th (the comm may hold ") ")
    fields = [state] + ["0"] * 15 + [str(nice), "1"]
    (path / "stat").write_text(f"{tid} (python (x) y) " + " ".join(fields) + "\n")


def test_runnable_weighs_other_threads_in_state_r_by_priority(tmp_path, monkeypatch):
    (tmp_path / "stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\nprocs_running 9\nprocs_blocked 1\n")
    me = os.getpid()
    for tid, state in [(me, "R"), (me + 1, "S"), (me + 2, "R")]:  # this process: two ready
        _task(tmp_path / str(me) / "task" / str(tid), tid, state, 0)
    for pid, state, nice in [(1, "R", 0), (2, "R", 19), (3, "D", 0), (4, "R", -5)]:
        _task(tmp_path / str(pid) / "task" / str(pid), pid, state, nice)
    (tmp_path / "sys").mkdir()  # not a process
    monkeypatch.setattr(load, "_PROC", str(tmp_path))
    all_, own = load.runnable()
    # five seen in state R, four more counted by the kernel alone; the caller is one of ours; a
    # thread above nice 0 counts one
    others = 1 + 1.25 ** -19 + 1 + 4
    assert own == 1 and all_ == pytest.approx(others + 1)
    (tmp_path / "stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\n")
    assert load.runnable() is None


def test_busy_between_leaves_out_this_process_on_request():
    a, b = load.Sample(10.0, 100.0, 5.0), load.Sample(12.0, 103.0, 6.0)
    assert load.busy_between(a, b, exclude_self=False) == pytest.approx(1.5)
    assert load.busy_between(a, b) == pytest.approx(1.0)
    assert load.busy_between(b, b) == 0.0


@pytest.mark.parametrize("spinners", [0], indirect=True)
def test_processes_that_started_a_moment_ago_are_counted_beyond_the_cores(spinners, short_window):
    """A reading within the first moment, then one averaged over the window: all three spinners
    count, though two cores run only two at a time (the one-minute load average would still be
    near its old value)."""
    assert load.recent_busy(exclude_self=True) >= 2.5  # one count, now
    time.sleep(load.WINDOW_S + 2 * load.SAMPLE_EVERY_S)
    assert load.recent_busy(exclude_self=True) >= 2.7


@pytest.mark.parametrize("spinners", [19], indirect=True)
def test_niced_processes_count_as_the_share_of_a_cpu_they_would_get(spinners):
    """The server's warm-up runs at nice 19: beside it a visitor's computation runs at full
    speed, so each of its ready threads counts 0.014 (read from the real `/proc`; the rest of
    the machine, the suite's other worker, counts as it is)."""
    for process in spinners:
        assert load.ready_threads(str(process.pid)) == [19]
    assert load.weight(19) == pytest.approx(0.0144, abs=1e-4)


def test_this_process_threads_count_only_when_asked():
    """This thread hashes (ready to run, without the GIL, so the meter runs beside it); the span
    measured starts once the meter has counted it at least once (one count every 0.5 s)."""
    block, a = b"x" * 2 ** 27, None  # about 0.1 s a hash: this thread seldom waits for the GIL
    start = time.monotonic()
    while time.monotonic() < start + 2 * load.SAMPLE_EVERY_S + 1.5:
        hashlib.sha256(block)
        if a is None and time.monotonic() > start + 2 * load.SAMPLE_EVERY_S:
            a = load.sample()
    b = load.sample()
    own = load.busy_between(a, b, exclude_self=False) - load.busy_between(a, b)
    assert own >= 0.5  # this thread, counted (a count can find it waiting for the GIL)


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # the child runs no JAX, then exits
def test_a_forked_child_counts_with_a_meter_of_its_own():
    """A work horse forked from a worker: the parent's meter thread does not run there."""
    assert load.sample() is not None  # the parent's meter runs
    pid = os.fork()
    if pid == 0:  # the child: a new meter, which starts its own thread and counts
        fresh = load._meter._thread is None and load.sample() is not None
        os._exit(0 if fresh and load._meter._thread.is_alive() else 1)
    assert os.waitpid(pid, 0)[1] == 0


def test_without_proc_the_load_average_stands_in(tmp_path, monkeypatch):
    monkeypatch.setattr(load, "_meter", load._Meter())
    monkeypatch.setattr(load, "_PROC", str(tmp_path / "missing"))
    monkeypatch.setattr(load.os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    assert load.sample() is None and load.recent_busy() == 5.0
    monkeypatch.setattr(load.os, "cpu_count", lambda: 2)
    assert load.factor(5.0) == pytest.approx(3.0) and load.factor(0.0) == 1.0
    monkeypatch.setattr(load.os, "getpriority", lambda which, who: 19)
    assert load.own_weight() == pytest.approx(1.25 ** -19)
