"""How busy this machine is, for the time estimates: the threads that want a CPU, now.

    load factor = max(1, (busy + 1) / cores)

is how many times slower than on an idle machine a computation runs (the `+ 1` is the computation
itself), where `busy` is the number of threads of other work ready to run. `engine.cache` scales
its estimates by it, and divides each measured time by it before keeping the ratio that calibrates
them.

`busy` counts the threads ready to run (state R in `/proc/*/task/*/stat`, and those of other
containers through `procs_running` in `/proc/stat`), each weighed by its priority (`weight`: a
nice-19 thread, the server's warm-up, counts 0.014), counted every `SAMPLE_EVERY_S` by a
daemon thread: before a computation, the median count of the last `WINDOW_S` seconds; over a
computation, the mean. This process's own threads are left out where asked. Two other readings
fit this use badly:

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
import statistics
import threading
import time
from typing import NamedTuple, Optional

WINDOW_S = 15.0
"""How far back `recent_busy` looks: its median ignores a burst (a server starting, a browser on
the same machine loading the page that asks for the estimate: 2-6 threads for 2-3 s), and load
that lasts half of it counts, four times sooner than in the load average's minute."""
SAMPLE_EVERY_S = 0.5
"""How often the sampling thread counts the runnable threads."""
MIN_COUNTS = 3
"""The fewest counts `recent_busy` takes the median of: before the meter has that many in its
window (the first call in a process), it counts that many times then, 20 ms apart."""
_PROC = "/proc"


def weight(nice: int) -> float:
    """The scheduler's weight of a thread at `nice`, relative to nice 0 (Linux's CFS: 1.25 times
    less CPU for each step; nice 19 weighs 0.014), at most 1: a thread of higher priority (the
    kernel's own, at -20, for a moment) still takes at most one CPU."""
    return min(1.0, 1.25 ** -nice)


def own_weight() -> float:
    """This process's `weight`: a niced process (the server's warm-up, at 19) yields the CPU to
    nice-0 work in the ratio of the two, so to it each such thread counts `1 / own_weight()`."""
    return weight(os.getpriority(os.PRIO_PROCESS, 0))


def ready_threads(pid: str) -> list[int]:
    """The nice value of each thread of process `pid` ready to run (state R in its `stat`; the
    19th field is the nice value, counted after the command's closing parenthesis)."""
    try:
        tasks = os.listdir(f"{_PROC}/{pid}/task")
    except OSError:
        return []  # a process that ended meanwhile
    ready = []
    for task in tasks:
        try:
            with open(f"{_PROC}/{pid}/task/{task}/stat", encoding="ascii",
                      errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if fields[0] == "R":
                ready.append(int(fields[16]))
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return ready


def runnable() -> Optional[tuple[float, int]]:
    """`(all, own)`: the threads ready to run on the machine, and those of this process, the
    calling thread left out of both; None where `/proc` cannot be read.

    `all` weighs each thread of another process by its priority (`weight`: the server's nice-19
    warm-up counts 0.014, as CFS gives it that share of a CPU beside a nice-0 thread); threads
    this `/proc` does not show (another container's), which `procs_running` counts, count 1.
    Each count reads every thread's `stat`: about 2 ms for 150 threads.
    """
    me = str(os.getpid())
    try:
        with open(f"{_PROC}/stat", encoding="ascii") as handle:
            running = next(int(line.split()[1]) for line in handle
                           if line.startswith("procs_running "))
        pids = [pid for pid in os.listdir(_PROC) if pid.isdigit()]
    except (OSError, ValueError, StopIteration):
        return None
    seen, others, own = 0, 0.0, 0
    for pid in pids:
        for nice in ready_threads(pid):
            seen += 1
            if pid == me:
                own += 1
            else:
                others += weight(nice)
    own = max(own - 1, 0)  # the caller
    hidden = max(running - seen, 0)
    return others + hidden + own, own


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
        self._counts: collections.deque = collections.deque(maxlen=self._samples.maxlen)
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
            self._counts.append(self._last)
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
        """The median count in the last `WINDOW_S` (a burst shorter than half of it does not
        move it; lasting load does)."""
        if self.sample() is None:
            return None
        now = time.monotonic()
        with self._lock:
            counts = [c[1:] for c in self._counts if now - c[0] <= WINDOW_S]
        while len(counts) < MIN_COUNTS:  # a meter just started (or late): count now
            counted = runnable()
            if counted is None:
                return None
            counts.append(counted)
            if len(counts) < MIN_COUNTS:
                time.sleep(0.02)
        return float(statistics.median(all_ - own if exclude_self else all_
                                       for all_, own in counts))


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
    """Threads ready to run, the median of the meter's counts over the last `WINDOW_S` seconds
    (of `MIN_COUNTS` taken now, until it has that many), this process's included unless
    `exclude_self`; the one-minute load average where `/proc` cannot be read (0 where neither
    can)."""
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
