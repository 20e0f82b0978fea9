"""`python serve.py`, `make run`'s command, in a real browser: the background warm from the first
start (lowest priority, counted on the home page, gone with the server), a link too long for
Streamlit named to the visitor, and the project's Streamlit settings (`.streamlit/config.toml`)
keeping an uncaught error's details from the visitor."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.browser.conftest import (EXCEPTION, RESULTS, UI_TIMEOUT_MS, VIEWPORT, StreamlitPage,
                                    served_app)
from ui.links import REFUSED_SENTENCE
from ui.warming import LOWEST_PRIORITY

READY = re.compile(r"(\d+) of 8 default views are ready")
TOO_LONG = "&".join(f"p{i}=1" for i in range(1001))  # Streamlit reads at most 1,000 parameters


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _warm_process(server_pid: int) -> int:
    for pid in _children(server_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[-3:] == [b"warm", b"--defaults", b""]:
            return pid
    raise AssertionError(f"no `engine warm --defaults` among the children of {server_pid}")


def _ready(page: StreamlitPage) -> int:
    text = page.page.get_by_text(READY).first.inner_text()
    return int(READY.search(text).group(1))


def test_the_default_views_warm_at_the_lowest_priority_from_the_first_start(browser, tmp_path):
    with served_app(tmp_path / "cache", RESULTS / "serve_warm.log", IBL_WARM="1") as (base, server):
        warm = _warm_process(server.pid)
        assert os.getpriority(os.PRIO_PROCESS, warm) == LOWEST_PRIORITY

        context = browser.new_context(viewport=VIEWPORT)
        try:
            home = StreamlitPage(context.new_page(), base)
            home.open("/")
            home.page.get_by_text(READY).first.wait_for()
            before = _ready(home)
            assert before < 8
            assert home.page.get_by_text("being computed in the background").count() == 1

            # A visitor's own view, in another tab: once it is drawn, the home tab's count (a
            # fragment that follows the warm) has gone up without a reload.
            view = StreamlitPage(context.new_page(), base)
            view.open("/eigenstructure?view=sphere", charts=True)
            view.assert_no_exception()
            deadline = time.monotonic() + 30
            while _ready(home) <= before and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _ready(home) > before
            home.assert_no_exception()
        finally:
            context.close()

        os.kill(server.pid, signal.SIGKILL)  # the warm ends with its server, however it ends
        deadline = time.monotonic() + 20
        while Path(f"/proc/{warm}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                os.waitpid(warm, os.WNOHANG)  # not our child: only for completeness
            except ChildProcessError:
                pass
        state = (Path(f"/proc/{warm}/stat").read_text().rsplit(")", 1)[1].split()[0]
                 if Path(f"/proc/{warm}").exists() else "gone")
        assert state in {"gone", "Z"}, f"the warm process is still {state}"


def test_a_link_too_long_to_read_says_so(app):
    """Streamlit drops a query string of over 1,000 parameters before any page sees it; the page
    shows its default view and says why, and so does the home page."""
    for path in ("/eigenstructure", "/"):
        app.open(f"{path}?{TOO_LONG}")
        app.page.get_by_text(REFUSED_SENTENCE[:40]).wait_for()
        app.assert_no_exception()
        assert "p1000" not in app.page.url
    app.open("/eigenstructure?d=9")  # an ordinary link: no such sentence
    assert app.page.get_by_text(REFUSED_SENTENCE[:40]).count() == 0


SECRET = "a detail no visitor should read"
FAILING_SCRIPT = f"raise RuntimeError({SECRET!r} + ' in ' + __file__)\n"


def _error_shown(browser, base: str) -> str:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(base + "/")
        shown = page.locator(EXCEPTION)
        shown.first.wait_for(timeout=UI_TIMEOUT_MS)
        return shown.first.inner_text()
    finally:
        context.close()


def test_an_uncaught_error_shows_the_visitor_no_details(browser, tmp_path):
    """Whatever escapes every page's own handling, a visitor sees Streamlit's generic notice: no
    message, no traceback, no server path; the details go to the server's log. The same script
    with the details switched on shows the message and its type, so the check can tell them
    apart."""
    script = tmp_path / "failing_page.py"
    script.write_text(FAILING_SCRIPT)
    log = RESULTS / "uncaught_error-server.log"
    with served_app(tmp_path / "cache", log, script=script) as (base, _):
        shown = _error_shown(browser, base)
    for detail in (SECRET, "RuntimeError", "Traceback", str(tmp_path)):
        assert detail not in shown, shown
    assert SECRET in log.read_text(errors="replace")  # the details are in the server's log
    details_on = ("--client.showErrorDetails", "full")
    with served_app(tmp_path / "cache", tmp_path / "details.log", script=script,
                    options=details_on) as (base, _):
        shown = _error_shown(browser, base)
    assert SECRET in shown and "RuntimeError" in shown, shown
