"""Open pages of a running dashboard in headless Chromium and check that each draws its charts.

    python tools/browser_check.py http://127.0.0.1:8501 /eigenstructure:2 "/learning_curves?view=theory:2" /:0

Each argument after the base URL is `PATH:CHARTS`: the page must draw at least CHARTS Plotly charts
(0: only its title) within the timeout, with no Streamlit exception, no error box and no JavaScript
error. Prints one line per page with the time it took; exits 1 naming what failed. `make image-test`
runs it against the container (tools/image_test.sh), where the HTML that `/` returns proves nothing
about the pages.
"""

from __future__ import annotations

import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 180_000
DRAWN = ".js-plotly-plot .main-svg .trace"
EXCEPTION = '[data-testid="stException"]'
ERROR = '[data-testid="stAlertContentError"]'
IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')


def check(browser, base: str, path: str, charts: int) -> str | None:
    """None when `path` draws `charts` charts cleanly, else what went wrong."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    start = time.perf_counter()
    try:
        page.goto(base + path)
        page.wait_for_selector("h1", timeout=TIMEOUT_MS)
        page.wait_for_function(f"document.querySelectorAll('{DRAWN}').length >= {charts} || "
                               f"document.querySelector('{EXCEPTION}') !== null",
                               timeout=TIMEOUT_MS)
        page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_MS)
        drawn = page.locator(".js-plotly-plot").count()
        exceptions = page.locator(EXCEPTION).all_inner_texts()
        alerts = page.locator(ERROR).all_inner_texts()
    except Exception as error:  # a timeout: report it with the others
        return f"{path}: {type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        context.close()
    print(f"  {path}: {drawn} charts in {time.perf_counter() - start:.1f} s")
    problems = exceptions + alerts + errors
    if problems:
        return f"{path}: " + " | ".join(p[:300] for p in problems)
    return None


def main(argv: list[str]) -> int:
    base, pages = argv[0].rstrip("/"), [arg.rsplit(":", 1) for arg in argv[1:]]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        failures = [f for f in (check(browser, base, path, int(n)) for path, n in pages) if f]
        browser.close()
    for failure in failures:
        print("FAILED", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
