"""`engine.load`: the threads that want a CPU, counted by the kernel, checked against processes and
threads this test starts, and against a fake `/proc`."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from engine import load

SPIN = "import os\nos.nice(19)\nwhile True: pass"
"""A process always ready to run, at the lowest priority: it counts as runnable like any other,
but leaves the CPU to the rest of the suite."""


@pytest.fixture
def spinners():
    """Three other processes, each always ready to run: more than CI's two cores."""
    processes = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(3)]
    yield processes
    for process in processes:
        process.kill()
        process.wait()


def test_runnable_counts_procs_running_and_this_process_threads_in_state_r(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3 4 5 6 7 8 0 0\nctxt 99\nprocs_running 7\nprocs_blocked 1\n")
    tasks = tmp_path / "task"
    for tid, state in [(1, "R"), (2, "S"), (3, "R"), (4, "D")]:
        (tasks / str(tid)).mkdir(parents=True)
        (tasks / str(tid) / "stat").write_text(f"{tid} (python (x) y) {state} 1 2 3\n")
    monkeypatch.setattr(load, "_STAT", str(stat))
    monkeypatch.setattr(load, "_TASKS", str(tasks))
    assert load.runnable() == (6, 1)  # the reader, one of the two in state R, left out of both
    stat.write_text("cpu  1 2 3 4 5 6 7 8 0 0\n")
    assert load.runnable() is None


def test_busy_between_leaves_out_this_process_on_request():
    a, b = load.Sample(10.0, 100.0, 5.0), load.Sample(12.0, 103.0, 6.0)
    assert load.busy_between(a, b, exclude_self=False) == pytest.approx(1.5)
    assert load.busy_between(a, b) == pytest.approx(1.0)
    assert load.busy_between(b, b) == 0.0


def test_processes_that_started_a_moment_ago_are_counted_beyond_the_cores(spinners):
    """Within a few seconds (the one-minute load average would still be near its old value), all
    three spinners count, though two cores can run only two at a time."""
    time.sleep(load.WINDOW_S + 2 * load.SAMPLE_EVERY_S)
    assert load.recent_busy(exclude_self=True) >= 2.7


def test_a_meter_just_started_gives_the_count_of_that_moment(spinners, monkeypatch):
    """No history yet (a process's first estimate): one count, taken then, instead of a wait."""
    time.sleep(0.3)  # the spinners are up
    monkeypatch.setattr(load, "_meter", load._Meter())
    assert load.recent_busy(exclude_self=True) >= 2.5


def test_this_process_threads_count_only_when_asked():
    a = load.sample()
    end = time.monotonic() + 1.5
    while time.monotonic() < end:  # this thread always ready to run
        pass
    b = load.sample()
    own = load.busy_between(a, b, exclude_self=False) - load.busy_between(a, b)
    assert own >= 0.7  # this thread (more where the machine is so busy that others wait to run)


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
    monkeypatch.setattr(load, "_STAT", str(tmp_path / "missing"))
    monkeypatch.setattr(load.os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    assert load.sample() is None and load.recent_busy() == 5.0
    monkeypatch.setattr(load.os, "cpu_count", lambda: 2)
    assert load.factor(5.0) == pytest.approx(3.0) and load.factor(0.0) == 1.0
