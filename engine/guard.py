"""The first gate of every page view: each field of a spec must have the type of its default.

A view's spec is a frozen dataclass whose defaults say what each field holds: a whole number, a
finite number, a short word, or a tuple of such (of a fixed shape when the default has one). Before a
view's own `normalise` checks ranges, `check_types` refuses, with a sentence naming the field, any
value of another kind: `None`, a string where a number belongs, NaN or infinity, a dict, a string
of ten thousand characters. So a view's validation only ever sees values of the right kind, and a
hostile value gives a message, never a `TypeError` from deep inside. Values are shown shortened.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

MAX_WORD = 64
"""Longest string a spec field may hold (names of architectures, laws, kernels, ...)."""
MAX_ITEMS = 64
"""Longest tuple a spec field may hold."""


def shown(value: Any, most: int = 40) -> str:
    """`repr(value)`, cut to `most` characters."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def _kind(template: Any) -> str:
    if isinstance(template, bool):
        return "true or false"
    if isinstance(template, numbers.Integral):
        return "a whole number"
    if isinstance(template, numbers.Real):
        return "a finite number"
    if isinstance(template, str):
        return f"a word of at most {MAX_WORD} characters"
    if isinstance(template, tuple):
        if template and all(isinstance(t, tuple) for t in template):
            size = {1: "a single", 2: "a pair of", 3: "a triple of"}.get(len(template[0]),
                                                                      "a tuple of")
            return (f"a list in which each item is {size} "
                    f"{_kind(template[0][0]).replace('a ', '', 1)}s, like {template[0]}")
        return "a list of " + (_kind(template[0]).replace("a ", "", 1) + "s" if template
                               else "whole numbers")
    return type(template).__name__


def _coerce(value: Any, template: Any) -> Any:
    """`value` converted to the kind of `template`, or `ValueError` (message filled in by caller)."""
    if isinstance(template, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(template, numbers.Integral):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    elif isinstance(template, numbers.Real):
        if (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and math.isfinite(float(value))):
            return float(value)
    elif isinstance(template, str):
        if isinstance(value, str) and len(value) <= MAX_WORD:
            return value
    elif isinstance(template, tuple):
        if isinstance(value, (tuple, list)) and len(value) <= MAX_ITEMS:
            item = template[0] if template else 0
            return tuple(_coerce(v, item) for v in value)
    raise ValueError


def check_types(spec: Any) -> Any:
    """`spec` with every field of its dataclass coerced to the kind of the field's default (whole
    numbers stay ints, and `12.0` is refused where a whole number belongs; numbers become floats;
    lists become tuples); `ValueError` naming the first field that holds something else. Specs that are not dataclasses with defaults for every field pass
    through."""
    if not dataclasses.is_dataclass(spec) or isinstance(spec, type):
        return spec
    try:
        defaults = type(spec)()
    except TypeError:  # a field without a default: nothing to compare with
        return spec
    changes = {}
    for field in dataclasses.fields(spec):
        value, template = getattr(spec, field.name), getattr(defaults, field.name)
        try:
            changes[field.name] = _coerce(value, template)
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"`{field.name}` must be {_kind(template)}, got "
                             f"{shown(value)}.") from None
    return dataclasses.replace(spec, **changes)


# --- The time budget -----------------------------------------------------------------------------

TIME_BUDGET_ENV = "IBL_TIME_BUDGET_S"
"""Overrides every view's time budget (seconds): raise it on a bigger machine or a GPU server, lower
it on a shared one."""


def time_budget(default_s: float) -> float:
    """The most seconds a view may be estimated to take: `IBL_TIME_BUDGET_S` when set (a positive
    number), else the view's `default_s`."""
    import os

    raw = os.environ.get(TIME_BUDGET_ENV)
    if raw is None or not raw.strip():
        return float(default_s)
    try:
        budget = float(raw)
    except ValueError:
        budget = math.nan
    if not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"{TIME_BUDGET_ENV}={shown(raw)} must be a positive number of seconds, "
                         "e.g. 900.")
    return budget


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 120 else f"{seconds:.0f} s"


def refuse_if_slow(seconds: float, default_s: float, advice: str) -> None:
    """`ValueError` before any work when a view's estimated `seconds` exceed its budget
    (`time_budget(default_s)`), saying how long it would take, the limit, and `advice` (what to
    make smaller)."""
    budget = time_budget(default_s)
    if seconds > budget:
        raise ValueError(f"This view would take about {_duration(seconds)} on this machine (the "
                         f"limit is {_duration(budget)}; {TIME_BUDGET_ENV} sets it); {advice}.")
