"""A page's one engine call: from the shared cache when it is there, else computed with a progress
bar; a setting the engine refuses becomes a message on the page, never a traceback."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import time
from typing import Any, Callable, Iterator, Optional, TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from engine.cache import Cached, computation_slots, degraded, last_notice, last_saved
from engine.slots import Queued
from ui.layout import frame

R = TypeVar("R")


CONFIRM_ABOVE_S = 20.0
"""A computation expected to take longer than this waits for the visitor to press a button."""
FRAME_EVERY_S = 1.0
"""Partial results are drawn at most this often (each frame sends every chart again)."""


XSRF_COOKIE = "_streamlit_xsrf"


def visitor() -> str:
    """Who this session computes for (`engine.slots`' owner): the browser, so that its tabs share
    one computation slot. Streamlit's XSRF cookie is set once per browser and sent by every tab
    (tornado's form `2|mask|masked token|time`, the token the same under each tab's mask); without
    it (XSRF protection off), the session. Only a digest is kept."""
    raw = st.context.cookies.get(XSRF_COOKIE)
    parts = raw.split("|") if isinstance(raw, str) else []  # (no browser, as in AppTest: none)
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        who = bytes(b ^ mask[i % 4] for i, b in enumerate(masked)) if len(mask) == 4 else b""
    except (IndexError, ValueError):
        who = b""
    if not who:
        ctx = get_script_run_ctx()
        who = f"session:{ctx.session_id if ctx else ''}".encode()
    return hashlib.sha256(who).hexdigest()[:16]


def queue_text(label: str, queued: Queued) -> str:
    """The progress bar's line while a computation waits for a slot."""
    if queued.mine:
        return (f"{label}: waiting for your other computation (another tab of this browser) to "
                "end; each visitor runs one at a time.")
    busy = f"{queued.running} running"
    if queued.ahead == 0:
        return f"{label}: next in the queue ({busy}); it starts when one of them ends."
    return (f"{label}: waiting, {queued.ahead} ahead of you in the queue ({busy}); it starts "
            "when a computation ends.")


@contextlib.contextmanager
def slot() -> Iterator[None]:
    """One computation slot (`engine.slots`) for a short piece of work that is not a cached view
    (a chunk of live training): this visitor's one slot, held for the body only, so a session
    that trains step by step never holds more than one and never for long."""
    with computation_slots().hold(visitor()):
        yield


def compute(fn: Cached[R], spec: Any, *, label: str, key: str | None = None,
            preview: Optional[Callable[[R], None]] = None) -> R:
    """`fn(spec)` through the result cache. A hit returns at once. A miss expected to take more
    than `CONFIRM_ABOVE_S` first shows the estimate and a button (`key`) that starts it; then a
    progress bar labelled `label` and the time taken. While it computes, a view that reports its
    results as they come (`fn.streams`) is drawn by `preview` (the page's charts) under the bar
    from its first results, and again as more arrive; that frame is removed once the result is
    returned, for the page to draw it in full. While it waits for a computation slot the bar says
    where it stands in the queue (one computation per visitor, `visitor`). A computation that
    runs well past its estimate is stopped by the engine (`engine.guard.Overrun`) with a
    sentence. A `ValueError` from the engine (an impossible
    setting, refused before any work) is shown as an error and the page stops there."""
    try:
        result = fn.lookup(spec)
        seconds = None if result is not None else fn.estimate_seconds(spec)
    except ValueError as error:
        st.error(str(error), icon="🚫")
        st.stop()
    if result is not None:
        return result
    if seconds is not None and seconds > CONFIRM_ABOVE_S:
        ask = st.empty()  # cleared once pressed: the charts replace the question
        with ask.container():
            st.info(f"This view is not cached yet: training it takes about {seconds / 60:.1f} "
                    "minutes on this machine. Stop it at any time with the Stop button at the top "
                    "right.")
            pressed = st.button(f"{label} (about {seconds / 60:.1f} min)",
                                key=key or f"run.{fn.name}", type="primary",
                                icon=":material/play_arrow:")
        if not pressed:
            st.stop()
        ask.empty()
    bar = st.progress(0.0, text=f"{label}...")
    frames, drawn, frame_at = st.empty(), itertools.count(), [-FRAME_EVERY_S]
    start = time.perf_counter()

    def waiting(queued: Queued) -> None:
        bar.progress(0.0, text=queue_text(label, queued))

    def progress(done: int, total: int) -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else 1.0
        bar.progress(fraction, text=f"{label}: {done} of {total} ({time.perf_counter() - start:.0f} s)")

    def partial(view: R) -> None:
        now = time.perf_counter()
        if now - frame_at[0] < FRAME_EVERY_S:
            return
        frame_at[0] = now
        with frames.container(), frame(next(drawn)):
            st.caption("First results, drawn as they come: the charts fill in as the rest of "
                       "the view is computed.")
            preview(view)

    try:
        result = fn(spec, progress=progress,
                    partial=partial if preview is not None and fn.streams else None,
                    owner=visitor(), waiting=waiting)
    except ValueError as error:
        bar.empty()
        frames.empty()
        st.error(str(error), icon="🚫")
        st.stop()
    bar.empty()
    frames.empty()
    seconds = time.perf_counter() - start
    if last_notice():
        st.warning(last_notice(), icon="🖥️")
    if last_saved():
        st.toast(f"{label}: computed in {seconds:.1f} s and cached.")
    else:
        st.warning(f"{label}: computed in {seconds:.1f} s, but not saved to the result cache, so "
                   f"it will be computed again next time. {degraded() or 'The disk may be full.'}",
                   icon="💾")
    return result
