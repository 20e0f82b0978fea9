"""Independent jobs of one view run a few at a time in threads, each result taken as it comes, and
every report made from the caller's thread.

Why threads: XLA releases Python's lock while it runs, and one training sweep of small networks
keeps only about 1.4 of two CPU cores busy (its operations are too small to split well). Two sweeps
at once keep both busy (`engine.training.SWEEPS_AT_ONCE`, where the measurement is).

Why reports from the caller's thread: the caller's `progress` may draw on a page, or raise to stop
the work (`engine.guard.Overrun`, a visitor's Stop button), and both belong to the thread that asked.
So the jobs only count their steps (`report(done)`), and the caller's thread sums them and calls
`progress(done)` every `POLL_S` while it waits. Whatever `progress`, `each` or a job raises stops
the others at their next report, drops the jobs not started, and is raised again once the running
ones have ended: nothing keeps computing for a view that is gone.

    results = run_in_order([lambda report: sweep(a, report) for a in archs], workers=2,
                           progress=lambda done: print(done), each=lambda i, r: draw(i, r))

(`run_in_order`: the results come back in the jobs' order, and the jobs start in it.)
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Callable, Optional, Sequence, TypeVar

T = TypeVar("T")

POLL_S = 0.25
"""The caller's `progress` is called at least this often while it waits for a job."""


class Stopped(Exception):
    """Raised in a job's `report` once the caller has stopped (the caller raises its own reason)."""


def run_in_order(jobs: Sequence[Callable[[Callable[[int], None]], T]], *, workers: int,
                 progress: Optional[Callable[[int], None]] = None,
                 each: Optional[Callable[[int, T], None]] = None) -> list[T]:
    """`[job(report) for job in jobs]`, computed `workers` at a time, started in order.

    Args:
        jobs: callables taking `report(done)`, which they call with their own count of work done
            (steps, say); `report` raises `Stopped` once the caller has stopped.
        workers: jobs running at once (1 runs them one after the other, still in a thread).
        progress: called from this thread as `progress(total done)`, the sum of every job's last
            report, at least every `POLL_S` and after each job.
        each: called from this thread as `each(i, result)` as soon as job `i` has ended, in the
            order they end (a page draws its first results from it).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}.")
    done = [0] * len(jobs)
    stop = threading.Event()

    def run(i: int) -> T:
        def report(count: int) -> None:
            if stop.is_set():
                raise Stopped
            done[i] = count
        return jobs[i](report)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
    try:
        futures = [pool.submit(run, i) for i in range(len(jobs))]
        index = {future: i for i, future in enumerate(futures)}
        pending = set(futures)
        while pending:
            ended, pending = concurrent.futures.wait(
                pending, timeout=POLL_S, return_when=concurrent.futures.FIRST_COMPLETED)
            if progress is not None:
                progress(sum(done))
            for future in sorted(ended, key=index.get):
                result = future.result()  # a job's error is raised here
                if each is not None:
                    each(index[future], result)
        return [future.result() for future in futures]
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
