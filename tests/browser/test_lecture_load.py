"""A lecture hall: ten students open shared links of the heaviest page at once.

The heaviest page is Universality: each of its views trains CNNs, LCNs and FCNs, and a view that
trains for longer than 20 s waits for its start button. One server, started here on an empty cache,
on loopback; ten browser sessions (separate contexts of one headless Chromium, so separate
Streamlit sessions), each on the shared link of one of `VIEWS`, spread evenly; every session
presses the start button when it is shown, all at the same moment, as a room would. Within a
bounded time:

- every session draws all its charts, with no exception, no error box and no page error;
- identical requests are computed once: the server logs one `computed` line per distinct view (the
  cache's per-key lock makes the other sessions wait for that result), and every view is then in the
  cache;
- the server's memory stays bounded: its peak resident memory (sampled every 0.25 s from /proc) stays
  below its idle size plus `IBL_MAX_COMPUTATIONS` times the largest memory estimate of the views,
  plus a per-session allowance.

`VIEWS` are small views of both of the page's views, one of them (a sample-complexity view)
estimated above the 20 s that asks first, the others depth views of a few seconds: what is tested
(sessions sharing computations, the start button, the memory bound) does not depend on the views'
size, and the page's full defaults would take a quarter of an hour of training on two cores (they
are measured by `bench/papers.py` instead).

The figures (time to charts per session, computations, memory) are printed and written to
`test-results/browser/lecture_load.json`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from engine.experiments import universality as uni
from ui.compute import CONFIRM_ABOVE_S
from ui.links import link
from tests.browser.conftest import (CHROMIUM_ARGS, EXCEPTION, IDLE, PLOT_DRAWN, RESULTS, ROOT,
                                    VIEWPORT, chromium_executable, served_app)

pytestmark = pytest.mark.load

SESSIONS = 10
BUDGET_S = 600
"""The whole run, start to last chart: every view cold, computed at most `IBL_MAX_COMPUTATIONS` at
a time on CI's two cores while ten browsers render."""
VIEWS = [
    ("samples", uni.sample_complexity,
     uni.SampleComplexitySpec(d_min=4, d_max=16, n_max=512, seeds=3, steps=500)),  # asks first
    ("depth", uni.depth_sweep,
     uni.DepthSpec(d=4, s=2, channels=(1, 4), n_train=256, seeds=1, steps=250)),
    ("depth", uni.depth_sweep,
     uni.DepthSpec(d=16, s=4, channels=(1, 4), n_train=256, seeds=1, steps=250)),
    ("depth", uni.depth_sweep,
     uni.DepthSpec(d=27, s=3, channels=(1, 4), n_train=256, seeds=1, steps=250)),
]
"""The shared links: `(view, cached function, spec)`, each spec one the page builds from its
link."""
ERROR = '[data-testid="stAlertContentError"]'
"""An error box (a view refused or stopped, with its sentence): a session showing one is done."""
SESSION_ALLOWANCE_MB = 40
"""Server memory per connected session beyond the computations (Streamlit's session state, the
charts' JSON, websocket buffers)."""

def shared_link(view: str, spec) -> str:
    """The link a lecturer would share for this view of the Universality page."""
    return link("universality", view, spec)


def distinct_views() -> list[tuple[str, object, object]]:
    """`VIEWS`, normalised as the cache keys them."""
    return [(view, fn, fn.normalise(spec)) for view, fn, spec in VIEWS]


@dataclasses.dataclass
class Session:
    number: int
    link: str
    charts: int = 0
    seconds: float = 0.0
    pressed_start: bool = False
    start_buttons_left: int = 0
    exceptions: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    page_errors: list = dataclasses.field(default_factory=list)


async def visit(browser, base: str, session: Session, everyone_ready: asyncio.Barrier,
                start: float, marks: dict) -> None:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.on("pageerror", lambda error: session.page_errors.append(str(error)))
    try:
        await page.goto(base + session.link)
        button = page.get_by_role("button", name=re.compile(r"\(about [\d.]+ min\)"))
        await page.wait_for_selector(f"{PLOT_DRAWN}, {EXCEPTION}, button:has-text('min)')",
                                     timeout=120_000)
        await everyone_ready.wait()  # the room presses start together
        marks.setdefault("ready", time.perf_counter())
        if await button.count():
            await button.click()
            session.pressed_start = True
        expected = 2  # each Universality view draws two charts
        await page.wait_for_function(
            f"document.querySelectorAll('{PLOT_DRAWN}').length >= {expected} || "
            f"document.querySelector('{EXCEPTION}, {ERROR}') !== null",
            timeout=BUDGET_S * 1000, polling=500)
        session.seconds = time.perf_counter() - start
        # The first results are drawn while the view trains: count the charts once the run is
        # over and the full page has replaced them.
        await page.wait_for_selector(IDLE, state="attached", timeout=BUDGET_S * 1000)
        await page.wait_for_function(
            f"document.querySelectorAll('{PLOT_DRAWN}').length >= {expected} || "
            f"document.querySelector('{EXCEPTION}, {ERROR}') !== null",
            timeout=BUDGET_S * 1000, polling=500)
        session.charts = await page.locator(".js-plotly-plot").count()
        session.start_buttons_left = await button.count()  # the charts replace the question
        session.exceptions = await page.locator(EXCEPTION).all_inner_texts()
        session.errors = await page.locator(ERROR).all_inner_texts()
        await page.screenshot(path=str(RESULTS / f"lecture_load-session-{session.number}.png"))
    finally:
        await context.close()


async def lecture(base: str, sessions: list[Session], marks: dict) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable(),
                                                   args=CHROMIUM_ARGS)
        try:
            ready = asyncio.Barrier(len(sessions))
            start = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(*(visit(browser, base, s, ready, start, marks) for s in sessions)),
                timeout=BUDGET_S)
        finally:
            await browser.close()


class MemorySampler(threading.Thread):
    """Resident memory of one process (MiB), sampled with the time until stopped."""

    def __init__(self, pid: int, every_s: float = 0.25):
        super().__init__(daemon=True)
        self.path, self.every_s = Path(f"/proc/{pid}/status"), every_s
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()

    def at(self, when: float) -> float:
        """The last sample taken at or before `when`."""
        return [mb for t, mb in self.samples if t <= when][-1]

    @property
    def peak(self) -> float:
        return max(mb for _, mb in self.samples)

    def rss_mb(self) -> float:
        for line in self.path.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def run(self):
        while True:
            self.samples.append((time.perf_counter(), self.rss_mb()))
            if self.done.wait(self.every_s):
                return


class HealthSampler(threading.Thread):
    """The container's health check (`python healthcheck.py`, as Docker runs it) against the
    server every `every_s` while the room works: `(seconds it took, exit status, what it said)`;
    and, apart, the server's own answers to `/_stcore/health` as `health_probe.py` sees them from a
    process of its own every `probe_every_s` (`(answered s, woke late s, ok)`: the command's time
    includes an interpreter's start on the loaded machine, the probe's does not)."""

    def __init__(self, base: str, cache: Path, every_s: float = 2.0, probe_every_s: float = 0.25):
        super().__init__(daemon=True)
        self.env = dict(os.environ, IBL_HEALTH_URL=base, IBL_CACHE_DIR=str(cache))
        self.every_s = every_s
        self.checks: list[tuple[float, int, str]] = []
        self.probes: list[tuple[float, float, bool]] = []
        self.probe = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("health_probe.py")),
             base + "/_stcore/health", str(probe_every_s)],
            stdout=subprocess.PIPE, text=True)
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            start = time.perf_counter()
            check = subprocess.run([sys.executable, "healthcheck.py"], cwd=ROOT, env=self.env,
                                   capture_output=True, text=True, timeout=60)
            said = (check.stdout + check.stderr).strip()
            self.checks.append((time.perf_counter() - start, check.returncode, said))
            self.done.wait(self.every_s)

    def stop(self):
        self.done.set()
        self.join()
        self.probe.terminate()
        out, _ = self.probe.communicate(timeout=30)
        self.probes = [(float(a), float(late), ok == "1")
                       for a, late, ok in (line.split() for line in out.splitlines())]

    def figures(self) -> dict:
        seconds = sorted(s for s, _, _ in self.checks)
        answered = sorted(a for a, _, _ in self.probes)
        late = sorted(late for _, late, _ in self.probes)
        return {"checks": len(seconds), "ok": sum(code == 0 for _, code, _ in self.checks),
                "median s": round(statistics.median(seconds), 2), "max s": round(seconds[-1], 2),
                "unhealthy said": sorted({said for _, code, said in self.checks if code}),
                "probes": len(answered), "probes ok": sum(ok for _, _, ok in self.probes),
                "probe answered in median s": round(statistics.median(answered), 3),
                "probe answered in p99 s": round(answered[int(0.99 * (len(answered) - 1))], 3),
                "probe answered in max s": round(answered[-1], 3),
                "probe woke late by max s": round(late[-1], 3)}


def test_ten_sessions_on_the_heaviest_page(tmp_path, monkeypatch):
    views = distinct_views()
    links = [shared_link(view, spec) for view, _, spec in views]
    sessions = [Session(i, links[i % len(links)]) for i in range(SESSIONS)]
    log = RESULTS / "lecture_load-server.log"
    marks: dict[str, float] = {}
    outcome: list[BaseException] = []

    def run(base):  # its own thread and event loop, apart from the sync Playwright of other tests
        try:
            asyncio.run(lecture(base, sessions, marks))
        except BaseException as error:  # reported below, with the figures
            outcome.append(error)

    with served_app(tmp_path / "cache", log) as (base, process):
        sampler = MemorySampler(process.pid)
        sampler.start()
        health = HealthSampler(base, tmp_path / "cache")
        health.start()
        began = time.perf_counter()
        worker = threading.Thread(target=run, args=(base,))
        worker.start()
        worker.join(BUDGET_S + 120)
        wall_s = time.perf_counter() - began
        sampler.done.set()
        sampler.join()
        health.stop()
    computed = re.findall(r"computed (\S+) ([0-9a-f]{16}) in ([\d.]+) s",
                          log.read_text(errors="replace"))

    from engine import guard

    monkeypatch.setenv("IBL_CACHE_DIR", str(tmp_path / "cache"))
    keys = {fn.key(spec)[:16]: (fn, spec) for _, fn, spec in views}
    estimates_mb = sorted((fn.estimate_bytes(spec) / 2**20 for _, fn, spec in views), reverse=True)
    cap = guard.max_computations()
    long_links = {link for link, (_, fn, spec) in zip(links, views)
                  if fn.estimate_seconds(spec) > CONFIRM_ABOVE_S}
    # Before anyone pressed start: ten sessions connected, the page drawn, the engine imported.
    ready_mb = sampler.at(marks.get("ready", began))
    bound_mb = ready_mb + sum(estimates_mb[:cap]) + SESSIONS * SESSION_ALLOWANCE_MB
    figures = {
        "sessions": SESSIONS, "distinct views": len(views), "wall s": round(wall_s, 1),
        "seconds to charts": sorted(round(s.seconds, 1) for s in sessions),
        "pressed start": sum(s.pressed_start for s in sessions),
        "computed": [(name, key, float(seconds)) for name, key, seconds in computed],
        "server RSS MiB": {"at start": round(sampler.samples[0][1]), "all sessions ready":
                           round(ready_mb), "peak": round(sampler.peak),
                           "end": round(sampler.samples[-1][1]), "bound": round(bound_mb)},
        "view memory estimates MiB": [round(m) for m in estimates_mb],
        "memory budget MiB": round(guard.memory_budget() / 2**20),
        "concurrent computations": cap,
        "health checks while the room works": health.figures(),
    }
    (RESULTS / "lecture_load.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))

    assert not outcome, f"the sessions did not all finish: {outcome[0]!r}; figures: {figures}"
    for session in sessions:
        assert session.charts >= 2 and not session.exceptions and not session.errors, session
        assert session.start_buttons_left == 0, session
        assert not session.page_errors, session
    # Every session found its view cold: those that train for longer than the page's threshold
    # showed their start button, and the room pressed it; the others started at once. Both kinds
    # are in the room.
    assert long_links and len(long_links) < len(links), "VIEWS must hold both kinds of view"
    for session in sessions:
        assert session.pressed_start == (session.link in long_links), session
    # Identical requests computed once: one line per distinct view, and each is now cached.
    assert sorted(key for _, key, _ in computed) == sorted(keys), figures["computed"]
    for fn, spec in keys.values():
        assert fn.lookup(spec) is not None
    assert sampler.peak <= bound_mb, figures["server RSS MiB"]
    # The health check answers in a sentence under load, never a traceback; and the server
    # answered every probe `ok` within Docker's 10 s. How long they took are figures above, not
    # tests.
    assert health.checks and health.probes, "no health check ran"
    for _, code, said in health.checks:
        assert (code, said) == (0, "ok") or (code == 1 and said.startswith("unhealthy: ")), said
    assert all(ok for _, _, ok in health.probes), figures["health checks while the room works"]
