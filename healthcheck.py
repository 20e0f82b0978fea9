"""The container's health check: exit 0 when the dashboard can serve a visitor, 1 (saying why) when not.

Docker's HEALTHCHECK runs it every 30 s inside the container (`python healthcheck.py`). Each check
is something a visitor needs; any one failing marks the container unhealthy:

1. Streamlit's server answers `/_stcore/health` with `ok` within the timeout (a crashed, hung or
   stopped server does not);
2. it serves the app's page, `/`, with status 200 (the front end a browser loads);
3. the result cache keeps results: `engine.cache.probe()` validates the `IBL_*` settings, then
   writes, reads back and deletes a real entry through the cache's own code, so a full disk, a
   damaged or read-only store and an unusable `IBL_CACHE_DIR` fail it (a damaged store is moved
   aside and replaced by the probe, as by the server, and reported once).

`engine.cache` is loaded without the engine package's start-up (which imports JAX, about 2 s), so
the whole check takes a fraction of a second and stays well inside its timeout on a busy machine.

Environment: IBL_HEALTH_URL (default http://127.0.0.1:8501), IBL_HEALTH_TIMEOUT_S (default 3, per
request; both fit the HEALTHCHECK's 10 s), IBL_CACHE_DIR (set by the image).
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
import sys
import types
import urllib.request
from typing import Callable, Optional

ROOT = pathlib.Path(__file__).resolve().parent


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def problems(base: str, timeout: float,
             cache_probe: Optional[Callable[[], list[str]]] = None) -> list[str]:
    """What keeps the app at `base` from serving, as sentences; empty when it is healthy.
    `cache_probe` (`engine.cache.probe`) says what keeps the result cache from working."""
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
    if cache_probe is not None:
        try:
            found += cache_probe()
        except Exception as error:  # the check itself failed: say so, never a traceback
            found.append(f"the result cache could not be checked: {error}.")
    return found


def engine_cache() -> types.ModuleType:
    """`engine.cache`, imported under a bare `engine` package (its path and version only) when
    the engine is not loaded yet: the cache needs neither JAX nor the package's constructors."""
    if "engine" not in sys.modules:
        source = (ROOT / "engine" / "__init__.py").read_text()
        package = types.ModuleType("engine")
        package.__path__ = [str(ROOT / "engine")]
        package.__version__ = re.search(r'__version__ = "([^"]+)"', source).group(1)
        sys.modules["engine"] = package
    return importlib.import_module("engine.cache")


def main() -> int:
    base = os.environ.get("IBL_HEALTH_URL", "http://127.0.0.1:8501").rstrip("/")
    raw = os.environ.get("IBL_HEALTH_TIMEOUT_S", "3")
    try:
        timeout = float(raw)
        found = [] if 0 < timeout < float("inf") else [None]
    except ValueError:
        found = [None]
    if found:
        found = [f"IBL_HEALTH_TIMEOUT_S={raw!r} must be a positive number of seconds, e.g. 3."]
    else:
        found = problems(base, timeout, lambda: engine_cache().probe())
    for problem in found:
        print("unhealthy:", problem)
    if not found:
        print("ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
