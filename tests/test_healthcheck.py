"""The container's health check (healthcheck.py) against stand-in servers on loopback: healthy only
when the server answers `/_stcore/health` with ok, serves `/`, and the cache directory is writable;
each failure is named. (tools/image_test.sh checks it against the real container too: a stopped
server and a read-only cache make it fail there.)"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import healthcheck  # noqa: E402


def serve(health: bytes = b"ok", home: int = 200, delay_s: float = 0.0):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            time.sleep(delay_s)
            status, body = (200, health) if self.path == "/_stcore/health" else (home, b"<html>")
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def server_factory():
    servers = []

    def make(**kwargs):
        server, url = serve(**kwargs)
        servers.append(server)
        return url

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_serving_app_with_a_writable_cache_is_healthy(server_factory, tmp_path):
    assert healthcheck.problems(server_factory(), 2.0, str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []  # the write probe is removed


def test_health_not_ok_is_unhealthy(server_factory, tmp_path):
    [problem] = healthcheck.problems(server_factory(health=b"starting"), 2.0, str(tmp_path))
    assert "/_stcore/health" in problem and "starting" in problem


def test_a_page_that_does_not_load_is_unhealthy(server_factory, tmp_path):
    [problem] = healthcheck.problems(server_factory(home=500), 2.0, str(tmp_path))
    assert problem.startswith("/ ") and "500" in problem


def test_a_hung_server_is_unhealthy_within_the_timeout(server_factory, tmp_path):
    url = server_factory(delay_s=3.0)
    start = time.perf_counter()
    [problem] = healthcheck.problems(url, 0.5, str(tmp_path))
    assert time.perf_counter() - start < 2.5
    assert "did not answer within 0.5 s" in problem


def test_no_server_is_unhealthy(tmp_path):
    server, url = serve()
    server.server_close()  # the port is free again: nothing listens
    [problem] = healthcheck.problems(url, 1.0, str(tmp_path))
    assert "did not answer" in problem


def test_a_cache_that_cannot_be_written_is_unhealthy(server_factory, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")  # a file where the folder should be (root ignores chmod, not this)
    [problem] = healthcheck.problems(server_factory(), 2.0, str(blocked))
    assert "not writable" in problem and str(blocked) in problem
    [problem] = healthcheck.problems(server_factory(), 2.0, str(tmp_path / "missing"))
    assert "not writable" in problem


def test_the_command_exits_1_and_says_why(tmp_path):
    server, url = serve()
    server.server_close()
    run = subprocess.run([sys.executable, str(ROOT / "healthcheck.py")], capture_output=True,
                         text=True, timeout=30,
                         env={"IBL_HEALTH_URL": url, "IBL_HEALTH_TIMEOUT_S": "1",
                              "IBL_CACHE_DIR": str(tmp_path)})
    assert run.returncode == 1
    assert run.stdout.startswith("unhealthy: /_stcore/health did not answer")


def test_the_command_exits_0_when_healthy(server_factory, tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "healthcheck.py")], capture_output=True,
                         text=True, timeout=30,
                         env={"IBL_HEALTH_URL": server_factory(), "IBL_CACHE_DIR": str(tmp_path)})
    assert (run.returncode, run.stdout) == (0, "ok\n")
