"""The result cache: computed once, shared by every session and process, kept across restarts.

Built on `diskcache` (SQLite index plus one file per large value): it is process- and thread-safe,
so the dashboard's sessions (threads) and a `python -m engine warm` run in another process share one
store; it bounds its size and evicts the least recently used entries; and it needs no server.
(joblib.Memory was the other candidate: it keys on code as well, but has no size bound and no
process-safe locking, so two sessions asking for one view would both compute it.)

A key is the SHA-256 of the canonical JSON of `(function name, spec, ENGINE_KEY)`, where
`ENGINE_KEY` is the engine's version plus a digest of its source files: any change to the engine
invalidates every stored result, and an unchanged engine (a Docker image warmed at build time)
finds them all.

Faults:

- An entry is stored as the SHA-256 of its bytes followed by the bytes: an `engine.codec`
  archive of arrays and a typed JSON manifest, never a pickle, so loading an entry runs no code of
  the file's choosing (one planted by anyone who can write to the cache directory). A read that
  fails (a missing or unreadable file), or whose bytes do not match their digest (a file truncated
  or overwritten on disk), or that does not decode into the view's result type, counts as a miss:
  the entry is deleted and the result computed again.
- A result is written only after its computation has returned, in one SQLite transaction (diskcache
  writes a large value's file first, then commits the row that points to it), so a computation
  killed half-way leaves nothing behind.
- While one caller computes a key, the others wait on a lock file of that key (`locks/` under the
  cache directory, `fcntl.flock`): the operating system releases it when its holder exits, even by
  `kill -9`, so a killed computation never blocks the next caller, which computes it afresh.

Load: at most `engine.guard.max_computations()` computations run at once in one process
(`engine.slots.Slots`, `IBL_MAX_COMPUTATIONS`, default 2), at most one per visitor (`owner`), first
come first served, each waiting caller told where it stands. A caller takes a slot after it holds
its key's lock and has read the cache once more, and gives it back as soon as its computation
returns: callers of one key wait on the key's lock (and then read the result), a cached read never
waits, and only distinct computations queue for slots. Since every view is refused beforehand when
its estimated memory exceeds `engine.guard.memory_budget()`, a server's memory stays within about
`max_computations() * memory_budget()` above its baseline, however many sessions (a lecture hall)
ask for different views at once. A computation that runs well past its estimate (at the highest
load seen since it started), or past its budget, is stopped at its next progress report
(`guard.overrun_after`), so a slot is never held for much longer than the visitor was told.

Estimates that hold: a view's `estimate` is a model of its work with constants fitted on one idle
CPU. Each computation records how long it took against that estimate (`calibration`), and
`Cached.estimate_seconds` returns the estimate times the median of the view's recent ratios (of
every view's while it has too few of its own) times how busy the machine is now (`load_factor`,
from the threads of other work ready to run: `engine.load`), so
the ask-first rule of the pages and the time budget of a computation about to start read the
figure this machine measured. The budget check of `normalise` stays on the uncalibrated figure, so
what a view may be and its cache key never depend on the machine's load.

Environment:
    IBL_CACHE_DIR      where results (and JAX's compiled programs, under `jax/`) are kept;
                       default `$XDG_CACHE_HOME/inductive-bias-lab` or `~/.cache/inductive-bias-lab`.
    IBL_CACHE_SIZE_MB  the size bound in MiB (default 2048).
    IBL_CACHE_URL      a Redis server to keep results in instead (`redis://host:6379/0`), shared
                       by every process and machine that names it: `engine.redis_store`, with the
                       same contract (locks that expire when their holder dies, damaged entries
                       dropped, the size bound, faults read as misses and unsaved writes).
    IBL_CALIBRATE      `0` turns the calibration of estimates off (the tests do, for estimates
                       that do not depend on what ran before).
    IBL_MAX_COMPUTATIONS, IBL_TIME_BUDGET_S, IBL_MEMORY_BUDGET_MB: see `engine.guard`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import pathlib
import sqlite3
import statistics
import threading
import time
import typing
from typing import Any, Callable, Generic, Hashable, Optional, TypeVar

import diskcache

import engine
from engine import codec, guard
from engine import load as cpu_load
from engine.slots import Slots, Waiting
from engine.guard import check_types

CACHE_DIR_ENV = "IBL_CACHE_DIR"
CACHE_SIZE_ENV = "IBL_CACHE_SIZE_MB"
CACHE_URL_ENV = "IBL_CACHE_URL"
DEFAULT_SIZE_MB = 2048
_DIGEST_BYTES = 32
_log = logging.getLogger(__name__)

Progress = Optional[Callable[[int, int], None]]
"""`progress(done, total)`: how much of a computation is done, in the work's own units."""
Partial = Optional[Callable[[Any], None]]
"""`partial(view)`: a computation's result so far, of the final result's type with what is not
computed yet missing (NaN), so that a page can draw its charts from the first results and fill
them in as the rest arrive. Called from the computing thread, a few times per computation."""
R = TypeVar("R")


def _source_digest() -> str:
    root = pathlib.Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


ENGINE_KEY = f"{engine.__version__}+{_source_digest()}"
"""Part of every key: the engine's version and a digest of its source."""


def cache_dir() -> pathlib.Path:
    """The cache's root directory, from `IBL_CACHE_DIR` or the user's cache directory."""
    if os.environ.get(CACHE_DIR_ENV):
        return pathlib.Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "inductive-bias-lab"


def _size_limit() -> int:
    raw = os.environ.get(CACHE_SIZE_ENV, str(DEFAULT_SIZE_MB))
    try:
        megabytes = float(raw)
    except ValueError:
        raise ValueError(f"{CACHE_SIZE_ENV}={raw!r} is not a number of MiB; set it to e.g. 2048.")
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise ValueError(f"{CACHE_SIZE_ENV}={raw!r} must be a positive number of MiB.")
    return int(megabytes * 2**20)


class _Disk(diskcache.Disk):
    """diskcache's value files, leaving nothing behind when a write fails: a file cut short (a full
    disk) is removed at once, and `write` removes the file of a value whose row was not committed
    (`stored_file`)."""

    _last = threading.local()

    def store(self, value, read, key=diskcache.core.UNKNOWN):
        _Disk._last.filename = None
        stored = super().store(value, read, key=key)
        _Disk._last.filename = stored[2]
        return stored

    def _write(self, full_path, iterator, mode, encoding=None):
        try:
            return super()._write(full_path, iterator, mode, encoding)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(full_path)
            raise

    @staticmethod
    def stored_file() -> Optional[str]:
        """The value file this thread's last `store` wrote (None for a value kept in the index)."""
        return getattr(_Disk._last, "filename", None)


class _ReadOnly:
    """A result cache on a read-only directory: what it holds, read from diskcache's SQLite index
    (opened read-only and immutable, so nothing is written, not even a lock) and value files.
    Writes fail with `OSError`, so new results are served unsaved."""

    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        uri = (directory / "cache.db").resolve().as_uri() + "?mode=ro&immutable=1"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._db.execute("SELECT key, raw, expire_time, mode, filename, value FROM Cache LIMIT 1")
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1 AND "
                "(expire_time IS NULL OR expire_time > ?)", (key, time.time())).fetchone()
        if row is None:
            return default
        mode, filename, value = row
        if mode == diskcache.core.MODE_RAW and isinstance(value, bytes):
            return value
        if mode == diskcache.core.MODE_BINARY and filename:
            return (self.directory / filename).read_bytes()
        return default  # what only the cache's bookkeeping stores (the calibration)

    def set(self, key: str, value: Any) -> None:
        raise OSError(f"the cache at {self.directory} is read-only")

    def delete(self, key: str) -> bool:
        return False

    def transact(self):
        raise OSError(f"the cache at {self.directory} is read-only")


class _Unavailable:
    """No result cache at all (an unusable `IBL_CACHE_DIR`): every read misses, every write fails
    with `OSError`, so views are computed and served but not kept."""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def set(self, key: str, value: Any) -> None:
        raise OSError("there is no usable cache directory")

    def delete(self, key: str) -> bool:
        return False

    def transact(self):
        raise OSError("there is no usable cache directory")


_stores: dict[tuple, Any] = {}
_stores_lock = threading.Lock()
_degraded: dict[str, str] = {}


def degraded() -> Optional[str]:
    """A sentence saying how the cache falls short (a read-only or unusable directory, a shared
    cache that cannot be reached), or None when it works in full. `store()` logs the directory's
    once; a Redis server is asked each time (it may come back)."""
    cache = store()
    if getattr(cache, "shared", False):
        return cache.problem()
    return _degraded.get(cache_url() or str(cache_dir()))


def _report(directory: str, sentence: str) -> None:
    _degraded[directory] = sentence
    _log.warning("%s", sentence)


def _damaged(error: BaseException) -> bool:
    """Whether an SQLite error means a damaged file (not a busy, locked or read-only one)."""
    return (isinstance(error, sqlite3.DatabaseError)
            and not isinstance(error, sqlite3.OperationalError))


def _open(directory: str, size_limit: int):
    """The store for `directory`: diskcache; a damaged one is moved aside (kept for inspection)
    and a fresh one opened; a read-only one is read in place (`_ReadOnly`); an unusable directory
    gives `_Unavailable`. Each fallback is reported once (`degraded`)."""
    results = pathlib.Path(directory) / "results"

    def fresh():
        return diskcache.Cache(str(results), size_limit=size_limit, disk=_Disk,
                               eviction_policy="least-recently-used")

    try:
        return fresh()
    except Exception as error:  # damaged, read-only, not a directory, no permission, full disk
        failure = error
    if _damaged(failure):
        aside = results.with_name(f"results.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        with contextlib.suppress(Exception):
            results.rename(aside)
            opened = fresh()
            # Logged, not `degraded`: the fresh store works in full.
            _log.warning("The result cache in %s was damaged (%s); it was moved to %s for "
                         "inspection and a fresh one started.", results, failure, aside)
            return opened
    with contextlib.suppress(Exception):
        opened = _ReadOnly(results)
        _report(directory, f"The result cache in {results} cannot be written ({failure}): the "
                           "results it holds are served, new ones are computed but not saved. "
                           "Make IBL_CACHE_DIR writable to keep them.")
        return opened
    _report(directory, f"The cache directory {directory} cannot be used ({failure}): results are "
                       "computed but not saved. Set IBL_CACHE_DIR to a writable directory.")
    return _Unavailable()


def cache_url() -> Optional[str]:
    """The shared cache's URL (`IBL_CACHE_URL`), or None for the embedded store."""
    return os.environ.get(CACHE_URL_ENV, "").strip() or None


def _open_shared(url: str, size_limit: int):
    """The Redis store at `url`, or `_Unavailable` (reported once) when the URL is malformed.
    (`engine.redis_store` and redis-py are imported only here: the embedded cache, and the health
    check on it, do without them.)"""
    from engine.redis_store import RedisStore

    try:
        return RedisStore(url, size_limit, guard.heartbeat_s())
    except ValueError as error:
        _report(url, f"{error} Results are computed but not saved meanwhile.")
        return _Unavailable()


def store():
    """The process's handle on the result cache (one per location and size bound): a
    `RedisStore` when `IBL_CACHE_URL` names one; else a `diskcache.Cache` at `cache_dir()`, or what
    is left of it when the directory is damaged, read-only or unusable (`_open`). It never raises
    but for a malformed `IBL_CACHE_SIZE_MB`."""
    url = cache_url()
    where = (url or str(cache_dir()), _size_limit())
    with _stores_lock:
        if where not in _stores:
            _stores[where] = _open_shared(*where) if url else _open(*where)
        return _stores[where]


def _recover(cache: Any, error: BaseException) -> None:
    """After `error` from `cache` in use: when its file turned out damaged, forget the handle, so
    that the next `store()` moves the file aside and starts a fresh one."""
    if not _damaged(error):
        return
    with _stores_lock:
        for where, opened in list(_stores.items()):
            if opened is cache:
                del _stores[where]
                with contextlib.suppress(Exception):
                    opened.close()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__,
                **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, float) and value == 0.0:
        return 0.0  # -0.0 is the same setting as 0.0: one entry, one computation
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"A cache key must be built from plain data, got {type(value).__name__}.")


def canonical(spec: Any) -> str:
    """The canonical JSON of a spec (dataclasses, dicts, lists, numbers, strings): sorted keys, no
    spaces, so equal specs give equal strings. `1` and `1.0` differ; specs should use one type."""
    return json.dumps(_plain(spec), sort_keys=True, separators=(",", ":"))


def cache_key(name: str, spec: Any) -> str:
    """SHA-256 of `(name, spec, ENGINE_KEY)` in canonical JSON."""
    text = canonical({"fn": name, "spec": spec, "engine": ENGINE_KEY})
    return hashlib.sha256(text.encode()).hexdigest()


_MISS = object()


def _pack(value: Any) -> bytes:
    """The stored form of a result: SHA-256 of its `engine.codec` archive (arrays and JSON,
    never a pickle), then the archive."""
    payload = codec.encode(value)
    return hashlib.sha256(payload).digest() + payload


def _unpack(blob: Any, expected: Optional[type] = None) -> Any:
    if not isinstance(blob, bytes) or len(blob) <= _DIGEST_BYTES:
        raise ValueError("not a stored result")
    digest, payload = blob[:_DIGEST_BYTES], blob[_DIGEST_BYTES:]
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError("its bytes do not match their digest")
    value = codec.decode(payload)
    if expected is not None and not isinstance(value, expected):
        raise ValueError(f"it holds a {type(value).__name__}, not a {expected.__name__}")
    return value


def read(key: str, expected: Optional[type] = None) -> Any:
    """The result stored under `key`, or `_MISS`; a damaged entry (or one that does not decode
    into the `expected` type) is deleted and reads as a miss, and a damaged store is replaced
    (`_recover`)."""
    cache = store()
    try:
        blob = cache.get(key, default=_MISS)
        if blob is _MISS:
            return _MISS
        return _unpack(blob, expected)
    except Exception as error:  # a damaged entry of any kind: drop it, compute again
        _log.warning("Cache entry %s is damaged (%s); it will be computed again.", key[:12], error)
        with contextlib.suppress(Exception):
            cache.delete(key)
        _recover(cache, error)
        return _MISS


def write(key: str, value: Any) -> bool:
    """Store `value` under `key`; False (logged) when it cannot be saved (a full disk, a read-only
    or damaged store), leaving no file of it behind: the caller still has its result."""
    cache = store()
    try:
        cache.set(key, _pack(value))
        return True
    except Exception as error:
        stored = _Disk.stored_file()
        if stored and isinstance(cache, diskcache.Cache):
            cache.disk.remove(stored)
        _log.warning("Result %s was computed but not saved (%s).", key[:12], error)
        _recover(cache, error)
        return False


_local_locks: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def _key_lock(key: str):
    """An exclusive lock on `key` across threads and processes (and machines, on a Redis store),
    released when its holder exits, even by `kill -9`: the store's own (`_file_lock`, or
    `RedisStore.lock`). Where that cannot be taken (a read-only or unusable cache directory, an
    unreachable Redis server), a lock of this process only."""
    with contextlib.ExitStack() as held:
        cache = store()
        try:
            held.enter_context(cache.lock(key) if getattr(cache, "shared", False)
                               else _file_lock(key))
        except OSError:
            with _stores_lock:
                local = _local_locks.setdefault(key, threading.Lock())
            held.enter_context(local)
        yield


@contextlib.contextmanager
def _file_lock(key: str):
    """A lock file of `key` under the cache directory, `flock`ed: the operating system releases it
    when its holder exits (each call opens its own file description, so threads exclude each other
    too)."""
    path = cache_dir() / "locks" / f"{key}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path) as handle:
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()  # lock files do not pile up: one exists only while it is held
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locked(path: pathlib.Path):
    """An open file at `path` that this caller holds `flock`ed. The holder deletes the file before
    it unlocks, so a caller that locked a file meanwhile deleted tries again on the new one."""
    while True:
        handle = open(path, "a+b")
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()


_slots: dict[int, Slots] = {}
_slots_lock = threading.Lock()


def computation_slots() -> Slots:
    """The process's `engine.slots.Slots`: `engine.guard.max_computations()` computations at once,
    one per owner (one per setting, so a test can change `IBL_MAX_COMPUTATIONS`; a server reads it
    once)."""
    count = guard.max_computations()
    with _slots_lock:
        if count not in _slots:
            _slots[count] = Slots(count)
        return _slots[count]


_worker_turns = Slots(None)


def worker_turns() -> Slots:
    """The process's turns at the workers' queue (`engine.jobs`): one view at a time per owner, no
    other bound (the workers are the bound, and the queue in Redis is first come, first served).
    So a visitor's second tab waits in the web process until its first view is done, instead of
    queueing a second job ahead of other visitors' (a browser's tabs reach one web replica: the
    proxy's cookie)."""
    return _worker_turns


# --- Calibration of the time estimates ----------------------------------------------------------

CALIBRATE_ENV = "IBL_CALIBRATE"
RATIOS_KEPT = 15
"""Measured-to-estimated ratios kept per view (the median of these is its calibration)."""
MIN_RATIOS = 3
"""Ratios a view needs before its own median is used (until then: every view's median)."""
RATIO_RANGE = (0.1, 10.0)
"""A calibration factor is kept within this range: one odd measurement (a machine suspended in
the middle of a computation) cannot make every estimate absurd."""
MIN_MEASURED_S = 1.0
"""Computations shorter than this are not recorded: their time is mostly overhead."""
MAX_LOAD_RECORDED = 4.0
"""Computations slowed more than this by other work are not recorded: their time says more about
that work than about this machine (the server's nice-19 warm-up, while a visitor computes, gets
a seventieth of a CPU)."""
_CALIBRATION = "calibration:"


def calibrating() -> bool:
    """Whether estimates are calibrated (`IBL_CALIBRATE` is not `0`)."""
    return os.environ.get(CALIBRATE_ENV, "1").strip() != "0"


LOAD_READ_EVERY_S = 1.0
"""How often a running computation reads the machine's load (`Cached._compute`)."""


def load_factor(*, computing: bool = False) -> float:
    """How many times slower than on an idle machine a computation runs now:
    `max(1, (busy + 1) / cores)`, the `+ 1` the computation itself. `busy` counts the threads of
    other processes ready to run, weighed by priority, over the last few seconds
    (`engine.load.recent_busy`), and one for each computation this process runs
    (`computation_slots`). This process's threads are not counted: they are its computations'
    (and the tail of one that just ended). For a computation already `computing`, its own slot is
    left out and the others count as this process's priority sees them (a niced process yields
    to them: `engine.load.own_weight`); before one starts (the estimate a page shows, the budget
    it must fit), they count as a nice-0 process sees them."""
    mine = computation_slots().running - (1 if computing else 0)
    others = cpu_load.recent_busy(exclude_self=True)
    if computing:
        others /= cpu_load.own_weight()
    return cpu_load.factor(others + max(mine, 0))


def load_since(began: Optional[cpu_load.Sample]) -> float:
    """The load factor other processes put on a computation since `began` (its
    `engine.load.sample()` at the start), on average, as this process's priority sees them; read
    now where the counters cannot be."""
    ended = cpu_load.sample()
    if began is None or ended is None:
        return load_factor(computing=True)
    return cpu_load.factor(cpu_load.busy_between(began, ended) / cpu_load.own_weight())


def _ratios(name: str) -> list:
    with contextlib.suppress(Exception):
        value = store().get(_CALIBRATION + name, default=None)
        if isinstance(value, list):
            return [float(r) for r in value if isinstance(r, (int, float)) and r > 0]
    return []


def calibration(name: str) -> float:
    """The factor that turns view `name`'s estimate on an idle machine into what this machine
    measured: the median of its last `RATIOS_KEPT` ratios of measured seconds to the estimate
    times the `load_factor` at the time; with fewer than `MIN_RATIOS` of its own, the median over
    every view's; 1 with none at all, or when calibration is off."""
    if not calibrating():
        return 1.0
    ratios = _ratios(name)
    if len(ratios) < MIN_RATIOS:
        ratios = _ratios("*")
    if not ratios:
        return 1.0
    low, high = RATIO_RANGE
    return min(max(statistics.median(ratios), low), high)


def record_time(name: str, estimated_s: float, measured_s: float, load: float) -> None:
    """Keep the ratio `measured_s / (estimated_s * load)` of a computation of view `name` (and
    in every view's list), for `calibration`; `load` is the load factor other work put on it
    while it ran. Best effort: a cache that cannot be written keeps the old calibration."""
    if (not calibrating() or measured_s < MIN_MEASURED_S or not estimated_s > 0
            or load > MAX_LOAD_RECORDED):
        return
    ratio = measured_s / (estimated_s * load)
    with contextlib.suppress(Exception):
        cache = store()
        with cache.transact():
            for key in (name, "*"):
                kept = (_ratios(key) + [ratio])[-RATIOS_KEPT:]
                cache.set(_CALIBRATION + key, kept)


def _check_url() -> None:
    if cache_url():
        from engine.redis_store import check_url

        check_url(cache_url())


def settings_problems() -> list[str]:
    """Each malformed `IBL_*` setting the cache and the guard read, as a sentence."""
    found = []
    for check in (_size_limit, guard.max_computations, guard.memory_budget,
                  lambda: guard.time_budget(1.0), guard.heartbeat_s, _check_url):
        try:
            check()
        except ValueError as error:
            found.append(str(error))
    return found


def _where() -> str:
    """Where results are kept, for messages: the shared cache's URL (no password) or the
    directory."""
    url = cache_url()
    if url:
        from engine.redis_store import redacted

        return redacted(url)
    return str(cache_dir())


def _unwritable() -> list[str]:
    """The cache's directories this process may not write, as sentences. An entry can still be
    written into an open store under a read-only `IBL_CACHE_DIR` (SQLite keeps its journal
    files), but a damaged store cannot be moved aside, nor locks and new value files created."""
    found = []
    for path in (cache_dir(), cache_dir() / "results"):
        if path.is_dir() and not os.access(path, os.W_OK):
            found.append(f"The cache directory {path} is not writable by this process (uid "
                         f"{os.getuid()}): new results may not be saved and a damaged store cannot "
                         "be replaced. Make it writable (chmod u+w) or set IBL_CACHE_DIR to a "
                         "writable directory.")
    return found


def probe() -> list[str]:
    """What keeps the cache from serving visitors, as sentences (empty when it works in full):
    malformed settings, a store that fell back (`degraded`), and an entry written, read back and
    deleted through `write` and `read`, as a view's result is, so that a full disk, a damaged
    store or a read-only directory fail it (`_unwritable` too: the cache's directories must be
    writable). The health check (healthcheck.py) runs it."""
    found = settings_problems()
    if found:
        return found
    found += _unwritable()
    if degraded():
        found.append(degraded())
    key = f"health:{os.getpid()}:{time.time_ns()}"
    marker = {"written": key}
    try:
        if not write(key, marker):
            found.append(f"A test entry could not be written to the result cache in "
                         f"{_where()} (the server's log says why): results are not kept.")
        elif read(key) != marker:
            found.append(f"A test entry written to the result cache in {_where()} did not "
                         "read back: stored results would be computed again.")
    finally:
        with contextlib.suppress(Exception):
            store().delete(key)
    return found


_saved = threading.local()


def last_notice() -> Optional[str]:
    """A sentence about where this thread's last `Cached` call was computed when it was not where
    it should have been (a web server computing what workers are configured to), else None."""
    return getattr(_saved, "notice", None)


def last_saved() -> bool:
    """Whether the result of this thread's last `Cached` call is in the cache (False when it was
    computed but could not be saved: `write`)."""
    return getattr(_saved, "ok", True)


class Cached(Generic[R]):
    """A function of one spec whose results live in the shared cache.

    `f.lookup(spec)` returns the stored result or None without computing; `f(spec, progress=cb)`
    returns the stored result or computes it, once across threads and processes: while one caller
    computes a key, others asking for it wait for its result instead of computing it again; and at
    most `engine.guard.max_computations()` computations run at once (module docstring).

    `normalise(spec)` is the resource guard (`engine.guard`), run before anything else, by every
    other method too: `engine.guard.check_types` makes sure each field of a dataclass spec holds a
    value of its default's kind; the view's own `normalise`, when given, validates the spec and
    resets the fields a view ignores, so that equal views share one entry; then the view is
    refused when its `estimate` exceeds its time budget (`budget_s`, or `IBL_TIME_BUDGET_S`) or
    its `memory` exceeds `engine.guard.memory_budget()`. Each refusal is a `ValueError` with a
    sentence, before any work; `advice` (and `memory_advice`, by default the same) says what to
    make smaller.
    `estimate(spec)`, when given, is the expected computing time in seconds on this machine, so a
    page can ask before starting a long run; `memory(spec)` the expected peak working memory in
    bytes. Both are called on normalised specs.

    A function that takes a `partial` keyword (`Partial`) reports its results as they come
    (`streams`); `f(spec, partial=cb)` passes `cb` on to it, and is ignored by one that does not.
    A caller that waits for another's computation of the same key sees only its final result.

    `owner` (a visitor) and `waiting` are for the computation slots (`engine.slots`): at most one
    computation per owner runs at once, and `waiting(Queued)` hears where this caller stands while
    it waits for a slot. A computation is stopped with `guard.Overrun` (a `ValueError`, nothing
    kept) at its first report (`progress` or `partial`) past `guard.overrun_after` its estimate.
    """

    def __init__(self, fn: Callable[..., R], name: str, normalise: Optional[Callable] = None,
                 estimate: Optional[Callable] = None, memory: Optional[Callable] = None, *,
                 budget_s: Optional[float] = None, advice: str = "choose a smaller view",
                 memory_advice: Optional[str] = None):
        self.fn = fn
        self.name = name
        self._normalise = normalise or (lambda spec: spec)
        self._estimate = estimate
        self._memory = memory
        self.budget_s = budget_s
        self.advice = advice
        self.memory_advice = advice if memory_advice is None else memory_advice
        try:
            returns = typing.get_type_hints(fn).get("return")
        except Exception:  # an annotation that does not resolve: no type check
            returns = None
        self.returns = returns if isinstance(returns, type) else None
        functools.update_wrapper(self, fn)

    @property
    def streams(self) -> bool:
        """Whether the function reports partial views (takes a `partial` keyword)."""
        return "partial" in inspect.signature(self.fn).parameters

    def normalise(self, spec: Any) -> Any:
        """`spec` validated (`engine.guard.check_types`, then the view's own `normalise`), made
        canonical, and checked against the time and memory budgets; `ValueError` with a sentence
        before any work."""
        spec = self._normalise(check_types(spec))
        if self._estimate is not None and self.budget_s is not None:
            guard.refuse_if_slow(float(self._estimate(spec)), self.budget_s, self.advice)
        if self._memory is not None:
            guard.refuse_if_large(int(self._memory(spec)), self.memory_advice)
        return spec

    def estimate_seconds(self, spec: Any) -> Optional[float]:
        """Expected seconds to compute `spec` on this machine now: the view's estimate times its
        `calibration` and the `load_factor` (None when the function gives no estimate)."""
        if self._estimate is None:
            return None
        return float(self._estimate(self.normalise(spec))) * self._machine()

    def _machine(self) -> float:
        return calibration(self.name) * load_factor() if calibrating() else 1.0

    def estimate_bytes(self, spec: Any) -> Optional[int]:
        """Expected peak working memory, in bytes, of computing `spec` (None when the function
        gives no estimate)."""
        return None if self._memory is None else int(self._memory(self.normalise(spec)))

    def key(self, spec: Any) -> str:
        return cache_key(self.name, self.normalise(spec))

    def lookup(self, spec: Any) -> Optional[R]:
        value = read(self.key(spec), self.returns)
        return None if value is _MISS else value

    def __call__(self, spec: Any, *, progress: Progress = None, partial: Partial = None,
                 owner: Hashable = None, waiting: Waiting = None) -> R:
        _saved.ok, _saved.notice = True, None
        spec = self.normalise(spec)
        key = cache_key(self.name, spec)
        value = read(key, self.returns)
        if value is not _MISS:
            return value
        if cache_url():
            from engine import jobs  # RQ, imported only where a shared cache is configured

            if jobs.enabled():
                with worker_turns().hold(owner, waiting):
                    value = read(key, self.returns)  # computed while this caller waited its turn
                    if value is _MISS:
                        value = self._on_a_worker(jobs, spec, key, progress, waiting)
                if value is not _MISS:
                    return value
        with _key_lock(key):
            value = read(key, self.returns)  # computed by another caller while we waited
            if value is _MISS:
                # Only distinct computations queue here, fairly (`engine.slots`): at most one
                # computation per owner, and `waiting` hears where this caller stands.
                with computation_slots().hold(owner, waiting):
                    value, seconds, estimated, load = self._compute(spec, progress, partial)
                _saved.ok = write(key, value)
                if estimated is not None:
                    record_time(self.name, estimated, seconds, load)
                _log.info("computed %s %s in %.1f s (estimated %s)", self.name, key[:16], seconds,
                          "-" if estimated is None else f"{estimated:.1f} s idle")
        return value

    def _on_a_worker(self, jobs: Any, spec: Any, key: str, progress: Progress,
                     waiting: Waiting) -> Any:
        """The view computed by a worker (`engine.jobs`) and read from the cache; `_MISS`, with a
        notice (`last_notice`), when no worker is reachable or its result cannot be read, so the
        caller computes it itself. A job that failed raises `jobs.JobFailed` with its sentence.
        While the job waits in the queue, `waiting` hears its place there."""
        job = jobs.submit(cache_url(), self.name, key, spec, self.budget_s)
        if job is None:
            _saved.notice = ("No worker is reachable on the shared queue (IBL_WORKERS=1): this "
                             "view was computed by the web server itself.")
            return _MISS
        try:
            jobs.wait(job, progress, waiting)
        except jobs.JobFailed:
            raise
        except Exception as error:  # NoWorker, or the queue in a state RQ did not expect
            _saved.notice = (f"No worker took this view ({error}): it was computed by the web "
                             "server itself.")
            return _MISS
        value = read(key, self.returns)
        if value is _MISS:
            _saved.notice = ("A worker computed this view but its result could not be read from "
                             "the shared cache: it was computed by the web server itself.")
        return value

    def _compute(self, spec: Any, progress: Progress, partial: Partial) -> tuple:
        """`(value, seconds, estimated idle seconds, load)` of one computation, refused when this
        machine is now too busy for the budget, and stopped (`guard.Overrun`, nothing kept) at its
        next report once it runs past `guard.overrun_after` its estimate. That estimate follows the
        machine's load while the computation runs (the highest `load_factor` of other processes
        seen since it started, read at most once a second and before any stop): a machine that
        gets busier after the start makes the computation slower, not runaway. `load` is the
        load factor other processes put on it on average while it ran (`engine.load`)."""
        estimated = None if self._estimate is None else float(self._estimate(spec))
        load = load_factor()
        began = cpu_load.sample()

        # The estimate on this machine at a load factor of 1, and at the start's load where
        # estimates are calibrated (`_machine`, with the load read once).
        idle_s = None if estimated is None else estimated * calibration(self.name)
        now_s = None if idle_s is None else idle_s * (load if calibrating() else 1.0)
        if now_s is not None and self.budget_s is not None:
            # On a machine busier than usual, a view within its budget on an idle machine may
            # not be within it now.
            guard.refuse_if_slow(now_s, self.budget_s, self.advice)

        def expected(busiest: float) -> Optional[float]:
            return None if idle_s is None else idle_s * busiest

        busiest, read_at = load, 0.0
        limit = guard.overrun_after(expected(busiest), self.budget_s)
        start = time.perf_counter()

        def watched(report: Optional[Callable]) -> Callable:
            def call(*args: Any) -> None:
                nonlocal busiest, read_at, limit
                ran = time.perf_counter() - start
                if ran - read_at >= LOAD_READ_EVERY_S or (limit is not None and ran > limit):
                    read_at, busiest = ran, max(busiest, load_factor(computing=True))
                    limit = guard.overrun_after(expected(busiest), self.budget_s)
                if limit is not None and ran > limit:
                    if estimated is not None:  # the estimate learns from what it missed
                        record_time(self.name, estimated, ran, load_since(began))
                    _log.warning("stopped %s after %.1f s (limit %.1f s, load factor %.1f)",
                                 self.name, ran, limit, busiest)
                    raise guard.Overrun(guard.overrun_message(ran, expected(busiest),
                                                              self.advice))
                if report is not None:
                    report(*args)
            return call

        streaming = {"partial": watched(partial)} if self.streams and partial else {}
        value = self.fn(spec, progress=watched(progress), **streaming)
        return value, time.perf_counter() - start, estimated, load_since(began)


def cached(name: str, *, normalise: Optional[Callable] = None,
           estimate: Optional[Callable] = None, memory: Optional[Callable] = None,
           budget_s: Optional[float] = None, advice: str = "choose a smaller view",
           memory_advice: Optional[str] = None) -> Callable[[Callable[..., R]], Cached[R]]:
    """Decorator: `@cached("eigenstructure.hypercube")` over `fn(spec, *, progress=None)`. The name
    is part of the key, so renaming a Python function does not orphan its results. The keywords
    are `Cached`'s."""
    def wrap(fn: Callable[..., R]) -> Cached[R]:
        return Cached(fn, name, normalise, estimate, memory, budget_s=budget_s, advice=advice,
                      memory_advice=memory_advice)
    return wrap


def enable_compilation_cache() -> None:
    """Keep JAX's compiled programs under `cache_dir()/jax`, so a new process (a restarted server,
    a worker) skips most compilation. Where `JAX_COMPILATION_CACHE_DIR` is set, JAX's own setting,
    that directory is kept (one compilation cache shared by several result caches, as the test
    suite's processes share one)."""
    import jax

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        path = cache_dir() / "jax"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # an unusable cache directory: `store()` reports it
            _log.warning("JAX's compiled programs are not kept: %s cannot be made (%s).", path,
                         error)
            return
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
