"""Load on the deployment of `deploy/compose.yaml`, with real processes on loopback, against the
embedded default (issue 19): `python bench/replicas.py [--sessions 40] [--uncached 4]`.

- replicas: a `redis-server`, two web servers (`IBL_CACHE_URL`, `IBL_WORKERS=1`), one worker
  (`python -m engine worker`) and Caddy with `deploy/Caddyfile`'s balancing;
- embedded: one web server on its own diskcache store, computing in-process (`make run`).

Each first warms `CACHED` (one browser, one link after another), then opens `--sessions` headless
browser sessions (separate contexts of one Chromium) on those cached links, round robin, and
`--uncached` more on distinct small training views nobody computed yet, all at once, pressing a
view's start button where it asks first. It reports the
sessions served (all charts drawn, no exception, no page error), the time to first chart (median and
worst, cached and uncached), the computations (`computed` log lines), each process's peak
resident memory (sampled every 0.25 s), and, for the replicas, how many sessions Caddy sent to
each (by the cookie each browser was given). Writes `test-results/bench/replicas.json`. Several minutes
on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.async_api import async_playwright  # noqa: E402

from redis_helpers import Server, _free_port  # noqa: E402
from tests.browser.conftest import (CHROMIUM_ARGS, EXCEPTION, IDLE, PLOT_DRAWN,  # noqa: E402
                                    VIEWPORT, chromium_executable, served_app)

OUT = ROOT / "test-results" / "bench"
CACHED = ["/eigenstructure", "/eigenstructure?view=sphere",
          "/universality?view=depth&depth_d=8&max_channels=4&n_train=256&depth_seeds=1"
          "&depth_steps=250"]
UNCACHED = "/universality?view=depth&depth_d={d}&max_channels=4&n_train={n}&depth_seeds=1&depth_steps=250"
UNCACHED_SIZES = [(8, 64), (8, 128), (16, 64), (16, 128), (8, 512), (16, 512)]
COMPUTED = re.compile(r"computed (\S+) ([0-9a-f]{16}) in")
TIMEOUT_S = 300
PER_BROWSER = 4
REPLICA_COOKIE = "ibl_replica"
"""The cookie by which deploy/Caddyfile keeps a browser on its replica (`lb_policy cookie`)."""


def _rss(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Peaks:
    """Each named process's peak resident memory, sampled every 0.25 s in a thread."""

    def __init__(self, pids: dict):
        self.pids, self.peak, self._stop = pids, {name: 0 for name in pids}, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop.wait(0.25):
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], _rss(pid))

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {name: round(value / 2**20) for name, value in self.peak.items()}


async def _visit(browser, url: str, cached: bool = True) -> dict:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    start = time.perf_counter()
    try:
        await page.goto(url, timeout=TIMEOUT_S * 1000)
        # A view estimated above 20 s on this machine asks first: the visitor presses start.
        await page.wait_for_selector(f"{PLOT_DRAWN}, {EXCEPTION}, button:has-text('min)')",
                                     timeout=TIMEOUT_S * 1000)
        button = page.get_by_role("button", name=re.compile(r"\(about [\d.]+ min\)"))
        pressed = bool(await button.count())
        if pressed:
            await button.click()
        await page.wait_for_selector(PLOT_DRAWN, timeout=TIMEOUT_S * 1000)
        first = time.perf_counter() - start
        await page.wait_for_selector(IDLE, state="attached", timeout=TIMEOUT_S * 1000)
        if await page.locator(EXCEPTION).count():
            errors.append("exception")
        replica = {c["name"]: c["value"] for c in await context.cookies()}.get(REPLICA_COOKIE)
        return {"url": url, "cached": cached, "first_chart_s": first, "pressed_start": pressed,
                "errors": errors, "replica": replica}
    except Exception as error:  # a timeout or a crash counts as a session not served
        return {"url": url, "cached": cached, "first_chart_s": None,
                "errors": errors + [repr(error)[:200]]}
    finally:
        await context.close()


async def _load(front: str, sessions: int, uncached: int) -> list:
    """Warm `CACHED`, then all sessions at once: each student has a browser of their own, so the
    sessions are spread over one Chromium per `PER_BROWSER` (one Chromium holds only a few
    connections to one host at a time, and would queue the rest)."""
    async with async_playwright() as playwright:
        def launch():
            return playwright.chromium.launch(executable_path=chromium_executable(),
                                              args=CHROMIUM_ARGS)
        first = await launch()
        for path in CACHED:  # warm, as a first visitor would
            warm = await _visit(first, front + path)
            assert warm["first_chart_s"] is not None, warm
        urls = [(front + CACHED[i % len(CACHED)], True) for i in range(sessions)]
        urls += [(front + UNCACHED.format(d=d, n=n), False) for d, n in UNCACHED_SIZES[:uncached]]
        browsers = [first, *[await launch() for _ in range(1, -(-len(urls) // PER_BROWSER))]]
        results = await asyncio.gather(*(_visit(browsers[i % len(browsers)], url, cached)
                                         for i, (url, cached) in enumerate(urls)))
        for browser in browsers:
            await browser.close()
    return results


def _replica_names(addresses: dict) -> dict:
    """Caddy's cookie value for each replica (`{name: "host:port"}`): the hex HMAC-SHA256 of the
    upstream's address under the policy's secret, none here."""
    return {hmac.new(b"", address.encode(), hashlib.sha256).hexdigest(): name
            for name, address in addresses.items()}


def _summary(results: list, logs: list, peaks: dict, seconds: float,
             replicas: Optional[dict] = None) -> dict:
    def times(cached: bool) -> list:
        return sorted(r["first_chart_s"] for r in results
                      if r["first_chart_s"] is not None and r["cached"] == cached)
    cached, fresh = times(True), times(False)
    return {"sessions": len(results),
            "served": sum(r["first_chart_s"] is not None and not r["errors"] for r in results),
            "errors": [r for r in results if r["errors"]],
            "cached_first_chart_s": {"median": statistics.median(cached), "max": cached[-1]},
            "uncached_first_chart_s": {"median": statistics.median(fresh), "max": fresh[-1]}
            if fresh else None,
            "computations": [m.group(1) for log in logs for m in COMPUTED.finditer(
                Path(log).read_text())],
            "peak_rss_mib": peaks, "wall_s": round(seconds, 1),
            # Sessions per replica, by the cookie each browser was given (served or not).
            "sessions_per_replica": dict(sorted(Counter(
                replicas.get(r.get("replica"), f"no or unknown cookie: {r.get('replica')}")
                for r in results
            ).items())) if replicas else None}


def replicas(sessions: int, uncached: int, folder: Path) -> dict:
    with ExitStack() as stack:
        redis_server = Server()
        stack.callback(redis_server.stop)
        shared = {"IBL_CACHE_URL": redis_server.url, "IBL_WORKERS": "1"}
        env = dict(os.environ, **shared, IBL_CACHE_DIR=str(folder / "w"), JAX_PLATFORMS="cpu",
                   PYTHONPATH=str(ROOT))
        worker_log = folder / "worker.log"
        worker = subprocess.Popen([sys.executable, "-m", "engine", "worker"], cwd=ROOT, env=env,
                                  stdout=open(worker_log, "w"), stderr=subprocess.STDOUT)
        stack.callback(worker.kill)
        logs = [folder / "a.log", folder / "b.log"]
        (a, pa) = stack.enter_context(served_app(folder / "a", logs[0], **shared))
        (b, pb) = stack.enter_context(served_app(folder / "b", logs[1], **shared))
        port = _free_port()
        caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
        caddyfile = re.sub(r"dynamic a [^{]*\{[^}]*\}", f"to {a[7:]} {b[7:]}", caddyfile)
        (folder / "Caddyfile").write_text(caddyfile.replace(":8080 {", f"http://127.0.0.1:{port} {{"))
        proxy = subprocess.Popen([shutil.which("caddy"), "run", "--adapter", "caddyfile",
                                  "--config", str(folder / "Caddyfile")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(proxy.kill)
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        peaks = Peaks({"web a": pa.pid, "web b": pb.pid, "worker": worker.pid,
                       "redis": redis_server.process.pid, "caddy": proxy.pid})
        start = time.perf_counter()
        results = asyncio.run(_load(f"http://127.0.0.1:{port}", sessions, uncached))
        return _summary(results, [*logs, worker_log], peaks.stop(), time.perf_counter() - start,
                        _replica_names({"web a": a[7:], "web b": b[7:]}))


def embedded(sessions: int, uncached: int, folder: Path) -> dict:
    log = folder / "server.log"
    with served_app(folder / "cache", log) as (base, process):
        peaks = Peaks({"web": process.pid})
        start = time.perf_counter()
        results = asyncio.run(_load(base, sessions, uncached))
        return _summary(results, [log], peaks.stop(), time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--uncached", type=int, default=4, choices=range(len(UNCACHED_SIZES) + 1))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, run in (("replicas", replicas), ("embedded", embedded)):
        with tempfile.TemporaryDirectory(prefix=f"ibl-bench-{name}-") as folder:
            report[name] = run(args.sessions, args.uncached, Path(folder))
        print(name, json.dumps(report[name], indent=1, default=str), flush=True)
    (OUT / "replicas.json").write_text(json.dumps(report, indent=1, default=str))
    return 0 if all(r["served"] == r["sessions"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
