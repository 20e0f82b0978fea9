"""The container's health check (healthcheck.py) against stand-in servers on loopback: healthy only
when the server answers `/_stcore/health` with ok, serves `/`, and the result cache keeps a real
entry (`engine.cache.probe`: settings, then a write, a read and a delete through the cache's own
code); each failure is named. (tools/image_test.sh checks it against the real container too: a stopped
server and a read-only cache make it fail there.)"""

from __future__ import annotations

import http.server
import os
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


def _probe(monkeypatch, cache_dir, **settings):
    """`engine.cache.probe` on `cache_dir` with these `IBL_*` settings."""
    from engine import cache

    monkeypatch.setenv("IBL_CACHE_DIR", str(cache_dir))
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return cache.probe


def test_a_serving_app_with_a_working_cache_is_healthy(server_factory, tmp_path, monkeypatch):
    assert healthcheck.problems(server_factory(), 2.0, _probe(monkeypatch, tmp_path)) == []
    from engine import cache

    assert len(cache.store()) == 0  # the probe's entry is deleted


def test_health_not_ok_is_unhealthy(server_factory, tmp_path):
    [problem] = healthcheck.problems(server_factory(health=b"starting"), 2.0)
    assert "/_stcore/health" in problem and "starting" in problem


def test_a_page_that_does_not_load_is_unhealthy(server_factory, tmp_path):
    [problem] = healthcheck.problems(server_factory(home=500), 2.0)
    assert problem.startswith("/ ") and "500" in problem


def test_a_hung_server_is_unhealthy_within_the_timeout(server_factory, tmp_path):
    url = server_factory(delay_s=3.0)
    start = time.perf_counter()
    [problem] = healthcheck.problems(url, 0.5)
    assert time.perf_counter() - start < 2.5
    assert "did not answer within 0.5 s" in problem


def test_no_server_is_unhealthy(tmp_path):
    server, url = serve()
    server.server_close()  # the port is free again: nothing listens
    [problem] = healthcheck.problems(url, 1.0)
    assert "did not answer" in problem


def test_a_cache_that_cannot_be_used_is_unhealthy(server_factory, tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")  # a file where the folder should be (root ignores chmod, not this)
    [degraded, unwritten] = healthcheck.problems(server_factory(), 2.0,
                                                 _probe(monkeypatch, blocked))
    assert "cannot be used" in degraded and str(blocked) in degraded
    assert "could not be written" in unwritten


@pytest.mark.parametrize("name,value", [("IBL_CACHE_SIZE_MB", "abc"),
                                        ("IBL_MAX_COMPUTATIONS", "0"),
                                        ("IBL_MEMORY_BUDGET_MB", "-5"),
                                        ("IBL_TIME_BUDGET_S", "soon"),
                                        ("IBL_HEARTBEAT_S", "nan")])
def test_a_malformed_setting_is_unhealthy(server_factory, tmp_path, monkeypatch, name, value):
    [problem] = healthcheck.problems(server_factory(), 2.0,
                                     _probe(monkeypatch, tmp_path, **{name: value}))
    assert name in problem


def test_a_damaged_store_is_replaced_and_then_healthy(server_factory, tmp_path, monkeypatch,
                                                     caplog):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cache.db").write_bytes(b"not a database" * 3)
    assert healthcheck.problems(server_factory(), 2.0, _probe(monkeypatch, tmp_path)) == []
    assert any(p.name.startswith("results.damaged-") for p in tmp_path.iterdir())
    assert "was damaged" in caplog.text


def _as_a_user(command: list[str]) -> list[str]:
    """`command` run without root's right to write anywhere (root, as in CI, ignores chmod): in a
    user namespace as uid 1000, which owns what root owns outside it, with no capabilities."""
    if os.getuid() != 0:
        return command
    return ["unshare", "--user", "--map-user=1000", "--map-group=1000", *command]


def test_a_read_only_cache_directory_is_unhealthy(server_factory, tmp_path, monkeypatch):
    """The container's case (tools/image_test.sh): the server's user may not write IBL_CACHE_DIR.
    An entry can still be written into the store below it, so the probe checks the directories."""
    from engine import cache

    monkeypatch.setenv("IBL_CACHE_DIR", str(tmp_path))
    assert cache.write("kept", {"a": 1})
    url = server_factory()
    env = {"IBL_HEALTH_URL": url, "IBL_CACHE_DIR": str(tmp_path), "PATH": os.environ["PATH"]}
    command = _as_a_user([sys.executable, str(ROOT / "healthcheck.py")])
    tmp_path.chmod(0o555)
    try:
        refused = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    finally:
        tmp_path.chmod(0o755)
    assert refused.returncode == 1, refused.stdout + refused.stderr[-2000:]
    assert f"The cache directory {tmp_path} is not writable" in refused.stdout
    writable = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    assert (writable.returncode, writable.stdout) == (0, "ok\n"), writable.stderr[-2000:]


def test_the_command_exits_1_and_says_why(tmp_path):
    server, url = serve()
    server.server_close()
    run = subprocess.run([sys.executable, str(ROOT / "healthcheck.py")], capture_output=True,
                         text=True, timeout=30,
                         env={"IBL_HEALTH_URL": url, "IBL_HEALTH_TIMEOUT_S": "1",
                              "IBL_CACHE_DIR": str(tmp_path)})
    assert run.returncode == 1
    assert run.stdout.startswith("unhealthy: /_stcore/health did not answer")


def test_the_command_exits_0_when_healthy_without_importing_jax(server_factory, tmp_path):
    command = ("import runpy, sys; sys.argv = ['healthcheck.py']\n"
               "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
               "except SystemExit as end:\n    code = end.code\n"
               "print('jax' in sys.modules, code)")
    run = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True,
                         timeout=30, cwd=ROOT,
                         env={"IBL_HEALTH_URL": server_factory(), "IBL_CACHE_DIR": str(tmp_path)})
    assert run.stdout == "ok\nFalse 0\n", run.stderr[-2000:]


def test_the_command_checks_the_cache_with_the_servers_key(server_factory, tmp_path):
    """Under the bare package the cache's key is the server's: one store, one engine version."""
    command = ("import healthcheck, sys; key = healthcheck.engine_cache().ENGINE_KEY\n"
               "import importlib; assert 'jax' not in sys.modules\n"
               "print(key)")
    bare = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    from engine import cache

    assert bare.stdout.strip() == cache.ENGINE_KEY, bare.stderr[-2000:]


def test_a_malformed_timeout_is_a_sentence(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "healthcheck.py")], capture_output=True,
                         text=True, timeout=30,
                         env={"IBL_HEALTH_TIMEOUT_S": "abc", "IBL_CACHE_DIR": str(tmp_path)})
    assert run.returncode == 1 and "IBL_HEALTH_TIMEOUT_S" in run.stdout and not run.stderr
