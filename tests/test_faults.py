"""The result cache degrades, never fails, with real files and real processes: a damaged store is
moved aside and a fresh one started; a write that fails (a size-limited file system, a read-only
one) still returns the computed result, says it was not saved and leaves no file behind; a
read-only cache serves what it holds; a cache directory that is a file is reported with a sentence
and the views are computed without a cache. On a page, the visitor gets the charts and a sentence,
never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from engine import cache
from tests.apptest_helpers import charts, open_page

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = textwrap.dedent("""
    import dataclasses, json, os, resource, signal, sys
    import numpy as np
    from engine import cache

    @dataclasses.dataclass(frozen=True)
    class Spec:
        n: int

    @cache.cached("test.faults")
    def ramp(spec, *, progress=None):
        with open(os.environ["CALLS"], "a") as f:
            f.write("x")
        return np.arange(spec.n, dtype=np.float64)

    if os.environ.get("FILE_LIMIT"):  # a file system that is full after FILE_LIMIT bytes a file
        cache.store()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = int(os.environ["FILE_LIMIT"])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    value = ramp(Spec(n=int(sys.argv[1])))
    print(json.dumps({"sum": float(value.sum()), "saved": cache.last_saved(),
                      "degraded": cache.degraded()}))
""")


def _child(cache_dir, calls, n, *, wrap=(), **env):
    """Compute `ramp(n)` in a fresh process on `cache_dir`; its JSON line, and its stderr."""
    environment = dict(os.environ, IBL_CACHE_DIR=str(cache_dir), CALLS=str(calls),
                       JAX_PLATFORMS="cpu", **env)
    out = subprocess.run([*wrap, sys.executable, "-c", _CHILD, str(n)], env=environment,
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def _sum(n):
    return float(n * (n - 1) // 2)


def test_a_damaged_store_is_moved_aside_and_a_fresh_one_started(cache_dir, tmp_path):
    calls = tmp_path / "calls"
    first, _ = _child(cache_dir, calls, 1000)
    assert first == {"sum": _sum(1000), "saved": True, "degraded": None}
    (cache_dir / "results" / "cache.db").write_bytes(b"this is not an SQLite database, 42 bytes")
    for extra in ("cache.db-wal", "cache.db-shm"):
        (cache_dir / "results" / extra).unlink(missing_ok=True)
    again, log = _child(cache_dir, calls, 1000)
    assert again == {"sum": _sum(1000), "saved": True, "degraded": None}  # a fresh, whole store
    assert "Traceback" not in log
    assert log.count("was damaged") == 1 and "moved to" in log
    aside = [p for p in cache_dir.iterdir() if p.name.startswith("results.damaged-")]
    assert len(aside) == 1 and (aside[0] / "cache.db").read_bytes().startswith(b"this is not")
    # The fresh store keeps what was computed again: a third process reads it.
    third, _ = _child(cache_dir, calls, 1000)
    assert third == {"sum": _sum(1000), "saved": True, "degraded": None}
    assert calls.read_text() == "xx"


def test_a_full_file_system_serves_the_result_unsaved_and_leaves_no_file(cache_dir, tmp_path):
    calls = tmp_path / "calls"
    n = 200_000  # 1.6 MB of float64: a value file, cut short by the 256 KiB limit
    result, log = _child(cache_dir, calls, n, FILE_LIMIT=str(256 * 1024))
    assert result["sum"] == _sum(n) and result["saved"] is False
    assert "not saved" in log and "Traceback" not in log
    values = list((cache_dir / "results").rglob("*.val"))
    assert values == [], f"a partial value file was left behind: {values}"
    cache._stores.clear()
    assert len(cache.store()) == 0
    # With room again, the next visitor's computation is kept.
    again, _ = _child(cache_dir, calls, n)
    assert again == {"sum": _sum(n), "saved": True, "degraded": None}
    assert calls.read_text() == "xx"


def test_a_read_only_cache_serves_what_it_holds(cache_dir, tmp_path):
    if shutil.which("unshare") is None:
        pytest.fail("util-linux's `unshare` is needed to mount the cache read-only "
                    "(apt-get install -y util-linux)")
    calls = tmp_path / "calls"
    for n in (10, 100_000):  # a value kept in the index, and one in a value file
        _child(cache_dir, calls, n)
    wrap = ("unshare", "-rm", "sh", "-c",
            f'mount --bind -o ro "{cache_dir}" "{cache_dir}" && exec "$0" "$@"')
    held, log = _child(cache_dir, calls, 100_000, wrap=wrap)
    assert held["sum"] == _sum(100_000) and held["saved"] is True
    assert "cannot be written" in held["degraded"], held
    small, _ = _child(cache_dir, calls, 10, wrap=wrap)
    assert small["sum"] == _sum(10)
    assert calls.read_text() == "xx"  # both served from the read-only cache
    new, log = _child(cache_dir, calls, 7, wrap=wrap)
    assert new["sum"] == _sum(7) and new["saved"] is False
    assert "Traceback" not in log


def test_a_cache_directory_that_is_a_file_is_reported_and_views_still_compute(tmp_path):
    calls = tmp_path / "calls"
    not_a_dir = tmp_path / "cache-is-a-file"
    not_a_dir.write_text("not a directory")
    result, log = _child(not_a_dir, calls, 100)
    assert result["sum"] == _sum(100) and result["saved"] is False
    assert "cannot be used" in result["degraded"] and "IBL_CACHE_DIR" in result["degraded"]
    assert "Traceback" not in log


def test_a_page_on_an_unusable_cache_draws_its_charts_and_says_so(tmp_path, monkeypatch):
    not_a_dir = tmp_path / "cache-is-a-file"
    not_a_dir.write_text("not a directory")
    monkeypatch.setenv("IBL_CACHE_DIR", str(not_a_dir))
    at = open_page(os.path.join(ROOT, "app_pages", "eigenstructure.py"), view="sphere",
                   sphere_d="3", k_max="40")
    assert not at.exception, [e.value for e in at.exception]
    assert any("not saved" in w.value and "IBL_CACHE_DIR" in w.value for w in at.warning), \
        [w.value for w in at.warning]
    assert charts(at) and all(figure["data"] for figure in charts(at))
