"""Two web servers on one shared result cache (`IBL_CACHE_URL`, a real `redis-server`), as a
deployment with several replicas runs them: a view asked for by a visitor of each server at the
same moment is computed once, by one of them, and drawn by both; with the Redis server stopped,
each server still computes and draws a new view, and says that it was not saved and why."""

from __future__ import annotations

import re

from redis_helpers import Server
from tests.browser.conftest import (COMPUTE_TIMEOUT_MS, PLOT_DRAWN, RESULTS, VIEWPORT,
                                    StreamlitPage, served_app)

VIEW = ("/universality?view=depth&depth_d=8&max_channels=4&n_train=256&depth_seeds=1"
        "&depth_steps=250")
AFTER = "/eigenstructure?d=7"
COMPUTED = re.compile(r"computed (\S+) ([0-9a-f]{16}) in")


def _visitor(browser, base: str) -> StreamlitPage:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    return StreamlitPage(page, base)


def test_two_servers_on_one_redis_compute_a_view_once_and_serve_without_it(browser, tmp_path):
    redis_server = Server()
    logs = [RESULTS / "shared_cache_a.log", RESULTS / "shared_cache_b.log"]
    try:
        with served_app(tmp_path / "a", logs[0], IBL_CACHE_URL=redis_server.url) as (a, _), \
                served_app(tmp_path / "b", logs[1], IBL_CACHE_URL=redis_server.url) as (b, _):
            visitors = [_visitor(browser, a), _visitor(browser, b)]
            for visitor in visitors:  # both scripts start before either result exists
                visitor.page.goto(visitor.base_url + VIEW, wait_until="commit")
            for visitor in visitors:
                visitor.page.wait_for_selector(PLOT_DRAWN, timeout=COMPUTE_TIMEOUT_MS)
                visitor.wait_idle(COMPUTE_TIMEOUT_MS)
                visitor.assert_no_exception()
            computed = [m.groups() for log in logs for m in COMPUTED.finditer(log.read_text())]
            assert [name for name, _ in computed] == ["universality.depth"], computed

            redis_server.stop()
            for visitor in visitors:
                visitor.open(AFTER, charts=True)
                visitor.assert_no_exception()
                notices = " ".join(visitor.alerts.all_inner_texts())
                assert "not saved" in notices or "computed again" in notices, notices
                assert "cannot be reached" in notices, notices
    finally:
        redis_server.stop()
