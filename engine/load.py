"""How busy this machine is, for the time estimates: the threads that want a CPU, now.

    load factor = max(1, (busy + 1) / cores)

is how many times slower than on an idle machine a computation runs (the `+ 1` is the computation
itself), where `busy` is the number of threads of other work ready to run. `engine.cache` scales
its estimates by it, and divides each measured time by it before keeping the ratio that calibrates
them.

`busy` is the kernel's count of runnable threads (`procs_running` in `/proc/stat`), averaged over
the last `WINDOW_S` seconds by a daemon thread that reads it every `SAMPLE_EVERY_S`, less this
process's own runnable threads (`/proc/self/task/*/stat`) where asked. Two other readings fit this
use badly:

- the one-minute load average lags a change of load by about a minute and counts this process's
  own work: a process computing one view after another on an idle 2-core machine read load factors
  of 1.8 from it (its own last computation) and calibrated its estimates 1.8 times too low;
- the CPUs' busy time cannot tell a machine with two busy threads from one with twenty: on 2 cores
  with 4 spinning processes it read a load factor of 1.5 where the views ran 2.0-2.5 times slower.

`recent_busy(exclude_self=True)` is the reading before a computation starts (`engine.cache`
adds one thread for each computation its process runs: this process's own threads are those
computations', and the tail of one that just ended); `busy_between(sample(), sample())` is the
load other processes put on a computation while it ran. Where `/proc` cannot be read (not Linux),
the one-minute load average stands in.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import NamedTuple, Optional

WINDOW_S = 3.0
"""How far back `recent_busy` averages."""
SAMPLE_EVERY_S = 0.25
"""How often the sampling thread counts the runnable threads."""
MIN_WINDOW_S = 0.5
"""The shortest span `recent_busy` averages over; before the meter has counted that long (the
first call in a process), it gives one count taken then, so no caller waits."""
_STAT = "/proc/stat"
_TASKS = "/proc/self/task"


def runnable() -> Optional[tuple[int, int]]:
    """`(all, own)`: runnable threads on the machine and of this process, the calling thread left
    out of both; None where `/proc` cannot be read."""
    try:
        with open(_STAT, encoding="ascii") as handle:
            running = next(int(line.split()[1]) for line in handle
                           if line.startswith("procs_running "))
        own = 0
        for task in os.listdir(_TASKS):
            try:
                with open(f"{_TASKS}/{task}/stat", encoding="ascii", errors="replace") as handle:
                    own += handle.read().rsplit(")", 1)[1].split()[0] == "R"
            except (OSError, IndexError):
                continue  # a thread that ended meanwhile
    except (OSError, ValueError, StopIteration):
        return None
    return max(running - 1, 0), max(own - 1, 0)


class Sample(NamedTuple):
    """Runnable threads summed over time since the meter started (thread-seconds): `all` on the
    machine, `own` of this process, the meter's thread left out; `wall` is monotonic seconds."""
    wall: float
    all: float
    own: float


def busy_between(a: Sample, b: Sample, *, exclude_self: bool = True) -> float:
    """Threads ready to run, on average, between samples `a` and `b` (0 when they are the same
    moment), less this process's own with `exclude_self`."""
    span = b.wall - a.wall
    if span <= 0:
        return 0.0
    threads = b.all - a.all - ((b.own - a.own) if exclude_self else 0.0)
    return max(0.0, threads / span)


class _Meter:
    """A daemon thread that counts the runnable threads every `SAMPLE_EVERY_S` and sums them over
    time (each count held until the next), keeping the last `WINDOW_S` of samples."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: collections.deque = collections.deque(
            maxlen=int(WINDOW_S / SAMPLE_EVERY_S) + 2)
        self._last: Optional[tuple] = None  # (wall, all, own) of the last count
        self._thread: Optional[threading.Thread] = None
        self._broken = False

    def _count(self) -> bool:
        counted = runnable()
        now = time.monotonic()
        with self._lock:
            if counted is None:
                self._broken = True
                return False
            self._samples.append(Sample(now, 0.0, 0.0) if self._last is None
                                 else self._extended(now))
            self._last = (now, *counted)
        return True

    def _extended(self, now: float) -> Sample:
        """The sums at `now`, the last count held since it was taken (call with the lock held)."""
        wall, all_, own = self._last
        held = self._samples[-1]
        return Sample(now, held.all + all_ * (now - wall), held.own + own * (now - wall))

    def _run(self) -> None:
        while self._count():
            time.sleep(SAMPLE_EVERY_S)

    def _start(self) -> bool:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ibl-load-meter",
                                                daemon=True)
                self._thread.start()
            return not self._broken

    def sample(self) -> Optional[Sample]:
        """The sums now (the last count held since it was taken); None without `/proc`."""
        if not self._start():
            return None
        deadline = time.monotonic() + 1.0
        while True:
            with self._lock:
                if self._broken:
                    return None
                if self._last is not None:
                    return self._extended(time.monotonic())
            if time.monotonic() > deadline:
                return None
            time.sleep(0.01)  # the thread's first count

    def recent(self, exclude_self: bool) -> Optional[float]:
        now = self.sample()
        if now is None:
            return None
        with self._lock:
            first = self._samples[0]
            oldest = next(s for s in self._samples if now.wall - s.wall <= WINDOW_S + 1e-3)
        if now.wall - first.wall < MIN_WINDOW_S:  # a meter just started: one count, now
            counted = runnable()
            if counted is None:
                return None
            return float(counted[0] - counted[1] if exclude_self else counted[0])
        return busy_between(oldest, now, exclude_self=exclude_self)


_meter = _Meter()


def _new_meter() -> None:
    """A forked child (an RQ work horse) has the parent's samples but not its thread: start over."""
    global _meter
    _meter = _Meter()


os.register_at_fork(after_in_child=_new_meter)


def sample() -> Optional[Sample]:
    """The meter's sums now, for `busy_between`; None where `/proc` cannot be read."""
    return _meter.sample()


def recent_busy(*, exclude_self: bool = False) -> float:
    """Threads ready to run, on average over the last `WINDOW_S` seconds (one count, now, until
    the meter has counted for `MIN_WINDOW_S`), this process's included unless `exclude_self`; the
    one-minute load average where `/proc` cannot be read (0 where neither can)."""
    busy = _meter.recent(exclude_self)
    if busy is not None:
        return busy
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return 0.0


def factor(busy: float) -> float:
    """The load factor `max(1, (busy + 1) / cores)` with `busy` threads of other work."""
    return max(1.0, (busy + 1.0) / (os.cpu_count() or 1))
