"""Warm from the first start: `python serve.py` (so `make run`) computes the views the pages open on
in a background process at the lowest CPU priority, and the home page says how many are ready.

The process is `python -m engine warm --defaults` under `nice 19`, so whatever the server computes
for a visitor (a lecturer's own clicks) gets the processors first; both share the result cache and
its per-view locks, so a view is computed once, by whichever asks first. The process ends with the
server. `IBL_WARM=0` turns it off (the Docker image is warmed when it is built).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import NamedTuple, Optional

from engine.experiments import default_views

LOWEST_PRIORITY = 19
"""The warm process's niceness: the lowest CPU priority a process can have on Linux."""

_process: Optional[subprocess.Popen] = None


def enabled() -> bool:
    """Whether `serve.py` warms at start: `IBL_WARM` unset or anything but 0/false/no/off."""
    return os.environ.get("IBL_WARM", "1").strip().lower() not in {"0", "false", "no", "off"}


def _lowest_priority() -> None:  # runs in the child between fork and exec
    os.nice(LOWEST_PRIORITY)
    try:  # Linux: the child is told to stop when the server dies, even by kill -9
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start(root: str) -> Optional[subprocess.Popen]:
    """Start `python -m engine warm --defaults` in `root` at the lowest priority, its output in
    the server's; at most once per process. None when `IBL_WARM` turns it off."""
    global _process
    if _process is None and enabled():
        _process = subprocess.Popen([sys.executable, "-m", "engine", "warm", "--defaults"],
                                    cwd=root, preexec_fn=_lowest_priority,
                                    stdin=subprocess.DEVNULL)
    return _process


def stop() -> None:
    """Stop the warm process (the server is stopping)."""
    if _process is not None and _process.poll() is None:
        _process.terminate()
        try:
            _process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _process.kill()


def running() -> bool:
    """Whether this server's warm process is still computing."""
    return _process is not None and _process.poll() is None


class Readiness(NamedTuple):
    ready: int
    total: int
    warming: bool

    @property
    def sentence(self) -> str:
        """What the home page says about it."""
        views = f"{self.ready} of {self.total} default views"
        if self.ready == self.total:
            return (f"**All {self.total} default views are ready**: each page opens at once. "
                    "Presets are computed the first time they are opened; `python -m engine "
                    "warm` computes them all before the lecture.")
        if self.warming:
            return (f"**{views} are ready.** The others are being computed in the background at "
                    "the lowest priority, so your own clicks come first; this count follows.")
        return (f"**{views} are ready**; the others are computed the first time they are opened. "
                "`python -m engine warm` computes them, and every preset, before the lecture.")


def readiness() -> Readiness:
    """How many of the pages' default views the result cache holds, and whether more are coming."""
    views = default_views().values()
    ready = sum(fn.lookup(spec) is not None for fn, spec in views)
    return Readiness(ready, len(views), running())
