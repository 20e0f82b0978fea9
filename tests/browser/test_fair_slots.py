"""Two tabs of one visitor cannot hold every computation slot (issue 16, point 4).

Measured before: with `IBL_MAX_COMPUTATIONS=2`, one visitor's two tabs each started a training view
and another visitor's 5 s view waited 35 s for a slot. Here, on a server of its own with two slots
and an empty cache: visitor A (one browser context, so one set of cookies) starts a long training
view in one tab and opens another training view in a second tab, whose progress bar says it waits
for A's other computation; visitor B (another context) then opens a view nobody computed yet, which
is drawn while A's first computation still runs and A's second tab still waits. A then stops the
first with Streamlit's Stop button, which frees A's slot: the second tab draws its charts.

The first view is one that asks for its button (estimated at 35 s, over
`ui.compute.CONFIRM_ABOVE_S`) and is stopped, never finished: it outlasts B's view of seconds with a
wide margin, and the test does not wait for it. (Before, a first view of about 10 s raced B's view
and lost once on CI: it ended, freeing A's slot, before B's page was idle.)
"""

from __future__ import annotations

import re
import time

from tests.browser.conftest import (COMPUTE_TIMEOUT_MS, PLOT_DRAWN, RESULTS, VIEWPORT,
                                    StreamlitPage, served_app)

FIRST = "/universality?view=depth&depth_seeds=4"
SECOND = ("/universality?view=depth&depth_d=16&max_channels=4&n_train=128&depth_seeds=1"
          "&depth_steps=250")
OTHER = "/eigenstructure?d=7"
TRAINING = re.compile(r"Training tree CNNs of every depth: \d+ of")
WAITS_FOR_ITS_OTHER = re.compile("waiting for your other computation")


def _tab(context, base: str) -> StreamlitPage:
    page = context.new_page()
    page.set_default_timeout(30_000)
    return StreamlitPage(page, base)


def test_a_visitors_two_tabs_leave_a_slot_to_another_visitor(browser, tmp_path):
    with served_app(tmp_path / "cache", RESULTS / "fair_slots.log",
                    IBL_MAX_COMPUTATIONS="2") as (base, _):
        visitor_a = browser.new_context(viewport=VIEWPORT)
        visitor_b = browser.new_context(viewport=VIEWPORT)
        try:
            first, second = _tab(visitor_a, base), _tab(visitor_a, base)
            first.page.goto(base + FIRST)
            first.page.get_by_role("button", name=re.compile(r"about .* min")).click()
            first.page.get_by_text(TRAINING).wait_for(timeout=60_000)  # A's first holds a slot
            second.page.goto(base + SECOND)
            second.page.get_by_text(WAITS_FOR_ITS_OTHER).wait_for(timeout=60_000)

            other = _tab(visitor_b, base)
            start = time.perf_counter()
            other.page.goto(base + OTHER)
            other.page.wait_for_selector(PLOT_DRAWN, timeout=60_000)  # the free slot was B's
            print(f"\nvisitor B's uncached view drawn in {time.perf_counter() - start:.1f} s "
                  "while visitor A's second tab waited")
            other.wait_idle(60_000)
            other.assert_no_exception()
            assert first.page.get_by_text(TRAINING).count() == 1  # A's first still trains
            assert second.page.get_by_text(WAITS_FOR_ITS_OTHER).count() == 1  # and its second waits

            first.page.get_by_role("button", name="Stop").click()
            first.wait_idle(COMPUTE_TIMEOUT_MS)
            second.page.wait_for_selector(PLOT_DRAWN, timeout=COMPUTE_TIMEOUT_MS)
            second.wait_idle(COMPUTE_TIMEOUT_MS)
            for tab in (first, second):
                tab.assert_no_exception()
                assert not tab.page_errors, tab.page_errors
            assert second.page.locator(PLOT_DRAWN).count() > 0
        finally:
            visitor_a.close()
            visitor_b.close()
