"""Computations on workers: a view's computation handed to a queue in Redis (RQ) and done by a
worker process (`python -m engine worker`, `engine.worker`), which stores the result in the shared
cache; the web process that asked waits for it, passing the worker's progress on to the page.

Turned on by `IBL_WORKERS=1` beside `IBL_CACHE_URL` (the queue lives on the cache's Redis server).
RQ was chosen over Celery (a broker, a result backend and many settings for what is here one queue
of one kind of job) and Dramatiq (a killed worker's message is redelivered forever, with no count
of its attempts): RQ is Redis only, keeps each job's state and metadata where the web process can
read them, and retries an abandoned job (its worker died) a set number of times
(`Retry(max=RETRIES)`), then marks it failed.

- **No code from Redis**: jobs are serialised as JSON (RQ's `JSONSerializer`), the spec inside as
  an `engine.codec` archive, and a job naming any function but `FUNCTION` is refused (`Job.func`),
  so whoever can write to the Redis server cannot make a worker run code of their choosing.
- **One job per view**: a job's id is `ibl-<cache key>`; a web process asking for a view whose job
  is queued or running waits on that job instead of adding another.
- **One view per visitor at a time**: a web process sends a visitor's views to the queue one after
  the other (`engine.cache.worker_turns`), so two tabs of one browser cannot put two jobs ahead of
  other visitors'; jobs are taken first come, first served, and a page waiting on a queued job is
  told its place in the queue (`wait`'s `waiting`).
- **A worker killed mid-job** (`kill -9`, a lost machine) stops its heartbeat (every
  `guard.heartbeat_s()`, 5 s by default, expiring after three); a web process waiting on the job
  then finds it abandoned (RQ's `StartedJobRegistry.cleanup`) and it is queued again once, for the
  next worker; abandoned twice, it fails and the page says so in a sentence.
- **No worker reachable** (none alive, `live_workers`; the server down; a job queued
  `QUEUED_PATIENCE_S` without being taken): `submit` returns None or `wait` raises `NoWorker`, and
  the web process computes the view itself, with a notice (`engine.cache`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from typing import Any, Callable, Optional

import redis
import rq
from rq import worker_registration
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from engine import codec, guard
from engine.redis_store import TIMEOUT_S
from engine.slots import REPORT_EVERY_S, Queued, Waiting

WORKERS_ENV = "IBL_WORKERS"
QUEUE = "ibl"
FUNCTION = "engine.worker.compute"
"""The only function a job may name."""
RETRIES = 1
"""Times an abandoned job (its worker died) is queued again before it fails."""
POLL_S = 0.2
QUEUED_PATIENCE_S = 30.0
"""How long a job may wait in the queue, no worker taking it, before the web process computes it."""
RESULT_TTL_S = 600
"""How long a finished job's record is kept (the result itself is in the cache)."""


class NoWorker(RuntimeError):
    """No worker took the job: compute it here."""


class JobFailed(ValueError):
    """The job failed on its worker (an error, or abandoned more than `RETRIES` times): a
    `ValueError`, so a page shows its sentence as it shows a refusal."""


class SafeJob(Job):
    """An RQ job that runs `FUNCTION` and nothing else."""

    @property
    def func(self):
        if self.func_name != FUNCTION:
            raise ValueError(f"a job naming {self.func_name!r} was refused: only {FUNCTION} runs")
        return super().func


def enabled() -> bool:
    """Whether views go to workers: `IBL_WORKERS=1` and a shared cache (`IBL_CACHE_URL`)."""
    return (os.environ.get(WORKERS_ENV, "").strip() == "1"
            and bool(os.environ.get("IBL_CACHE_URL", "").strip()))


def connection(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)


def queue(client: redis.Redis) -> rq.Queue:
    return rq.Queue(QUEUE, connection=client, job_class=SafeJob, serializer=JSONSerializer)


def job_id(key: str) -> str:
    return f"ibl-{key}"


def encode_spec(spec: Any) -> str:
    return base64.b64encode(codec.encode(spec)).decode()


def decode_spec(text: str) -> Any:
    return codec.decode(base64.b64decode(text, validate=True))


def live_workers(jobs: rq.Queue) -> int:
    """How many workers of `jobs` beat within their last three heartbeats: a worker keeps its key
    for three heartbeats at each beat, idle or busy (`engine.worker.Worker`), so the keys that
    still exist, by the Redis server's clock, are the live workers. (RQ's own count keeps a dead
    worker for a minute or more, during which views would be queued for no one.)"""
    keys = list(worker_registration.get_keys(queue=jobs))
    return int(jobs.connection.exists(*keys)) if keys else 0


def submit(url: str, name: str, key: str, spec: Any, timeout_s: Optional[float]) -> Optional[Job]:
    """The job computing view `name` at `spec` (cache key `key`): the one already queued or running,
    or a new one. None when no worker is alive or the server cannot be reached."""
    try:
        client = connection(url)
        jobs = queue(client)
        if not live_workers(jobs):
            return None
        try:
            job = SafeJob.fetch(job_id(key), connection=client, serializer=JSONSerializer)
            if job.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED,
                                    JobStatus.SCHEDULED):
                return job
            job.delete()
        except rq.exceptions.NoSuchJobError:
            pass
        return jobs.enqueue(FUNCTION, name, encode_spec(spec), job_id=job_id(key),
                            retry=rq.Retry(max=RETRIES), result_ttl=RESULT_TTL_S,
                            failure_ttl=RESULT_TTL_S,
                            job_timeout=-1 if timeout_s is None else int(timeout_s) + 60)
    except (redis.ConnectionError, redis.TimeoutError):
        return None


def wait(job: Job, progress: Optional[Callable[[int, int], None]] = None,
         waiting: Waiting = None) -> None:
    """Wait until `job` is done, passing its progress on, and, while it waits in the queue, its
    place there to `waiting` (`engine.slots.Queued`: `ahead` jobs are taken before it, `running`
    are being computed), at least every `slots.REPORT_EVERY_S`. Raises `JobFailed` (with the
    worker's sentence) when it failed, `NoWorker` when no worker took it in `QUEUED_PATIENCE_S` or
    the server went away."""
    queued_since = time.monotonic()
    last_cleanup = last_place = 0.0
    reported = None
    registry = StartedJobRegistry(queue=queue(job.connection))
    heartbeat = guard.heartbeat_s()
    try:
        while True:
            status = job.get_status(refresh=True)
            if (waiting is not None and status == JobStatus.QUEUED
                    and time.monotonic() - last_place >= REPORT_EVERY_S):
                ahead = job.get_position()
                waiting(Queued(ahead=ahead or 0, running=registry.get_job_count(cleanup=False),
                               mine=False))
                last_place = time.monotonic()
            if status in (JobStatus.STARTED, JobStatus.FINISHED):
                queued_since = time.monotonic()
                meta = job.get_meta(refresh=True).get("progress")
                if progress is not None and meta and meta != reported:
                    reported = meta
                    progress(*meta)
            if status == JobStatus.FINISHED:
                return
            if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                raise JobFailed(f"The worker could not compute this view: {_failure(job)}.")
            if status != JobStatus.STARTED and time.monotonic() - queued_since > QUEUED_PATIENCE_S:
                with contextlib.suppress(Exception):
                    job.cancel()
                raise NoWorker(f"no worker took the job in {QUEUED_PATIENCE_S:.0f} s")
            if time.monotonic() - last_cleanup > heartbeat:
                registry.cleanup()  # a job whose worker died: queued again, or failed
                last_cleanup = time.monotonic()
            time.sleep(POLL_S)
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise NoWorker(f"the queue's Redis server went away ({error})") from error


def _failure(job: Job) -> str:
    """The sentence a failed job left (its exception's message), or why it failed."""
    result = job.latest_result()
    text = (result.exc_string or "") if result is not None else ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if lines and "AbandonedJobError" not in lines[-1]:
        return lines[-1].split(": ", 1)[-1]
    return (f"its worker stopped in the middle of it {RETRIES + 1} times (killed, or out of "
            "memory); try again, or choose a smaller view")
