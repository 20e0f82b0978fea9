"""`engine.threads.run_in_order`: jobs a few at a time, results and reports in order on the caller's
thread, and everything stopped by whatever the caller or a job raises."""

from __future__ import annotations

import threading
import time

import pytest

from engine.threads import Stopped, run_in_order


def _job(value, steps=3, pause=0.01, log=None):
    def job(report):
        if log is not None:
            log.append(("start", value, threading.current_thread().name))
        for step in range(1, steps + 1):
            time.sleep(pause)
            report(step)
        return value
    return job


def test_results_in_order_with_each_and_progress_on_the_callers_thread():
    caller = threading.current_thread()
    seen, totals = [], []

    def each(i, result):
        assert threading.current_thread() is caller
        seen.append((i, result))

    def progress(done):
        assert threading.current_thread() is caller
        totals.append(done)

    # the first job is the slowest: the later ones end first, are taken as they end, and the
    # results still come back in the jobs' order
    jobs = [_job("a", pause=0.2), _job("b"), _job("c"), _job("d")]
    assert run_in_order(jobs, workers=2, each=each, progress=progress) == ["a", "b", "c", "d"]
    assert seen[-1] == (0, "a") and sorted(seen) == [(0, "a"), (1, "b"), (2, "c"), (3, "d")]
    assert totals == sorted(totals) and totals[-1] == 12  # 4 jobs x 3 steps, never going back


def test_at_most_workers_jobs_at_once():
    running, peak, lock = [0], [0], threading.Lock()

    def job(report):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return 1

    assert run_in_order([job] * 6, workers=2) == [1] * 6
    assert peak[0] == 2
    assert run_in_order([job] * 3, workers=1) == [1] * 3 and peak[0] == 2


def test_what_the_caller_raises_stops_every_job_and_starts_no_other():
    started, stopped_at = [], []

    def job(i):
        def run(report):
            started.append(i)
            for step in range(200):
                time.sleep(0.01)
                try:
                    report(step)
                except Stopped:
                    stopped_at.append(i)
                    raise
            return i
        return run

    def progress(done):
        if done >= 5:
            raise KeyboardInterrupt("the visitor pressed Stop")

    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt, match="Stop"):
        run_in_order([job(i) for i in range(6)], workers=2, progress=progress)
    assert time.perf_counter() - began < 1.5  # not the 2 s a job takes to the end
    assert sorted(started) == [0, 1]  # the jobs not started never start
    assert sorted(stopped_at) == [0, 1]  # both running jobs stopped at their next report


def test_a_failing_job_is_raised_and_stops_the_others():
    def bad(report):
        report(1)
        raise ValueError("d = 3 is not a power of two")

    slow_stopped = []

    def slow(report):
        try:
            for step in range(300):
                time.sleep(0.01)
                report(step)
        except Stopped:
            slow_stopped.append(True)
            raise
        return "slow"

    with pytest.raises(ValueError, match="power of two"):
        run_in_order([bad, slow, _job("never")], workers=2)
    assert slow_stopped == [True]


def test_each_raising_stops_the_rest():
    def each(i, result):
        raise RuntimeError("page gone")

    began = time.perf_counter()
    with pytest.raises(RuntimeError, match="page gone"):
        run_in_order([_job(1), _job(2, steps=300), _job(3)], workers=2, each=each)
    assert time.perf_counter() - began < 1.5  # job 2 stopped, not run for its 3 s


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        run_in_order([_job(1)], workers=0)
