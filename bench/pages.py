"""Time each dashboard page in headless Chromium: from `page.goto` to its first drawn Plotly chart.

    python bench/pages.py [--repeats 3] [--pages home eigenstructure] [--first-only] [--markdown]

For each page in `PAGES` and each repeat:

- cold: a fresh `python serve.py` with a fresh, empty `IBL_CACHE_DIR`, so the page's results
  and JAX's compiled programs (kept under `IBL_CACHE_DIR/jax`) are both cold, and the server
  process has imported nothing yet; one visit in a new browser context;
- warm: a second visit to the same server in the same browser context (a returning visitor: the
  results come from the server's cache, Streamlit's and Plotly's scripts from the browser's);
- warm, new visitor: a third visit in a new browser context (empty HTTP cache: the browser loads and
  parses the scripts again).

The clock runs from `page.goto` until the page's ready selector is in the DOM: a Plotly chart with
at least one trace drawn, or, for a page without charts (home), its title once Streamlit's script
has finished. The table gives the median, min and max over repeats against the goals (cold at most
the page's goal in `PAGES`, warm at most `WARM_GOAL_S`), and the median time at which Streamlit's script run had
finished on the server: what lies between that and the chart is the browser's share (a new context
has an empty HTTP cache, so it loads and parses Plotly's bundle again). Speed goals live here,
never in tests.

Needs Debian's Chromium at /usr/bin/chromium (or `chromium` on the PATH) and the dev requirements
(playwright); never `playwright install`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
from playwright.sync_api import sync_playwright
from report import print_table  # noqa: E402  (bench/report.py, beside this script)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHART = ".js-plotly-plot .main-svg .trace"
"""A Plotly chart with at least one trace drawn."""
IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')
"""Streamlit's app root once the script has finished its run on the server."""
SCRIPT_DONE = IDLE + " h1"
"""A page's title once Streamlit's script has finished its run (for pages without a chart)."""
# Records when the script run first finished (ms since navigation), to tell the server's share of
# a visit from the browser's (loading Plotly's bundle, drawing).
_RECORD_IDLE = """new MutationObserver((_, observer) => {
    if (document.querySelector(%r)) { window.__iblScriptDone = performance.now();
                                      observer.disconnect(); }
}).observe(document, {subtree: true, childList: true, attributes: true});""" % IDLE

# One line per page: name (for --pages), URL path, what "rendered" means on it, and its cold goal
# in seconds: the first chart within 10 s on two CPU cores for every view (the issue on live
# views; views that train draw it from their first results, then fill it in).
PAGES = [
    ("home", "/", SCRIPT_DONE, 10.0),
    ("eigenstructure", "/eigenstructure", CHART, 10.0),
    ("eigenstructure-sphere", "/eigenstructure?view=sphere", CHART, 10.0),
    ("universality", "/universality", CHART, 10.0),
    ("universality-depth", "/universality?view=depth", CHART, 10.0),
    ("depth_separation", "/depth_separation", CHART, 10.0),
    ("depth_separation-width", "/depth_separation?view=width", CHART, 10.0),
    ("learning_curves", "/learning_curves", CHART, 10.0),
    ("learning_curves-theory", "/learning_curves?view=theory", CHART, 10.0),
]
START = 'button:has-text(" min)")'
"""The button a view estimated above 20 s waits for ("... (about 1.2 min)"): the bench presses it
at once, as a visitor who came for that view would."""

WARM_GOAL_S = 2.0
TIMEOUT_S = 300
"""Give up on a visit after this long (a page that errors never draws its chart)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}


def _chromium() -> str:
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium")
    if not found:
        sys.exit(f"no Chromium at {CHROMIUM} nor on the PATH: `apt-get install -y chromium` "
                 "(never `playwright install`).")
    return found


def _tail(path: str, chars: int = 3000) -> str:
    with open(path, errors="replace") as f:
        return f.read()[-chars:] or "(empty)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _server(cache_dir: str, log_path: str, timeout_s: float = 60):
    """`python serve.py` (without its background warm) on a free loopback port with
    `IBL_CACHE_DIR=cache_dir`; yields its base URL once `/_stcore/health` answers `ok`;
    terminates (then kills) it on exit."""
    port = _free_port()
    env = dict(os.environ, IBL_CACHE_DIR=cache_dir, PYTHONUNBUFFERED="1", IBL_WARM="0")
    command = [sys.executable, "serve.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited ({process.returncode}):\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"no `ok` from {base}/_stcore/health in {timeout_s} s; "
                                   f"streamlit's output:\n{_tail(log_path)}")
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.25)
        yield base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _context(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(_RECORD_IDLE)
    return context


def _visit(context, url: str, ready: str, *, first_only: bool = False) -> tuple[float, float]:
    """In a new tab of `context`: seconds from `goto(url)` until `ready` is in the DOM (pressing
    the start button at once where the view asks first), and seconds from navigation until
    Streamlit's script run had finished (NaN with `first_only`, which stops at `ready`)."""
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(f"{ready}, {START}", state="attached", timeout=TIMEOUT_S * 1000)
        if page.locator(ready).count() == 0:
            page.locator(START).first.click()
            page.wait_for_selector(ready, state="attached", timeout=TIMEOUT_S * 1000)
        elapsed = time.perf_counter() - start
        if first_only:
            return elapsed, float("nan")
        page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_S * 1000)
        page.wait_for_function("() => window.__iblScriptDone !== undefined")
        script_done = page.evaluate("() => window.__iblScriptDone") / 1000
        if page.locator('[data-testid="stException"]').count():
            raise RuntimeError(f"{url} shows a Streamlit exception")
        return elapsed, script_done
    finally:
        page.close()


def _summary(times: list[float], script: list[float], goal: float) -> list[str]:
    if not times:
        return ["-", "-", "-", "no data", "-"]
    median = float(np.median(times))
    return [f"{median:.2f}", f"{min(times):.2f}", f"{max(times):.2f}",
            f"{'yes' if median <= goal else 'NO'} (<= {goal:g} s)", f"{np.median(script):.2f}"]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="cold/warm measurements per page, each on a fresh server and cache")
    parser.add_argument("--pages", nargs="+", choices=[name for name, *_ in PAGES],
                        help="pages to time (default: all)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--first-only", action="store_true",
                        help="time only the cold visit's first chart (a view that trains "
                             "draws it from its first results): no warm or new-visitor visit")
    args = parser.parse_args(argv)
    pages = [p for p in PAGES if not args.pages or p[0] in args.pages]

    executable = _chromium()
    version = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; {os.cpu_count()} CPU(s), {platform.processor() or platform.machine()}; "
          f"cold = fresh server + empty IBL_CACHE_DIR (results and JAX compilations cold), "
          f"warm = second visit, same browser context; new visitor = new context, same server",
          file=sys.stderr)
    kinds = ("cold", "warm", "new")
    results = {name: {key: [] for kind in kinds for key in (kind, kind + "_script")}
               for name, *_ in pages}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as workdir:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        for repeat in range(args.repeats):
            for name, path, ready, _ in pages:
                cache_dir = tempfile.mkdtemp(prefix=f"cache-{name}-", dir=workdir)
                log_path = os.path.join(workdir, f"server-{name}-{repeat}.log")
                with _server(cache_dir, log_path) as base:
                    visitor, newcomer = _context(browser), _context(browser)
                    try:
                        times = {"cold": _visit(visitor, base + path, ready,
                                                first_only=args.first_only)}
                        if not args.first_only:
                            times.update(warm=_visit(visitor, base + path, ready),
                                         new=_visit(newcomer, base + path, ready))
                    except Exception as error:
                        raise RuntimeError(f"{name} ({path}): {error}\nstreamlit's output:\n"
                                           f"{_tail(log_path)}") from error
                    finally:
                        visitor.close()
                        newcomer.close()
                for kind, (elapsed, script) in times.items():
                    results[name][kind].append(elapsed)
                    results[name][kind + "_script"].append(script)
                print(f"repeat {repeat + 1} {name}: " + ", ".join(
                    f"{kind} {elapsed:.2f} s (script done at {script:.2f} s)"
                    for kind, (elapsed, script) in times.items()), file=sys.stderr, flush=True)
                shutil.rmtree(cache_dir, ignore_errors=True)
        browser.close()

    header = ["page", "URL", "cold median (s)", "cold min", "cold max", "cold goal met",
              "cold script done", "warm median (s)", "warm min", "warm max",
              f"warm <= {WARM_GOAL_S:g} s", "warm script done", "new visitor median (s)",
              "new min", "new max", f"new <= {WARM_GOAL_S:g} s", "new script done"]
    rows = [[name, path,
             *_summary(results[name]["cold"], results[name]["cold_script"], cold_goal),
             *_summary(results[name]["warm"], results[name]["warm_script"], WARM_GOAL_S),
             *_summary(results[name]["new"], results[name]["new_script"], WARM_GOAL_S)]
            for name, path, _, cold_goal in pages]
    print_table(header, rows, markdown=args.markdown, left=(0, 1))
    print(f"{args.repeats} repeat(s); cold = fresh server and empty IBL_CACHE_DIR per measurement; "
          "'script done' = median time from navigation until Streamlit's script run had finished "
          "(the rest is the browser loading Plotly and drawing)", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
