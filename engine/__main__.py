"""Command line: `python -m engine warm` fills the result cache with every page's default and preset
views (the Docker image runs it at build time); `python -m engine warm --defaults` with the views the
pages open on, quickest first (`python serve.py`, so `make run`, runs it in the background at start);
`python -m engine info` prints where the cache is; `python -m engine worker` computes the views web
processes queue (`engine.jobs`, `engine.worker`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from engine import cache, guard
from engine.redis_store import redacted
from engine.experiments import default_views, warm_list


def warm_jobs(defaults: bool = False) -> list:
    """`(cached function, spec)` that `warm` computes, in order: every default and preset view in
    page order, or with `defaults` only the views the pages open on, quickest first (by their
    estimates), so that as many as possible are ready as soon as possible."""
    if not defaults:
        return warm_list()
    return sorted(default_views().values(), key=lambda job: job[0].estimate_seconds(job[1]) or 0)


WARM_TIME_BUDGET_S = 86400.0
"""The time budget in a warm's process (a day): the budget is what a visitor may be asked to wait,
and no one waits on a warm, which on a busy machine (an image build beside other work, a server's
background warm during a lecture) may be estimated well past a visitor's budget. The memory budget
and the overrun guard (`guard.overrun_after`, at the machine's load) still hold."""


def _warm(args: argparse.Namespace) -> int:
    """Compute `warm_jobs` in order. A view that cannot be computed is reported in a line and the
    warm goes on with the next; the exit status is 1 when any could not."""
    os.environ[guard.TIME_BUDGET_ENV] = str(WARM_TIME_BUDGET_S)
    cache.enable_compilation_cache()
    jobs = warm_jobs(args.defaults)
    print(f"Warming {len(jobs)} views into {cache.cache_dir()} (engine {cache.ENGINE_KEY})", flush=True)
    start, failed = time.perf_counter(), 0
    for i, (fn, spec) in enumerate(jobs, 1):
        t0, shown = time.perf_counter(), spec
        try:
            shown = fn.normalise(spec)
            hit = fn.lookup(spec) is not None
            if not hit:
                fn(spec)
            state = "cached" if hit else f"{time.perf_counter() - t0:6.1f} s"
        except Exception as error:  # noqa: BLE001 - reported, and the warm goes on
            failed += 1
            state = f"NOT COMPUTED: {error}"
            if not isinstance(error, ValueError):  # a refusal is a sentence; anything else a bug
                traceback.print_exc()
        print(f"[{i:>3}/{len(jobs)}] {fn.name:<28} {state}  {cache.canonical(shown)}", flush=True)
    print(f"Done in {time.perf_counter() - start:.1f} s" +
          (f"; {failed} of {len(jobs)} views could not be computed." if failed else "."), flush=True)
    return 1 if failed else 0


def _info(args: argparse.Namespace) -> int:
    store = cache.store()
    where = cache.cache_url()
    print(f"cache:           {redacted(where) if where else cache.cache_dir()}")
    print(f"engine key:      {cache.ENGINE_KEY}")
    if cache.degraded():
        print(f"degraded:        {cache.degraded()}")
        return 1
    print(f"entries:         {len(store)}")
    print(f"size:            {store.volume() / 2**20:.1f} MiB of {store.size_limit / 2**20:.0f} MiB")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from engine import worker

    return worker.main()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    warm = commands.add_parser("warm", help="compute every page's default and preset views into the "
                                            "cache")
    warm.add_argument("--defaults", action="store_true",
                      help="only the view each page opens on, quickest first")
    commands.add_parser("info", help="print the cache's location, key and size")
    commands.add_parser("worker", help="compute the views web processes queue (IBL_WORKERS=1) on "
                                       "IBL_CACHE_URL's Redis server, until stopped")
    args = parser.parse_args(argv)
    return {"warm": _warm, "info": _info, "worker": _worker}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
