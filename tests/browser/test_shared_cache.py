"""The deployment of `deploy/compose.yaml`, with real processes on loopback: a `redis-server`, two
web servers on it (`IBL_CACHE_URL`, `IBL_WORKERS=1`), one worker (`python -m engine worker`) and
Caddy with `deploy/Caddyfile`'s balancing (its replicas given by address instead of by DNS).

- Through the proxy, each browser is kept on one replica by its cookie, and its page runs there
  (websocket included); browsers are spread over both replicas.
- A view asked for by a visitor of each web server at the same moment is computed once, on the
  worker, and drawn by both.
- With the Redis server stopped, each web server still computes and draws a new view, and says
  that no worker was reachable and the view was not saved.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

from redis_helpers import Server, _free_port
from tests.browser.conftest import (COMPUTE_TIMEOUT_MS, PLOT_DRAWN, RESULTS, ROOT, VIEWPORT,
                                    StreamlitPage, served_app)

VIEW = ("/universality?view=depth&depth_d=8&max_channels=4&n_train=256&depth_seeds=1"
        "&depth_steps=250")
AFTER = "/eigenstructure?d=7"
COMPUTED = re.compile(r"computed (\S+) ([0-9a-f]{16}) in")
BROWSERS = 12
"""Browsers opened through the proxy: all on one replica by chance with probability 2^-11."""


def _visitor(browser, base: str) -> StreamlitPage:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(30_000)
    return StreamlitPage(page, base)


def _caddyfile(upstreams: list[str], port: int) -> str:
    """deploy/Caddyfile with its replicas given by address (`to`) instead of by DNS, on `port`."""
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    text, found = re.subn(r"dynamic a [^{]*\{[^}]*\}", "to " + " ".join(upstreams), text)
    assert found == 1, "deploy/Caddyfile no longer finds its replicas by DNS"
    return text.replace(":8080 {", f"http://127.0.0.1:{port} {{")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _start_worker(url: str, cache, log):
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, IBL_CACHE_URL=url, IBL_CACHE_DIR=str(cache), JAX_PLATFORMS="cpu",
               PYTHONPATH=str(ROOT))
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "engine", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def test_replicas_behind_the_proxy_share_one_cache_and_one_worker(browser, tmp_path):
    caddy = shutil.which("caddy")
    assert caddy, "caddy is not installed (apt-get install caddy; make test does as root)"
    redis_server = Server()
    logs = [RESULTS / "replica_a.log", RESULTS / "replica_b.log"]
    worker_log, proxy = RESULTS / "worker.log", None
    worker = _start_worker(redis_server.url, tmp_path / "w", worker_log)
    shared = {"IBL_CACHE_URL": redis_server.url, "IBL_WORKERS": "1"}
    try:
        with served_app(tmp_path / "a", logs[0], **shared) as (a, _), \
                served_app(tmp_path / "b", logs[1], **shared) as (b, _):
            port = _free_port()
            (tmp_path / "Caddyfile").write_text(_caddyfile([a[7:], b[7:]], port))
            proxy = subprocess.Popen([caddy, "run", "--adapter", "caddyfile", "--config",
                                      str(tmp_path / "Caddyfile")], stdout=subprocess.DEVNULL,
                                     stderr=open(RESULTS / "caddy.log", "w"))
            front = f"http://127.0.0.1:{port}"
            deadline = time.time() + 30
            while not _listening(port):
                assert time.time() < deadline and proxy.poll() is None, (
                    (RESULTS / "caddy.log").read_text()[-3000:])
                time.sleep(0.1)
            replicas = []
            for _ in range(BROWSERS):
                visitor = _visitor(browser, front)
                for _ in range(2):  # a reload stays on the replica its cookie names
                    visitor.open("/")
                    visitor.assert_no_exception()
                    cookies = {c["name"]: c["value"] for c in visitor.page.context.cookies()}
                    replicas.append(cookies["ibl_replica"])
                assert replicas[-1] == replicas[-2]
                visitor.page.context.close()
            assert len(set(replicas)) == 2, replicas

            visitors = [_visitor(browser, a), _visitor(browser, b)]
            for visitor in visitors:  # both scripts start before either result exists
                visitor.page.goto(visitor.base_url + VIEW, wait_until="commit")
            for visitor in visitors:
                visitor.page.wait_for_selector(PLOT_DRAWN, timeout=COMPUTE_TIMEOUT_MS)
                visitor.wait_idle(COMPUTE_TIMEOUT_MS)
                visitor.assert_no_exception()
            assert not [m for log in logs for m in COMPUTED.finditer(log.read_text())]
            on_worker = [m.group(1) for m in COMPUTED.finditer(worker_log.read_text())]
            assert on_worker == ["universality.depth"], on_worker

            redis_server.stop()
            start = time.perf_counter()
            for visitor in visitors:
                visitor.open(AFTER, charts=True)
                visitor.assert_no_exception()
                notices = " ".join(visitor.alerts.all_inner_texts())
                assert "No worker is reachable" in notices, notices
                assert "not saved" in notices and "cannot be reached" in notices, notices
            assert time.perf_counter() - start < 60
    finally:
        for process in (proxy, worker):
            if process is not None:
                process.kill()
                process.wait(timeout=30)
        redis_server.stop()
