"""The worker: `python -m engine worker` takes view computations from the queue in Redis
(`engine.jobs`) and computes them through the cache, as a web process would, so the result lands
in the shared cache (`IBL_CACHE_URL`) for every web process to read.

It runs jobs in its own process, one at a time (RQ's `SimpleWorker`: no fork, which JAX does not
survive, and its programs stay compiled between jobs), and says it is alive every
`guard.heartbeat_s()` from a thread while a job runs, so that a worker killed mid-job is noticed
within three heartbeats and its job given to the next worker (`engine.jobs`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from typing import Any

import rq
from rq.serializers import JSONSerializer

from engine import cache, guard, jobs
from engine.experiments import cached_views

PROGRESS_EVERY_S = 0.25
"""The least time between two progress reports a job writes to Redis."""


def compute(name: str, spec_text: str) -> str:
    """The job: view `name` at the spec `spec_text` (`jobs.encode_spec`), computed through the
    cache (read if present, locked, stored); its progress kept in the job's metadata. Returns
    the cache key."""
    views = cached_views()
    if name not in views:
        raise ValueError(f"there is no view named {name!r}")
    view = views[name]
    spec = view.normalise(jobs.decode_spec(spec_text))
    job = rq.get_current_job()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if job is not None and (now - last[0] >= PROGRESS_EVERY_S or done >= total):
            last[0] = now
            job.meta["progress"] = [int(done), int(total)]
            with contextlib.suppress(Exception):
                job.save_meta()

    view(spec, progress=progress)
    if not cache.last_saved():
        raise RuntimeError("the worker computed the view but could not save it to the shared "
                           f"cache: {cache.degraded() or 'see the worker log'}")
    return view.key(spec)


RQ_DEQUEUE_MARGIN_S = 15
"""RQ blocks on the queue for `worker_ttl` less this many seconds between heartbeats."""


class Worker(rq.SimpleWorker):
    """RQ's `SimpleWorker` that beats every `heartbeat_s` seconds, idle (its dequeue loop wakes
    that often) or busy (a thread in `execute_job`; RQ's own beats only between jobs), and keeps
    its key and its job's for three beats at a time instead of RQ's minute and more: a worker
    that dies leaves `jobs.live_workers` within three heartbeats, and a job it held is soon
    abandoned."""

    def __init__(self, *args: Any, heartbeat_s: float = guard.DEFAULT_HEARTBEAT_S, **kwargs: Any):
        self.heartbeat_s = heartbeat_s
        super().__init__(*args, job_monitoring_interval=heartbeat_s,
                         worker_ttl=RQ_DEQUEUE_MARGIN_S + math.ceil(heartbeat_s), **kwargs)

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        return max(1, math.ceil(3 * self.heartbeat_s))

    def heartbeat(self, timeout: Any = None, pipeline: Any = None) -> None:
        super().heartbeat(self.get_heartbeat_ttl(None), pipeline=pipeline)

    def execute_job(self, job: Any, queue: Any) -> None:
        execution = self.prepare_execution(job)
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.heartbeat_s):
                with contextlib.suppress(Exception):
                    self.maintain_heartbeats(job, execution)

        beating = threading.Thread(target=beat, name="ibl-worker-heartbeat", daemon=True)
        beating.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            done.set()
            beating.join()
        self.set_state(rq.worker.WorkerStatus.IDLE)


def main() -> int:
    """Run a worker on `IBL_CACHE_URL`'s queue until stopped."""
    url = cache.cache_url()
    if not url:
        print("python -m engine worker needs IBL_CACHE_URL (the shared cache's Redis server).",
              file=sys.stderr)
        return 2
    try:
        heartbeat = guard.heartbeat_s()
    except ValueError as error:
        print(f"python -m engine worker: {error}", file=sys.stderr)
        return 2
    os.environ[jobs.WORKERS_ENV] = "0"  # this process computes what it takes, never re-queues it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cache.enable_compilation_cache()
    client = jobs.connection(url)
    worker = Worker([jobs.queue(client)], connection=client, job_class=jobs.SafeJob,
                    serializer=JSONSerializer, heartbeat_s=heartbeat, maintenance_interval=60)
    worker.work(with_scheduler=False)
    return 0
