"""Fair computation slots: at most `count` computations at once in one process, at most one of them
per owner, served first come, first served (`Slots(None)`: no bound but the one per owner).

An owner is whoever a computation is for: the dashboard passes one per visitor (a browser, so two
tabs are one owner). A caller whose owner already runs a computation waits, and lets the callers
queued behind it go first, so one visitor cannot hold every slot while another waits. Callers with
no owner (`None`: scripts, the command line, tests) are limited only by `count`.

A waiting caller is told, from its own thread, where it stands (`Queued`) when it starts waiting and
then every `REPORT_EVERY_S`, so a page can show its place in the queue; whatever that report raises
(a page being stopped) takes the caller out of the queue and is raised again.

    slots = Slots(2)
    with slots.hold(owner="visitor-1", waiting=lambda q: print(q.ahead)):
        compute()
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import itertools
import threading
from typing import Callable, Hashable, Iterator, Optional

REPORT_EVERY_S = 1.0
"""A waiting caller's `waiting` callback is called at least this often."""


@dataclasses.dataclass(frozen=True)
class Queued:
    """Where a waiting caller stands: `ahead` callers are served before it (those queued earlier
    that may start before it), `running` computations hold the slots, and `mine` says the caller's
    own owner runs one of them (it starts after that one ends)."""
    ahead: int
    running: int
    mine: bool


Waiting = Optional[Callable[[Queued], None]]


class Slots:
    """`count` slots (None: as many as there are owners), shared by every thread of a process
    (module docstring)."""

    def __init__(self, count: Optional[int]):
        if count is not None and count < 1:
            raise ValueError(f"a process needs at least one computation slot, not {count}.")
        self.count = count
        self._changed = threading.Condition()
        self._running: collections.Counter = collections.Counter()  # owner -> computations
        self._queue: list[tuple[int, Hashable]] = []  # (ticket, owner), in arrival order
        self._tickets = itertools.count()

    @property
    def running(self) -> int:
        """How many computations hold a slot now."""
        with self._changed:
            return sum(self._running.values())

    @property
    def queued(self) -> int:
        """How many callers wait for a slot now."""
        with self._changed:
            return len(self._queue)

    def _busy(self, owner: Hashable) -> bool:
        return owner is not None and self._running[owner] > 0

    def _standing(self, ticket: int, owner: Hashable) -> Optional[Queued]:
        """None when `ticket` may start now, else where it stands (call with the lock held).
        Callers are served in arrival order, skipping those whose owner is busy."""
        running = sum(self._running.values())
        ahead = 0
        for queued, queued_owner in self._queue:
            if queued == ticket:
                break
            if not self._busy(queued_owner):
                ahead += 1
        free = self.count is None or running < self.count
        if ahead == 0 and free and not self._busy(owner):
            return None
        return Queued(ahead=ahead, running=running, mine=self._busy(owner))

    @contextlib.contextmanager
    def hold(self, owner: Hashable = None, waiting: Waiting = None) -> Iterator[None]:
        """Hold a slot for the body of the `with`: wait until this caller may start (module
        docstring), calling `waiting(Queued(...))` from this thread while it waits."""
        ticket = next(self._tickets)
        with self._changed:
            self._queue.append((ticket, owner))
        try:
            while True:
                with self._changed:
                    standing = self._standing(ticket, owner)
                    if standing is None:
                        self._queue.remove((ticket, owner))
                        self._running[owner] += 1
                        break
                if waiting is not None:
                    waiting(standing)  # outside the lock: a page draws here (and may be stopped)
                with self._changed:
                    if self._standing(ticket, owner) is not None:
                        self._changed.wait(REPORT_EVERY_S)
        except BaseException:
            with self._changed:
                if (ticket, owner) in self._queue:
                    self._queue.remove((ticket, owner))
                self._changed.notify_all()  # a caller behind this one may start now
            raise
        try:
            yield
        finally:
            with self._changed:
                self._running[owner] -= 1
                if not self._running[owner]:
                    del self._running[owner]
                self._changed.notify_all()
