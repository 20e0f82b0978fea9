"""Controls mirrored in the URL query string, so that a view can be shared by its link.

On a page's first run in a browser session each control takes its value from the query string when
that value parses and lies in range; otherwise from its default, with a warning that names the
parameter and says what was expected. Nothing typed in the URL is evaluated: each value is parsed
as an integer, a finite float or one of a fixed set of words. After the controls are drawn,
`finish()` writes the current values back to the query string.

Values live in `st.session_state` under a page-prefixed key, and a copy is kept per page so a
control hidden in one view (and so dropped by Streamlit) comes back with its value in the next.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import streamlit as st

from engine.guard import field_label, field_range
from ui.links import REFUSED_SENTENCE, refused

_SAVED = "_url_controls"
_LOADED = "_url_loaded"


def _int_parser(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected a whole number from {lo} to {hi}") from None
        if not lo <= value <= hi:
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        return value
    return parse


def _float_parser(lo: float, hi: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"expected a number from {lo:g} to {hi:g}")
        return value
    return parse


def _choice_parser(options: Sequence[Any]) -> Callable[[str], Any]:
    by_text = {str(option): option for option in options}

    def parse(raw: str) -> Any:
        if raw.strip() not in by_text:
            raise ValueError("expected one of " + ", ".join(by_text))
        return by_text[raw.strip()]
    return parse


class UrlControls:
    """Sidebar controls of one page, each mirrored in the URL under its `name`.

    Example:
        controls = UrlControls("eig")
        d = controls.slider("d", "Input dimension d", 2, 20, default=12)
        controls.finish()
    """

    def __init__(self, page: str, *, container=None):
        self.page = page
        self.where = container if container is not None else st.sidebar
        self.first = page not in st.session_state.setdefault(_LOADED, set())
        self.saved: dict[str, Any] = st.session_state.setdefault(_SAVED, {}).setdefault(page, {})
        self.values: dict[str, str] = {}
        self.warnings: list[str] = []
        self._presets = st.container()  # in the page, under its introduction: room for long names
        self._alerts = st.container()
        if self.first and refused(st.query_params):
            self.warnings.append(REFUSED_SENTENCE)

    # -- value bookkeeping -------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return f"{self.page}.{name}"

    def _prepare(self, name: str, default: Any, parse: Callable[[str], Any],
                 valid: Callable[[Any], bool]) -> str:
        """Put the control's starting value in session state (URL, then saved copy, then default)."""
        key = self._key(name)
        if key in st.session_state and valid(st.session_state[key]):
            return key
        value = self.saved.get(name, default)
        if self.first and name in st.query_params:
            raw = st.query_params[name]
            try:
                value = parse(raw)
            except ValueError as error:
                # In a code span: a backtick or a line break would end it and render the rest
                # as the visitor's Markdown (links, images, headings).
                shown = "".join(c if c.isprintable() and c != "`" else "?" for c in raw[:40])
                shown += "..." if len(raw) > 40 else ""
                self.warnings.append(f"URL parameter `{name}={shown}` ignored ({error}); "
                                     f"using {default}.")
                value = default
        if not valid(value):
            value = default
        st.session_state[key] = value
        return key

    def _record(self, name: str, value: Any) -> Any:
        self.saved[name] = value
        self.values[name] = str(value)
        return value

    # -- controls ----------------------------------------------------------------------------------
    def radio(self, name: str, label: str, options: Mapping[str, str], *, default: str,
              help: str | None = None, horizontal: bool = True) -> str:
        """Radio buttons over `options` (URL value -> label); returns the chosen URL value."""
        values = list(options)
        key = self._prepare(name, default, _choice_parser(values), lambda v: v in options)
        value = self.where.radio(label, values, key=key, format_func=options.__getitem__,
                                 help=help, horizontal=horizontal)
        return self._record(name, value)

    def selectbox(self, name: str, label: str, options: Mapping[str, str], *, default: str,
                  help: str | None = None) -> str:
        values = list(options)
        key = self._prepare(name, default, _choice_parser(values), lambda v: v in options)
        value = self.where.selectbox(label, values, key=key, format_func=options.__getitem__,
                                     help=help)
        return self._record(name, value)

    def slider(self, name: str, label: str, lo: int, hi: int, *, default: int, step: int = 1,
               help: str | None = None) -> int:
        """Integer slider on `lo..hi`; a remembered value outside a narrowed range is clamped."""
        key = self._key(name)
        if key in st.session_state and isinstance(st.session_state[key], int):
            st.session_state[key] = min(max(st.session_state[key], lo), hi)
        elif name in self.saved:
            self.saved[name] = min(max(self.saved[name], lo), hi)
        key = self._prepare(name, min(max(default, lo), hi), _int_parser(lo, hi),
                            lambda v: isinstance(v, int) and lo <= v <= hi)
        if lo == hi:  # Streamlit refuses a slider with one value
            self.where.markdown(f"{label}: **{lo}**")
            return self._record(name, lo)
        value = self.where.slider(label, lo, hi, key=key, step=step, help=help)
        return self._record(name, int(value))

    def select_slider(self, name: str, label: str, options: Sequence[int], *, default: int,
                      help: str | None = None) -> int:
        """A slider over a fixed list of whole numbers (e.g. powers of two)."""
        key = self._prepare(name, default, _choice_parser(list(options)), lambda v: v in options)
        value = self.where.select_slider(label, list(options), key=key, help=help)
        return self._record(name, value)

    def number(self, name: str, label: str, lo: float, hi: float, *, default: float,
               step: float, help: str | None = None) -> float:
        """A float input on `[lo, hi]`."""
        key = self._prepare(name, float(default), _float_parser(lo, hi),
                            lambda v: isinstance(v, float) and lo <= v <= hi)
        value = self.where.number_input(label, min_value=float(lo), max_value=float(hi),
                                        step=float(step), key=key, help=help, format="%g")
        return self._record(name, float(value))

    def field(self, name: str, spec: Any, field: str, *, lo: float | None = None,
              hi: float | None = None, default: Any = None, step: float | None = None,
              label: str | None = None, help: str | None = None) -> Any:
        """The widget of a `guard.bounded` field of `spec` (a view's spec instance): its label,
        range and default read from the field's one declaration. A whole-number field is a
        slider, a number field a number input (`step` needed). `lo`/`hi` narrow the range for
        this page (never widen it); `default` overrides the spec's value, `label` the declared
        label (where the field means something more specific on this view)."""
        low, high = field_range(spec, field)
        lo = low if lo is None else lo
        hi = high if hi is None else hi
        assert low <= lo and hi <= high, f"{field}: the page may only narrow [{low}, {high}]"
        default = getattr(spec, field) if default is None else default
        label = field_label(spec, field) if label is None else label
        if isinstance(getattr(type(spec)(), field), int):
            return self.slider(name, label, int(lo), int(hi), default=default, help=help)
        if step is None:
            raise TypeError(f"{field}: a number field needs a step")
        return self.number(name, label, lo, hi, default=default, step=step, help=help)

    def multiselect(self, name: str, label: str, options: Mapping[str, str], *,
                    default: Sequence[str], most: int, help: str | None = None) -> list[str]:
        """Several of `options` (URL value -> label), at least one and at most `most`; the URL
        holds the chosen values joined by commas."""
        def parse(raw: str) -> list[str]:
            chosen = [part.strip() for part in raw.split(",") if part.strip()]
            if not 1 <= len(chosen) <= most or len(set(chosen)) < len(chosen) or any(
                    part not in options for part in chosen):
                raise ValueError(f"expected 1 to {most} distinct values among "
                                 + ", ".join(list(options)[:12])
                                 + (", ..." if len(options) > 12 else ""))
            return chosen

        def valid(value: Any) -> bool:
            return (isinstance(value, list) and 1 <= len(value) <= most
                    and all(v in options for v in value))

        kept = [v for v in default if v in options] or list(options)[:1]
        key = self._key(name)
        if key in st.session_state and isinstance(st.session_state[key], list):
            # Options depend on other controls: keep what is still offered.
            st.session_state[key] = [v for v in st.session_state[key] if v in options]
            if not st.session_state[key]:
                del st.session_state[key]
        key = self._prepare(name, kept, parse, valid)
        value = self.where.multiselect(label, list(options), key=key,
                                       format_func=options.__getitem__, max_selections=most,
                                       help=help)
        if not value:  # an empty choice is no view: fall back to the default
            value = kept
        self.saved[name] = list(value)
        self.values[name] = ",".join(value)
        return list(value)

    def presets(self, label: str, presets: Any, values: Callable[[Any], Mapping[str, Any]], *,
                help: str | None = None) -> None:
        """Named views as a row of one-click pills above the charts (the sidebar is too narrow for
        names such as "Fig. 2 · Wang & Wu 2023: ..."): a click sets the controls that
        `values(record)` gives (by URL name) for that preset's record (`engine.presets.Preset`:
        title, spec, note, controls) and reruns.

        No pill stays selected (the callback clears the choice), so clicking the same preset
        again after moving a control applies it again. Pills take one tooltip for the whole row:
        it lists each preset's note (what the paper's figure or result shows).
        """
        key = self._key("_preset")
        table = {title: values(presets.record(title)) for title in presets}

        def apply() -> None:
            chosen = st.session_state.get(key)
            for name, value in table.get(chosen, {}).items():
                st.session_state[self._key(name)] = value
                self.saved[name] = value
            st.session_state[key] = None

        lines = [f"- **{title}**: {note}" for title, note in presets.notes.items()]
        tooltip = "\n".join(lines + ([f"\n{help}"] if help else [])) or None
        self._presets.pills(label, list(table), selection_mode="single", default=None, key=key,
                            on_change=apply, help=tooltip)

    # -- end of the controls -----------------------------------------------------------------------
    def finish(self) -> None:
        """Show the warnings about the URL and write the current values to the query string
        (parameters of controls not drawn in this view are dropped)."""
        for warning in self.warnings:
            self._alerts.warning(warning, icon="⚠️")
        st.session_state[_LOADED].add(self.page)
        # get_all: a key given twice (`k=5&k=1`) reads as its last value but must still go.
        if {name: st.query_params.get_all(name) for name in st.query_params} != {
                name: [value] for name, value in self.values.items()}:
            st.query_params.from_dict(self.values)
