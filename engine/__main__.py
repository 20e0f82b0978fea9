"""Command line: `python -m engine warm` fills the result cache with every page's default and preset
views (the Docker image runs it at build time); `python -m engine warm --defaults` with the views the
pages open on, quickest first (`python serve.py`, so `make run`, runs it in the background at start);
`python -m engine info` prints where the cache is; `python -m engine worker` computes the views web
processes queue (`engine.jobs`, `engine.worker`).
"""

from __future__ import annotations

import argparse
import sys
import time

from engine import cache
from engine.redis_store import redacted
from engine.experiments import default_views, warm_list


def warm_jobs(defaults: bool = False) -> list:
    """`(cached function, spec)` that `warm` computes, in order: every default and preset view in
    page order, or with `defaults` only the views the pages open on, quickest first (by their
    estimates), so that as many as possible are ready as soon as possible."""
    if not defaults:
        return warm_list()
    return sorted(default_views().values(), key=lambda job: job[0].estimate_seconds(job[1]) or 0)


def _warm(args: argparse.Namespace) -> int:
    cache.enable_compilation_cache()
    jobs = warm_jobs(args.defaults)
    print(f"Warming {len(jobs)} views into {cache.cache_dir()} (engine {cache.ENGINE_KEY})", flush=True)
    start = time.perf_counter()
    for i, (fn, spec) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        hit = fn.lookup(spec) is not None
        if not hit:
            fn(spec)
        state = "cached" if hit else f"{time.perf_counter() - t0:6.1f} s"
        print(f"[{i:>3}/{len(jobs)}] {fn.name:<28} {state}  {cache.canonical(fn.normalise(spec))}",
              flush=True)
    print(f"Done in {time.perf_counter() - start:.1f} s.", flush=True)
    return 0


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
