"""A page's one engine call: from the shared cache when it is there, else computed with a progress
bar; a setting the engine refuses becomes a message on the page, never a traceback."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import streamlit as st

from engine.cache import Cached

R = TypeVar("R")


CONFIRM_ABOVE_S = 20.0
"""A computation expected to take longer than this waits for the visitor to press a button."""


def compute(fn: Cached[R], spec: Any, *, label: str, key: str | None = None) -> R:
    """`fn(spec)` through the result cache. A hit returns at once. A miss expected to take more
    than `CONFIRM_ABOVE_S` first shows the estimate and a button (`key`) that starts it; then a
    progress bar labelled `label` and the time taken. A `ValueError` from the engine (an impossible
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
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else 1.0
        bar.progress(fraction, text=f"{label}: {done} of {total} ({time.perf_counter() - start:.0f} s)")

    try:
        result = fn(spec, progress=progress)
    except ValueError as error:
        bar.empty()
        st.error(str(error), icon="🚫")
        st.stop()
    bar.empty()
    st.toast(f"{label}: computed in {time.perf_counter() - start:.1f} s and cached.")
    return result
