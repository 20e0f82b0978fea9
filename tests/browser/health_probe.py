"""Asks a server's `/_stcore/health` every few tenths of a second from a process of its own, as a
load balancer or Docker would, until stopped: `python tests/browser/health_probe.py URL EVERY_S`.

It prints a line per request, `answered_s late_s ok`: how long the server took to answer (10 s at
most, Docker's HEALTHCHECK timeout), how late this process woke from its sleep before it (what the
loaded machine alone costs any process, the reference for the first figure), and whether the
answer was `ok`. Being its own process, its figures do not include the waits of the process that
drives the browsers (its interpreter lock is busy with ten pages' traffic)."""

from __future__ import annotations

import sys
import time
import urllib.request

TIMEOUT_S = 10.0


def main(url: str, every_s: float) -> None:
    late = 0.0
    while True:
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                ok = response.read().strip() == b"ok"
        except OSError:  # refused, reset or timed out
            ok = False
        print(f"{time.perf_counter() - start:.4f} {late:.4f} {int(ok)}", flush=True)
        slept = time.perf_counter()
        time.sleep(every_s)
        late = time.perf_counter() - slept - every_s


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
