"""A `redis-server` of a test's own (Debian's package, which `.ci/run` installs)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A `redis-server` of the test's own on a loopback port, without persistence."""

    def __init__(self):
        binary = shutil.which("redis-server")
        assert binary, ("redis-server is not installed (apt-get install redis-server; make test "
                        "does as root)")
        self.binary, self.port = binary, _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.time() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.time() < deadline and self.process.poll() is None, "no redis-server"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=20)
