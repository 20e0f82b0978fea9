"""The resource guard: what every page view must pass before any work starts.

`engine.cache.Cached.normalise` runs the three gates in order, so a view is refused with a
sentence that says what to change, before any array is allocated:

1. Types. A view's spec is a frozen dataclass whose defaults say what each field holds: a whole
   number, a finite number, a short word, or a tuple of such (of a fixed shape when the default
   has one). Before a view's own `normalise` checks ranges, `check_types` refuses, with a sentence
   naming the field, any value of another kind: `None`, a string where a number belongs, NaN or
   infinity, a dict, a string of ten thousand characters. So a view's validation only ever sees
   values of the right kind, and a hostile value gives a message, never a `TypeError` from deep
   inside. Values are shown shortened.
2. Time. A view's estimated seconds on this machine against its budget (`refuse_if_slow`); each
   view has its own default budget, and `IBL_TIME_BUDGET_S` sets one for every view. A computation
   that then runs well past its estimate, or past its budget, is stopped (`overrun_after`, `Overrun`).
3. Memory. A view's estimated peak working memory (the dominant arrays it allocates: data sets,
   Gram matrices, spectra, training state, each view derives its own) against one budget for
   every view (`refuse_if_large`): `IBL_MEMORY_BUDGET_MB`, by default `DEFAULT_MEMORY_MB` but never
   more than half the machine's physical memory.

And one cap for the whole process: `max_computations()` (`IBL_MAX_COMPUTATIONS`, default 2) views
computed at once, at most one per visitor; the cache makes further callers wait for a free slot
(`engine.cache`, `engine.slots`), so a server's memory stays within about `max_computations() *
memory_budget()` above its baseline however many sessions ask for different views at once.

Environment:
    IBL_TIME_BUDGET_S      seconds, one time budget for every view (default: each view's own).
    IBL_MEMORY_BUDGET_MB   MiB, the memory budget of one view (default 4096, at most half of RAM).
    IBL_MAX_COMPUTATIONS   views computed at once in one process (default 2).
    IBL_HEARTBEAT_S        seconds between the liveness signals of a shared deployment's processes
                           (default 5; `heartbeat_s`).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Any, Optional

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


# --- Ranges --------------------------------------------------------------------------------------
# The one range check of every number a spec or an engine function takes: each view's `normalise`
# and each engine entry point call these with the field's bounds, so the rules and the sentences
# are the same everywhere.


def whole(value: Any, name: str, lowest: Optional[int] = None,
          highest: Optional[int] = None, *, what: str = "") -> int:
    """`value` as an int in `[lowest, highest]` (None: no bound on that side); `ValueError`
    naming `name` otherwise, with `what` added to the sentence. Python and numpy integers pass,
    and floats with no fraction (`8.0`); booleans do not.

    >>> whole(8.0, "d", 1), whole(3, "`k`", 1, 4)
    (8, 3)
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if highest is not None:
        if not integral or not lowest <= value <= highest:
            raise ValueError(f"{name} must be a whole number from {lowest} to {highest}{what}, "
                             f"got {shown(value)}.")
        return int(value)
    if not integral:
        raise ValueError(f"{name} must be a whole number, got {shown(value)}.")
    if lowest is not None and value < lowest:
        raise ValueError(f"{name} must be at least {lowest}, got {shown(value)}.")
    return int(value)


def number(value: Any, name: str, low: float, high: float, *, open_low: bool = False,
           what: str = "") -> float:
    """`value` as a finite float in `[low, high]` (`(low, high]` with `open_low`); `ValueError`
    naming `name` otherwise, with `what` added to the sentence (e.g. the field's unit).

    >>> number(0.5, "`ridge`", 0, 1)
    0.5
    """
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and (low < value if open_low else low <= value)
          and value <= high)
    if not ok:
        span = f"above {low:g} and at most {high:g}" if open_low else f"from {low:g} to {high:g}"
        raise ValueError(f"{name} must be a number {span}{what}, got {shown(value)}.")
    return float(value)


def positive(value: Any, name: str) -> float:
    """`value` as a finite float above 0; `ValueError` naming `name` otherwise.

    >>> positive(2, "radius")
    2.0
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number, got {shown(value)}.")
    return float(value)


def power_of_two(value: int, name: str, why: str = "") -> int:
    """`value` (a whole number >= 1) when it is a power of two; `ValueError` naming `name`, with
    `why` (the reason the view needs one) added to the sentence.

    >>> power_of_two(16, "`d_max`")
    16
    """
    if value & (value - 1):
        raise ValueError(f"{name} = {value} must be a power of two{why}.")
    return value


def bounded(default: Any, low: float, high: float, *, open_low: bool = False,
            what: str = "", label: str = "") -> Any:
    """A spec field with its range and label, declared once (a `dataclasses.field`):
    `check_ranges` refuses a value outside `[low, high]` (`(low, high]` with `open_low`), and a
    page's widget, its URL parsing and its slider bounds read the same declaration
    (`field_range`, `field_label`; `ui.state.UrlControls.field`). Whole numbers when `default` is
    an int; `what` is added to the refusal (e.g. the unit); `label` is what a person reads beside
    the widget.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Spec:
    ...     seeds: int = bounded(2, 1, 8, label="Seeds")
    >>> field_range(Spec, "seeds"), field_label(Spec, "seeds"), check_ranges(Spec(seeds=3)).seeds
    ((1, 8), 'Seeds', 3)
    """
    return dataclasses.field(default=default, metadata={
        "range": (low, high), "open_low": open_low, "what": what, "label": label})


def _field(spec: Any, name: str) -> dataclasses.Field:
    (found,) = [f for f in dataclasses.fields(spec) if f.name == name]
    return found


def field_range(spec: Any, name: str) -> tuple:
    """`(low, high)` of a `bounded` field of a spec class (or instance)."""
    return _field(spec, name).metadata["range"]


def field_label(spec: Any, name: str) -> str:
    """The label of a `bounded` field (its name when none was declared)."""
    return _field(spec, name).metadata.get("label") or name


def check_ranges(spec: Any) -> Any:
    """`spec`, with each `bounded` field checked against its range (`whole` or `number`, naming the
    field); `ValueError` at the first one outside."""
    for f in dataclasses.fields(spec):
        if "range" not in f.metadata:
            continue
        low, high = f.metadata["range"]
        value, name = getattr(spec, f.name), f"`{f.name}`"
        if isinstance(f.default, int):
            whole(value, name, low, high, what=f.metadata["what"])
        else:
            number(value, name, low, high, open_low=f.metadata["open_low"],
                   what=f.metadata["what"])
    return spec


# --- The time budget -----------------------------------------------------------------------------

TIME_BUDGET_ENV = "IBL_TIME_BUDGET_S"
"""Overrides every view's time budget (seconds): raise it on a bigger machine or a GPU server, lower
it on a shared one."""


def time_budget(default_s: float) -> float:
    """The most seconds a view may be estimated to take: `IBL_TIME_BUDGET_S` when set (a positive
    number), else the view's `default_s`."""
    budget = positive_setting(TIME_BUDGET_ENV, "seconds", "900")
    return float(default_s) if budget is None else budget


def positive_setting(name: str, unit: str, example: str) -> Optional[float]:
    """The positive number in the environment variable `name`, None when it is unset or blank;
    `ValueError` with a sentence for anything else."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={shown(raw)} must be a positive number of {unit}, e.g. {example}.")
    return value


HEARTBEAT_ENV = "IBL_HEARTBEAT_S"
DEFAULT_HEARTBEAT_S = 5.0


def heartbeat_s() -> float:
    """Seconds between the signs of life of a shared deployment's processes (`IBL_HEARTBEAT_S`, a
    positive number, else `DEFAULT_HEARTBEAT_S`): a process holding a view's lock in the shared
    cache renews it (`engine.redis_store`), and a worker running a job beats (`engine.jobs`), this
    often. One that misses three in a row is taken for dead: its lock expires, its job is
    abandoned and given to the next worker. Lower it where a lost process must be noticed sooner;
    give every process of a deployment the same value."""
    seconds = positive_setting(HEARTBEAT_ENV, "seconds", "5")
    return DEFAULT_HEARTBEAT_S if seconds is None else seconds


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


class Overrun(ValueError):
    """A computation stopped because it ran well past its estimate or its budget (`overrun_after`);
    its message says how long it ran and what to do."""


OVERRUN_FACTOR = 4.0
OVERRUN_MARGIN_S = 60.0
"""A computation is stopped once it has run `OVERRUN_FACTOR` times its estimate, and at least
`OVERRUN_MARGIN_S` past it, or past its budget. Generous on purpose: estimates hold within 1.5x
on an idle machine, but the load can change after a computation starts (the test suite's two
workers made a 9 s view take 41 s), and short views are mostly overhead."""


def overrun_after(estimated_s: Optional[float], default_s: Optional[float]) -> Optional[float]:
    """Seconds after which a computation estimated at `estimated_s` (on this machine now) with the
    budget `time_budget(default_s)` is stopped: `max(OVERRUN_FACTOR * e, e + OVERRUN_MARGIN_S)`,
    but no later than its budget, or `OVERRUN_MARGIN_S` past its estimate when that is later
    (None: neither is known, never stopped)."""
    budget = None if default_s is None else time_budget(default_s)
    if estimated_s is None:
        return budget
    limit = max(OVERRUN_FACTOR * estimated_s, estimated_s + OVERRUN_MARGIN_S)
    return limit if budget is None else min(limit, max(budget, estimated_s + OVERRUN_MARGIN_S))


def overrun_message(ran_s: float, estimated_s: Optional[float], advice: str) -> str:
    """The sentence of an `Overrun`."""
    expected = ("" if estimated_s is None else
                f", about {_duration(estimated_s)} was expected on this machine")
    return (f"Stopped after {_duration(ran_s)}{expected}: the machine is busier than it looked, or "
            f"this view is slower here than estimated. Nothing was kept; try again later or "
            f"{advice}.")


# --- The memory budget ---------------------------------------------------------------------------

MEMORY_BUDGET_ENV = "IBL_MEMORY_BUDGET_MB"
"""Overrides the memory budget of every view (MiB): raise it on a machine with more memory (or a GPU
server whose host holds the arrays), lower it on a shared one."""
DEFAULT_MEMORY_MB = 4096
"""The memory budget of one view when `IBL_MEMORY_BUDGET_MB` is not set, unless half the machine's
physical memory is less."""
RUNTIME_BYTES = 64 * 2**20
"""Memory a view needs beyond its arrays, part of every view's estimate: compiling its JAX programs
and the interpreter's temporaries (measured: 11 MiB for the largest sphere view, whose arrays take
a few MiB, and about 40 MiB for the programs of a pooled CNN's kernel)."""


def physical_memory() -> Optional[int]:
    """Bytes of physical memory (`os.sysconf`), or None where the system does not say."""
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return pages * page_size if pages > 0 and page_size > 0 else None


def memory_budget() -> int:
    """The most bytes a view may be estimated to need: `IBL_MEMORY_BUDGET_MB` MiB when set (a
    positive number), else `DEFAULT_MEMORY_MB` MiB or half the physical memory, whichever is
    less."""
    megabytes = positive_setting(MEMORY_BUDGET_ENV, "MiB", "8192")
    if megabytes is not None:
        return int(megabytes * 2**20)
    default, physical = DEFAULT_MEMORY_MB * 2**20, physical_memory()
    return default if physical is None else min(default, physical // 2)


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


def refuse_if_large(nbytes: float, advice: str) -> None:
    """`ValueError` before any work when a view's estimated peak memory `nbytes` exceeds
    `memory_budget()`, saying how much it would need, the limit, and `advice` (what to make
    smaller)."""
    budget = memory_budget()
    if nbytes > budget:
        raise ValueError(f"This view would need about {_size(nbytes)} of memory (the limit is "
                         f"{_size(budget)}; {MEMORY_BUDGET_ENV} sets it); {advice}.")


# --- Concurrent computations ---------------------------------------------------------------------

MAX_COMPUTATIONS_ENV = "IBL_MAX_COMPUTATIONS"
DEFAULT_MAX_COMPUTATIONS = 2


def max_computations() -> int:
    """How many views one process computes at once: `IBL_MAX_COMPUTATIONS` when set (a positive
    whole number), else `DEFAULT_MAX_COMPUTATIONS`."""
    raw = os.environ.get(MAX_COMPUTATIONS_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_COMPUTATIONS
    try:
        count = int(raw.strip())
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{MAX_COMPUTATIONS_ENV}={shown(raw)} must be a positive whole number of "
                         "computations, e.g. 2.")
    return count
