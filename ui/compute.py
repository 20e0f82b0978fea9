"""A page's one engine call: from the shared cache when it is there, else computed with a progress
bar; a setting the engine refuses becomes a message on the page, never a traceback."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import streamlit as st

from engine.cache import Cached

R = TypeVar("R")


def compute(fn: Cached[R], spec: Any, *, label: str) -> R:
    """`fn(spec)` through the result cache. A hit returns at once; a miss shows a progress bar
    labelled `label` and the time taken. A `ValueError` from the engine (an impossible setting,
    refused before any work) is shown as an error and the page stops there."""
    try:
        result = fn.lookup(spec)
    except ValueError as error:
        st.error(str(error), icon="🚫")
        st.stop()
    if result is not None:
        return result
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
