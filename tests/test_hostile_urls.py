"""Bad input, systematically, through the pages' URLs (hypothesis + AppTest): every page of
`app.py`, in each of its views, opened with a query string built from its real parameter names and
unknown ones, holding random and hostile values (huge, negative, NaN, floats for integers, empty,
10,000 characters, unicode, markup, Python code, comma lists of garbage) and valid values (so
combinations the engine refuses as too large are reached). For every example:

- the run raises nothing, and shows its charts, a warning or error, or the button that starts a
  long computation (a clean fallback);
- no computation starts that the resource guard would refuse: every call of a view's raw
  computation (`engine.cache.Cached.fn`, recorded here) gets a spec that passes the view's
  `normalise`, and one estimated above `ui.compute.CONFIRM_ABOVE_S` runs only after its button;
- nothing typed is evaluated (a code payload's file never appears), and a value echoed in a
  warning stays inside its code span (no markup of the visitor's making);
- the URL after the run is a clean shared link: only the names of controls the page drew, each
  holding the value the control shows, valid for it; opened again it warns of nothing and stays
  the same.

Parameter names and valid values are discovered from the pages' own runs (default URL of each
view, and of each choice of its menus), so the test follows the pages as they change.

Cost: the raw computations are replaced by a recorder. Before the examples, a cheap URL per view
(`ANCHORS`, or the view's defaults) is computed for real into a cache private to this module, so
examples that land on it draw their charts from real result objects; any other spec the page
starts is recorded and answered with a `ValueError`, which the page shows as an error.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import engine.experiments
from apptest_helpers import url
from engine.cache import Cached
from ui.compute import CONFIRM_ABOVE_S

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300  # seconds for one run: the anchors compute (and compile) for real
EXAMPLES = int(os.environ.get("IBL_HOSTILE_EXAMPLES", "25"))
"""Examples per view: about 0.4 s each (a run, a run of the resulting link, perhaps a click). The
examples are drawn afresh on every run (no example database, not derandomised), so successive CI
runs search different URLs. Set `IBL_HOSTILE_EXAMPLES` higher for a longer search."""
ANCHOR_MAX_S = 30.0
"""An anchor is computed for real only when its estimate is below this."""
SKIPPED = "[hostile-URL test] computation skipped: "

ANCHORS = {
    ("universality", "samples"): {"d_min": "4", "d_max": "4", "n_max": "64", "seeds": "1",
                                  "steps": "250", "channels": "1", "width": "16"},
    ("universality", "depth"): {"s": "2", "depth_d": "4", "max_channels": "4", "n_train": "64",
                                "depth_seeds": "1", "depth_steps": "250"},
    ("depth_separation", "dimension"): {"d_min": "2", "d_max": "2", "n_train": "256",
                                        "steps": "100", "seeds": "1", "features": "16",
                                        "width": "2"},
    ("depth_separation", "width"): {"w_d": "2", "w_min": "2", "w_max": "2", "n_train": "256",
                                    "steps": "100", "seeds": "1"},
    ("learning_curves", "locality"): {"d": "10", "k": "2", "max_depth": "1", "lr_width": "16",
                                      "lr_n_min": "64", "lr_n_max": "256", "lr_seeds": "1",
                                      "lr_steps": "250"},
    ("learning_curves", "theory"): {"th_arch": "mlp", "th_d": "4", "th_depth": "1",
                                    "target": "k_local", "th_k": "1", "th_n_max": "256",
                                    "th_seeds": "1"},
    ("learning_curves", "live"): {"lv_d": "6", "lv_width": "32", "lv_n": "32"},
}
"""A URL per (page, view) that computes in seconds; views not listed use their defaults (the
Eigenstructure page's are cheap)."""

EMBED_KEYS = {"embed", "embed_options"}
"""Streamlit's own query parameters: it keeps them in the URL, whatever the page does."""


def _pages() -> list[str]:
    """The page files `app.py` routes to (its `PAGES`, read without running it)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES"
                                                for t in node.targets):
            return [str(ROOT / page["path"]) for page in ast.literal_eval(node.value)]
    raise AssertionError("app.py has no PAGES")


PAGES = _pages()


def _cached_views() -> list[Cached]:
    """Every cached view of `engine.experiments`."""
    return list(engine.experiments.cached_views().values())


# --- The recorder of computations -----------------------------------------------------------------

class _Recorder:
    """Stands in for each view's raw computation: records `(view, spec)`; computes for real only
    while `real` is set and the estimate is below `ANCHOR_MAX_S`, otherwise refuses with
    `SKIPPED` (shown by the page as an error)."""

    def __init__(self, views: list[Cached]):
        self.views = views
        self.calls: list[tuple[Cached, Any]] = []
        self.real = False
        self._originals = {id(view): view.fn for view in views}
        for view in views:
            view.fn = self._stand_in(view, view.fn)

    def _stand_in(self, view: Cached, original):
        def record(spec, *, progress=None):
            self.calls.append((view, spec))
            seconds = view.estimate_seconds(spec)
            if self.real and (seconds is None or seconds <= ANCHOR_MAX_S):
                return original(spec, progress=progress)
            raise ValueError(SKIPPED + view.name)
        return record

    def restore(self) -> None:
        for view in self.views:
            view.fn = self._originals[id(view)]


# --- Discovery of the pages' parameters -----------------------------------------------------------

WIDGET_KINDS = ("radio", "selectbox", "multiselect", "select_slider", "slider", "number_input")


@dataclasses.dataclass
class Param:
    """One URL parameter: its control's kind and what the control accepts."""
    kind: str  # one of WIDGET_KINDS, or "fixed" (a slider with one value, drawn as text)
    choices: list = dataclasses.field(default_factory=list)
    lo: float = math.inf
    hi: float = -math.inf
    most: int = 1

    def merge(self, other: "Param") -> None:
        self.choices += [c for c in other.choices if c not in self.choices]
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        self.most = max(self.most, other.most)


@dataclasses.dataclass
class PageInfo:
    path: str
    prefix: str
    views: dict  # view name (None for a page without views) -> {name: Param}
    defaults: dict  # view name -> the URL of its default run

    @property
    def stem(self) -> str:
        return Path(self.path).stem

    def names(self) -> set:
        return {name for params in self.views.values() for name in params}


def _open(page: str, query: Mapping[str, Any]) -> AppTest:
    at = AppTest.from_file(page, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    return at


def _widgets(at: AppTest) -> dict:
    """`key -> (kind, widget)` for the controls a run drew."""
    return {w.key: (kind, w) for kind in WIDGET_KINDS for w in getattr(at, kind) if w.key}


def _choices(kind: str, widget) -> list[str]:
    """The URL values a choice control accepts: the keys of the mapping whose `__getitem__`
    labels its options (how `ui.state.UrlControls` draws them), else the options as shown."""
    owner = getattr(widget.format_func, "__self__", None) if kind != "select_slider" else None
    return [str(o) for o in owner] if isinstance(owner, Mapping) else list(widget.options)


def _param(kind: str, widget) -> Param:
    if kind in ("radio", "selectbox", "select_slider"):
        return Param(kind, _choices(kind, widget))
    if kind == "multiselect":
        return Param(kind, _choices(kind, widget), most=widget.max_selections or 1)
    return Param(kind, lo=widget.min, hi=widget.max)


def _prefix(at: AppTest) -> str:
    names = set(url(at))
    prefixes = {key.split(".", 1)[0] for key in _widgets(at)
                if "." in key and key.split(".", 1)[1] in names}
    assert len(prefixes) == 1, f"expected one widget-key prefix, found {prefixes}"
    return prefixes.pop()


def _collect(at: AppTest, prefix: str, params: dict) -> None:
    widgets = _widgets(at)
    for name, value in url(at).items():
        found = widgets.get(f"{prefix}.{name}")
        param = _param(*found) if found else Param("fixed", [value])
        if name in params:
            params[name].merge(param)
        else:
            params[name] = param


def _discover(page: str) -> PageInfo:
    """Each view's parameters, from its default run and one run per choice of each of its menus
    (which shows the controls that depend on them)."""
    at = _open(page, {})
    assert not at.exception, [e.value for e in at.exception]
    prefix = _prefix(at)
    radio = _widgets(at).get(f"{prefix}.view")
    views: dict = {}
    defaults: dict = {}
    for view in (_choices(*radio) if radio else [None]):
        base = {"view": view} if view is not None else {}
        params: dict = {}
        at = _open(page, base)
        defaults[view] = url(at)
        _collect(at, prefix, params)
        for name, param in list(params.items()):
            if param.kind in ("radio", "selectbox") and name != "view":
                for choice in param.choices:
                    _collect(_open(page, {**base, name: choice}), prefix, params)
        views[view] = params
    return PageInfo(page, prefix, views, defaults)


# --- Strategies -----------------------------------------------------------------------------------

def _code_payloads(marker: Path) -> list[str]:
    return [f"__import__('os').system('touch {marker}')",
            f"open('{marker}', 'w').write('x')",
            f"__import__('pathlib').Path('{marker}').touch()",
            "eval('1+1')", "exec('import os')", "{{7*7}}", "${7*7}", "'; DROP TABLE runs; --"]


FIXED_HOSTILE = [
    # huge
    "1e30", str(10 ** 30), str(2 ** 200), "9" * 400, "1e308", "1e309", "9" * 10_000,
    # negative and zero
    "-1", "-0", "-5", "-1e9", "-0.0", "0", "0.0", "00", "-2", "-64",
    # NaN and infinities
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "+inf", "INF", "1e999",
    # floats where integers belong, other spellings
    "2.5", "12.0", "1e1", "0x10", "1_000", " 8 ", "+4", "4.", ".5", "0b11", "1/2", "2**10",
    # empty and long
    "", " ", "x" * 10_000, "é" * 10_000, "1," * 5_000,
    # unicode
    "é", "日本", "🙂", "١٢", "１２", "\u202e12", "\x00", "Ω≈ç√", "\ufeff4",
    # markup and script
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold**", "`code`",
    "[link](https://example.com)", "![x](https://example.com/x.png)", "$x^2$", ":red[x]",
    "\n\n# heading", "a`b`c", "```", "`` `", "x\n\n[a](https://example.com)",
    "`[click](https://example.com)`", "javascript:alert(1)", "%3Cscript%3E", "&amp;", "a&b=c",
    # comma lists of garbage (multiselect parameters)
    ",", ",,,", "2-2,2-2", "2-2,,2-16", "a,b,c", "1-0,1-0,1-0", "0-0,99-99", "-1--1",
    "2-2,2-16,3-3,4-4,5-5,6-6,7-7,8-8,9-9", "nan,inf", "<script>,</script>", "2-2;2-16",
]

UNKNOWN_KEYS = ["foo", "VIEW", "View", " view", "view ", "d[]", "__proto__", "constructor",
                "_preset", "embed", "embed_options", "x" * 10_000, "<script>alert(1)</script>",
                "__import__('os')", "page", "url", "日本", "a b", "%20", ""]

_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


def _hostile(marker: Path):
    garbage = st.one_of(st.sampled_from(FIXED_HOSTILE), _TEXT,
                        st.integers(-10 ** 3, 10 ** 3).map(str))
    return st.one_of(
        st.sampled_from(FIXED_HOSTILE),
        st.sampled_from(_code_payloads(marker)),
        st.integers(-10 ** 40, 10 ** 40).map(str),
        st.floats().map(repr),
        _TEXT,
        st.lists(garbage, min_size=2, max_size=6).map(",".join),
    )


def _valid(param: Param):
    """Values the control offers (dependent controls may still refuse them)."""
    if param.kind == "multiselect":
        return st.lists(st.sampled_from(param.choices), min_size=1,
                        max_size=max(param.most, 1), unique=True).map(",".join)
    if param.kind == "slider":
        return st.integers(int(param.lo), int(param.hi)).map(str)
    if param.kind == "number_input":
        return st.floats(param.lo, param.hi, allow_nan=False).map(repr)
    return st.sampled_from(param.choices)


def _one_or_repeated(values):
    """A value, or the same key given two or three times (the page reads the last)."""
    return st.one_of(values, values, values, st.lists(values, min_size=2, max_size=3))


@st.composite
def queries(draw, info: PageInfo, view, marker: Path) -> dict:
    """A query string for `view` of the page, in one of four shapes: a cheap valid URL with noise
    (unknown keys and other views' keys), some keys changed to valid or hostile values, every key
    hostile, or every key valid."""
    params = info.views[view]
    known = sorted(params)
    other_names = sorted(info.names() - set(params))
    unknown = st.one_of(st.sampled_from(UNKNOWN_KEYS),
                        _TEXT.filter(lambda k: k not in info.names()))
    noise_keys = st.one_of(unknown, st.sampled_from(other_names)) if other_names else unknown
    hostile = _hostile(marker)
    base_view = {"view": view} if view is not None else {}
    anchor = {**base_view, **ANCHORS.get((info.stem, view), {})}
    # The simplest example, which Hypothesis tries first, is the anchor URL itself: one example
    # at least draws the charts from a real result.
    shape = draw(st.sampled_from(["noise", "some", "noise", "some", "all_hostile", "all_valid"]))
    if shape == "all_hostile":
        query = {name: draw(_one_or_repeated(hostile)) for name in known}
        if view is not None and draw(st.booleans()):
            query["view"] = view
    elif shape == "all_valid":
        query = {**base_view, **{name: draw(_valid(params[name])) for name in known
                                 if name != "view"}}
    else:
        base = draw(st.sampled_from([anchor, anchor, info.defaults[view], base_view]))
        query = dict(base)
        if shape == "some":
            for name in draw(st.lists(st.sampled_from(known), min_size=1, max_size=6,
                                      unique=True)):
                query[name] = draw(_one_or_repeated(st.one_of(_valid(params[name]), hostile)))
        for _ in range(draw(st.integers(0, 3))):
            query[draw(noise_keys)] = draw(_one_or_repeated(hostile))
    return query


# --- Checks ---------------------------------------------------------------------------------------

URL_WARNING = re.compile(r"URL parameter `([^`\r\n]*)` ignored \(")


def _check_calls(calls: list, *, confirmed: bool) -> None:
    """Every computation started got a spec the view's guard accepts, and one estimated above
    the confirmation threshold only after its button was pressed."""
    for view, spec in calls:
        try:
            normal = view.normalise(spec)
        except ValueError as error:
            pytest.fail(f"{view.name} started on a spec its guard refuses ({error}): {spec}")
        assert normal == spec, f"{view.name} started on a spec its normalise changes: {spec}"
        seconds = view.estimate_seconds(spec)
        if not confirmed:
            assert seconds is None or seconds <= CONFIRM_ABOVE_S, (
                f"{view.name} started a {seconds:.0f} s computation without confirmation: {spec}")


def _value_text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _check_link(at: AppTest, info: PageInfo) -> dict:
    """The URL after a run holds only names of the page's controls, each with the value its
    control shows, valid for it."""
    link = url(at)
    widgets = _widgets(at)
    for name, value in link.items():
        if name.lower() in EMBED_KEYS:
            continue
        assert isinstance(value, str), f"`{name}` is given more than once in the link: {value}"
        found = widgets.get(f"{info.prefix}.{name}")
        if found is None:  # a slider with a single value, drawn as text
            assert name in info.names(), f"unknown key `{name[:40]}` kept in the link"
            assert re.fullmatch(r"-?[0-9]+", value), f"`{name}={value[:40]}` in the link"
            continue
        kind, widget = found
        assert value == _value_text(widget.value), (
            f"the link says `{name}={value[:40]}`, the control shows {widget.value!r}")
        if kind in ("radio", "selectbox", "select_slider"):
            assert value in _choices(kind, widget), f"`{name}={value[:40]}` is not offered"
        elif kind == "multiselect":
            parts = value.split(",")
            assert 1 <= len(parts) <= (widget.max_selections or len(parts))
            assert len(set(parts)) == len(parts) and set(parts) <= set(_choices(kind, widget))
        elif kind == "slider":
            assert widget.min <= int(value) <= widget.max
        else:
            number = float(value)
            assert math.isfinite(number) and widget.min <= number <= widget.max
    return link


def _warned(at: AppTest) -> set:
    """The parameters the run's warnings say it ignored."""
    return {m.group(1).split("=", 1)[0] for w in at.warning if (m := URL_WARNING.match(w.value))}


def _check_messages(at: AppTest, query: dict) -> None:
    """Warnings about the URL name a parameter that was given and show its value inside one code
    span; no message echoes a huge value."""
    for message in [*at.warning, *at.error, *at.info]:
        assert len(message.value) < 1500, f"a message of {len(message.value)} characters"
    for warning in at.warning:
        if warning.value.startswith("URL parameter"):
            match = URL_WARNING.match(warning.value)
            assert match, f"a URL value escapes its code span: {warning.value!r}"
            assert match.group(1).split("=", 1)[0] in query, warning.value


def _same_value(given: str, shown: str) -> bool:
    """Whether `shown` is `given` spelt canonically (spaces, `08`, `1_000`, `4.` and the like)."""
    if given.strip() == shown:
        return True
    if [p.strip() for p in given.split(",") if p.strip()] == shown.split(","):
        return True
    try:
        return float(given) == float(shown)
    except ValueError:
        return False


def _check_fallbacks_announced(at: AppTest, query: dict, link: dict) -> None:
    """A given value the link does not keep (other than respelt) was warned about: no silent
    fallback."""
    warned = _warned(at)
    for name, given in query.items():
        if name in link and name.lower() not in EMBED_KEYS:
            last = given[-1] if isinstance(given, list) else given
            assert _same_value(last, link[name]) or name in warned, (
                f"`{name}={last[:40]}` became `{link[name][:40]}` without a warning")


def _charts(at: AppTest) -> list:
    """The charts a run drew: Plotly, or Vega-Lite (the live view's)."""
    return [*at.get("plotly_chart"), *at.get("vega_lite_chart")]


def _outcome(at: AppTest) -> str:
    if _charts(at):
        return "charts"
    if [b for b in at.button if b.key and b.key.startswith("run.")]:
        return "confirm"
    if any(SKIPPED in e.value for e in at.error):
        return "computation (skipped)"
    if at.error:
        return "refused"
    return "warning only" if at.warning else "nothing"


# --- The tests ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A result cache of this module's own, the recorder in place of every view's computation, the
    anchors computed for real, and each page's parameters discovered."""
    old = os.environ.get("IBL_CACHE_DIR")
    os.environ["IBL_CACHE_DIR"] = str(tmp_path_factory.mktemp("hostile-url-cache"))
    recorder = _Recorder(_cached_views())
    try:
        recorder.real = False
        infos = {page: _discover(page) for page in PAGES}
        recorder.real = True
        for page, info in infos.items():
            for view in info.views:
                query = {**({"view": view} if view is not None else {}),
                         **ANCHORS.get((info.stem, view), {})}
                at = _open(page, query)
                assert not at.exception, [e.value for e in at.exception]
                assert _charts(at), (
                    f"{info.stem} view {view}: the anchor URL {query} drew no chart "
                    f"(errors {[e.value for e in at.error]}; buttons {[b.key for b in at.button]});"
                    " give it a cheap URL in ANCHORS")
                assert not at.warning or all("URL" not in w.value for w in at.warning), (
                    f"update ANCHORS for {info.stem}: {[w.value for w in at.warning]}")
        recorder.real = False
        recorder.calls.clear()
        yield {"recorder": recorder, "infos": infos,
               "marker": tmp_path_factory.mktemp("payload") / "evaluated"}
    finally:
        recorder.restore()
        if old is None:
            os.environ.pop("IBL_CACHE_DIR", None)
        else:
            os.environ["IBL_CACHE_DIR"] = old


def _check_example(lab, info: PageInfo, query: dict, click: bool, outcomes: Counter) -> None:
    recorder, marker = lab["recorder"], lab["marker"]
    recorder.calls.clear()
    at = _open(info.path, query)
    assert not at.exception, [e.value for e in at.exception]
    assert not marker.exists(), "a code payload in the URL was evaluated"
    calls = list(recorder.calls)
    _check_calls(calls, confirmed=False)
    assert len(calls) <= 1, "a page makes one engine call per run"
    outcome = _outcome(at)
    outcomes[outcome] += 1
    note(f"outcome: {outcome}; calls: {[(v.name, s) for v, s in calls]}")
    assert outcome != "nothing", "the page drew neither charts nor a message"
    confirm = [b for b in at.button if b.key and b.key.startswith("run.")]
    if confirm:
        assert not calls, "a computation started while its button waits"
        assert any("not cached yet" in i.value for i in at.info)
    _check_messages(at, query)
    link = _check_link(at, info)
    _check_fallbacks_announced(at, query, link)

    if link != query:  # the page changed the link: opened again, it must stay as it is
        again = _open(info.path, link)
        assert not again.exception, [e.value for e in again.exception]
        assert not _warned(again), [w.value for w in again.warning]
        assert url(again) == link, "the cleaned link changes when opened again"
        _check_calls(recorder.calls, confirmed=False)

    if confirm and click:
        recorder.calls.clear()
        confirm[0].click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert len(recorder.calls) == 1, "the button starts the computation it announced"
        _check_calls(recorder.calls, confirmed=True)
        assert url(at) == link
        outcomes["confirmed"] += 1


@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p).stem)
def test_hostile_urls_give_a_message_or_a_clean_fallback(page, lab):
    """The properties of the module docstring, `EXAMPLES` query strings per view."""
    info = lab["infos"][page]
    for view in info.views:
        outcomes: Counter = Counter()
        start = time.perf_counter()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])
        @given(query=queries(info, view, lab["marker"]), click=st.booleans())
        def check(query, click):
            _check_example(lab, info, query, click, outcomes)

        check()
        print(f"\n{info.stem} / {view}: {sum(outcomes.values()) - outcomes['confirmed']} "
              f"examples in {time.perf_counter() - start:.0f} s: {dict(outcomes)}")
        assert outcomes["charts"], f"{info.stem} / {view}: no example drew the page's charts"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p).stem)
def test_code_in_every_parameter_is_never_evaluated(page, lab):
    """Every parameter of every view, and an unknown key, hold a payload that would create a file
    if it were evaluated; the page warns and falls back, and the file never appears."""
    info, marker = lab["infos"][page], lab["marker"]
    payloads = _code_payloads(marker)
    for view, params in info.views.items():
        query = {name: payloads[i % len(payloads)] for i, name in enumerate(sorted(params))}
        if view is not None:
            query["view"] = view
        at = _open(page, {**query, "unknown": payloads[0]})
        assert not at.exception, [e.value for e in at.exception]
        assert not marker.exists(), f"{info.stem} / {view}: a code payload was evaluated"
        assert _warned(at), f"{info.stem} / {view}: no warning about the URL"
        assert "unknown" not in _check_link(at, info)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: Path(p).stem)
def test_a_key_given_twice_is_written_once(page, lab):
    """`name=garbage&name=value` reads as its last value, and the link keeps that value alone."""
    info = lab["infos"][page]
    for view, default in info.defaults.items():
        at = _open(page, {name: ["<script>", value] for name, value in default.items()})
        assert not at.exception, [e.value for e in at.exception]
        assert not _warned(at), [w.value for w in at.warning]
        assert _check_link(at, info) == default
