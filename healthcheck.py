"""The container's health check: exit 0 when the dashboard can serve a visitor, 1 (saying why) when not.

Docker's HEALTHCHECK runs it every 30 s inside the container (`python healthcheck.py`). Each check
is something a visitor needs; any one failing marks the container unhealthy:

1. Streamlit's server answers `/_stcore/health` with `ok` within the timeout (a crashed, hung or
   stopped server does not);
2. it serves the app's page, `/`, with status 200 (the front end a browser loads);
3. the result cache directory (`IBL_CACHE_DIR`) exists and the server's user can write to it: a view
   not yet in the cache is computed and stored there, and fails when it cannot be.

Environment: IBL_HEALTH_URL (default http://127.0.0.1:8501), IBL_HEALTH_TIMEOUT_S (default 3, per
request; both fit the HEALTHCHECK's 10 s), IBL_CACHE_DIR (set by the image).
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import urllib.request


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def problems(base: str, timeout: float, cache_dir: str | None) -> list[str]:
    """What keeps the app at `base` from serving, as sentences; empty when it is healthy."""
    found = []
    try:
        status, body = _get(base + "/_stcore/health", timeout)
        if body.strip() != b"ok":
            found.append(f"/_stcore/health answered {status} {body[:80]!r}, not ok.")
    except Exception as error:  # refused, timed out, reset: the server cannot serve
        found.append(f"/_stcore/health did not answer within {timeout:g} s: {error}.")
        return found  # the page would fail for the same reason
    try:
        status, _ = _get(base + "/", timeout)
        if status != 200:
            found.append(f"/ answered {status}, not 200.")
    except Exception as error:
        found.append(f"/ did not answer within {timeout:g} s: {error}.")
    if cache_dir:
        folder = pathlib.Path(cache_dir)
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".health-"):
                pass
        except OSError as error:
            found.append(f"the cache directory {folder} is not writable: {error}.")
    return found


def main() -> int:
    base = os.environ.get("IBL_HEALTH_URL", "http://127.0.0.1:8501").rstrip("/")
    timeout = float(os.environ.get("IBL_HEALTH_TIMEOUT_S", "3"))
    found = problems(base, timeout, os.environ.get("IBL_CACHE_DIR"))
    for problem in found:
        print("unhealthy:", problem)
    if not found:
        print("ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
