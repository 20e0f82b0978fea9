"""The dashboard served by `python serve.py` (`make run`'s command) on a free loopback port, and
Debian's headless Chromium driving it.

Fixtures:

- `served_app(cache, log, **env)`: a context manager that serves the dashboard from that cache.
- `app_url` (session): starts `python serve.py` with `IBL_CACHE_DIR` set to a fresh
  temporary directory (so results and JAX's compiled programs start cold), waits for
  `/_stcore/health` to answer `ok`, yields the base URL and stops the server at the end.
- `browser` (session): Chromium's headless shell, `/usr/bin/chromium-headless-shell` (or on the
  PATH), through plain `playwright.sync_api`: the same Blink and V8 as Debian's `chromium` of the
  same version, without the browser's own window machinery, which the tests never see (Playwright
  itself runs headless tests in it). It drew the same pages with a quarter less CPU: 64 against
  84 CPU-seconds of Chromium over the projector, Eigenstructure and Universality browser tests
  (2 cores, 2026-12-07). Without it the tests fail, never skip: install Debian's
  `chromium-headless-shell` (`make test` does, as root); never run `playwright install`.
- `app` (per test): a `StreamlitPage` in a fresh browser context; when the test fails it saves a
  full-page screenshot to `test-results/browser/<test name>.png`, the page as the failure left it.
  (Not after a passing test: stretching the viewport to the page's height makes Plotly draw every
  chart twice more, about half a second of Chromium's CPU a test. The views shown in the README
  are saved by the tests that draw them, `test_default_views.py` and `test_projector.py`.)

The server's output goes to `test-results/browser/server.log`. Tests wait for elements and for
Streamlit's script-run state, never for fixed times.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results" / "browser"

CHROMIUM = "/usr/bin/chromium-headless-shell"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}

HEALTH_TIMEOUT_S = 60
COMPUTE_TIMEOUT_MS = 120_000
"""A page's first chart: a cold cache means computing the view and compiling it with JAX."""
UI_TIMEOUT_MS = 30_000
"""Anything else: a widget reacting, a rerun from a warm cache."""

IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')
"""Streamlit's app root once connected and the script has finished its run."""
EXCEPTION = '[data-testid="stException"]'
ALERT = '[data-testid="stAlert"], [data-testid="stAlertContainer"]'
"""st.info / st.warning / st.error boxes (the outer element and its container both match)."""
PLOT_DRAWN = ".js-plotly-plot .main-svg .trace"
"""A Plotly chart with at least one trace drawn."""

# One string per Plotly chart: its traces' data and the titles, to tell when a chart has changed.
_PLOT_SIGNATURES = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd =>
    JSON.stringify({data: (gd.data || []).map(t => [t.name, t.x, t.y, t.z]),
                    title: gd.layout && gd.layout.title,
                    xaxis: gd.layout && gd.layout.xaxis && gd.layout.xaxis.title,
                    yaxis: gd.layout && gd.layout.yaxis && gd.layout.yaxis.title}))"""


def chromium_executable() -> str:
    """Debian's headless Chromium, or fail the test run with what to install."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium-headless-shell")
    if found:
        return found
    pytest.fail(f"The browser tests need Chromium's headless shell at {CHROMIUM} or on the PATH: "
                "install Debian's package (`apt-get install -y chromium-headless-shell`, as "
                "`make test` does as root). Do not run `playwright install`: its download fails "
                "here.", pytrace=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, chars: int = 4000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:] or "(empty)"


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode} before "
                               f"{url} answered; its output:\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer `ok` within {timeout_s} s; streamlit's "
                               f"output:\n{_log_tail(log)}")
        try:  # the poll interval; returns at once if the server exits
            process.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            pass


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def served_app(cache: Path, log: Path, *, script: Optional[Path] = None, options: tuple = (),
               **env: str):
    """`python serve.py` on a free loopback port with `IBL_CACHE_DIR=cache` (and `env`; its
    background warm off unless `env` turns it on), its output in `log`: yields `(base_url,
    process)` once `/_stcore/health` answers `ok`, and stops the server at the end. Fails the
    test, with the server's output, when it does not start. With `script`, `streamlit run
    script` instead (from the project's root, so with its Streamlit settings); `options` are
    more Streamlit options."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    environment = dict(os.environ, IBL_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1",
                       **{"IBL_WARM": "0", **env})
    served = ["serve.py"] if script is None else ["-m", "streamlit", "run", str(script)]
    command = [sys.executable, *served, "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", *options]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=out,
                                   stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(f"{base}/_stcore/health", process, log, HEALTH_TIMEOUT_S)
    except RuntimeError as error:
        _stop(process)
        pytest.fail(str(error), pytrace=False)
    try:
        yield base, process
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> str:
    """Base URL of the dashboard, served from a fresh, empty `IBL_CACHE_DIR`."""
    with served_app(tmp_path_factory.mktemp("ibl-cache"), RESULTS / "server.log") as (base, _):
        yield base


@pytest.fixture(scope="session")
def browser():
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class StreamlitPage:
    """A Playwright page on the dashboard, with the waits and reads that the tests share."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.page_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def open(self, path: str = "/", *, charts: bool = False) -> None:
        """Go to `path` and wait until the script has run (and, with `charts`, a chart is drawn)."""
        self.page.goto(self.base_url + path)
        if charts:
            self.page.wait_for_selector(PLOT_DRAWN, timeout=COMPUTE_TIMEOUT_MS)
        self.wait_idle(COMPUTE_TIMEOUT_MS)

    def wait_idle(self, timeout_ms: float = UI_TIMEOUT_MS) -> None:
        """Wait until Streamlit is connected and its script is not running."""
        self.page.wait_for_selector(IDLE, state="attached", timeout=timeout_ms)

    @property
    def sidebar(self):
        return self.page.get_by_test_id("stSidebar")

    @property
    def alerts(self):
        """Streamlit's alert boxes on the page (warnings, errors, infos)."""
        return self.page.locator(ALERT)

    def query(self) -> dict[str, str]:
        """The page URL's query parameters, last value of each."""
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.page.url).query).items()}

    def wait_for_query(self, **expected: str) -> None:
        """Wait until the URL's query string holds these values."""
        def matches(url: str) -> bool:
            params = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
            return all(params.get(k) == v for k, v in expected.items())

        self.page.wait_for_url(matches, timeout=UI_TIMEOUT_MS)

    def plot_signatures(self) -> list[str]:
        return self.page.evaluate(_PLOT_SIGNATURES)

    def wait_for_plots_to_change(self, before: list[str], timeout_ms: float = COMPUTE_TIMEOUT_MS):
        """Wait until the charts' data or titles differ from `before` (and a chart is drawn)."""
        self.page.wait_for_function(f"(before) => {{ const now = ({_PLOT_SIGNATURES})(); "
                                    "return now.length > 0 && JSON.stringify(now) !== "
                                    "JSON.stringify(before); }", arg=before, timeout=timeout_ms)
        self.page.wait_for_selector(PLOT_DRAWN, timeout=timeout_ms)

    def plot_titles(self) -> list[str]:
        """Each chart's figure title (empty when it has none)."""
        return self.page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'),
            gd => { const t = gd.layout && gd.layout.title;
                    return (t && (typeof t === 'string' ? t : t.text)) || ''; })""")

    def axis_types(self, index: int = 0) -> dict[str, str]:
        """Plotly's resolved axis types (`linear`, `log`, ...) of the `index`-th chart."""
        return self.page.evaluate(
            """(i) => { const gd = document.querySelectorAll('.js-plotly-plot')[i];
                        const axes = {};
                        for (const [k, v] of Object.entries(gd._fullLayout))
                            if (/^[xy]axis\\d*$/.test(k)) axes[k] = v.type;
                        return axes; }""", index)

    def assert_no_exception(self) -> None:
        exceptions = self.page.locator(EXCEPTION)
        assert exceptions.count() == 0, (
            f"Streamlit exception on {self.page.url}:\n" + "\n---\n".join(exceptions.all_inner_texts()))

    def screenshot(self, path: Path) -> None:
        """A full-page PNG. Streamlit scrolls inside its main block, not the window, so the
        viewport is stretched to the content's height for the shot and then set back."""
        height = self.page.evaluate(
            """() => Math.max(document.documentElement.scrollHeight,
                 ...Array.from(document.querySelectorAll(
                     '[data-testid="stMain"], [data-testid="stAppViewContainer"], '
                     + '[data-testid="stSidebarContent"]'), e => e.scrollHeight))""")
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(size)


FAILED = pytest.StashKey[bool]()
"""Set on a test's item when its setup or call failed (`pytest_runtest_makereport`)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
def app(browser, app_url, request) -> StreamlitPage:
    """A fresh browser context on the dashboard; a full-page screenshot is saved if the test
    fails."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    streamlit_page = StreamlitPage(page, app_url)
    yield streamlit_page
    try:
        if request.node.stash.get(FAILED, False):
            module = request.node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
            name = module + "-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
            streamlit_page.screenshot(RESULTS / f"{name}.png")
    finally:
        context.close()
