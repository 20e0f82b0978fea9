"""The result cache on a Redis server, shared by every web process and machine that names it
(`IBL_CACHE_URL=redis://host:6379/0`): the second backend of `engine.cache`, beside the embedded
diskcache store, with the same contract.

- **Entries** are Redis strings under `ibl:v:<key>`, holding what `engine.cache` gives them (the
  digest and `engine.codec` archive of a result; the cache's own bookkeeping as JSON), tagged by
  their first byte. Nothing stored is ever unpickled or evaluated.
- **A size bound with eviction, least recently used first**, as diskcache's: each entry's size is
  kept in the hash `ibl:size` and its last use in the sorted set `ibl:used`; a write adds its size
  to `ibl:bytes` and, while that exceeds the bound, deletes the least recently used entry, in one
  Lua script (atomic on the server, so several processes never evict past each other). The
  Redis server's own `maxmemory` may stay unset: the bound is the cache's.
- **One computation per key across every process and machine**: `lock(key)` is a Redis lock
  (`SET NX PX`, redis-py's `Lock`) renewed by its holder every heartbeat (`guard.heartbeat_s()`,
  5 s by default, given by `engine.cache`) while it computes, with an expiry of three heartbeats.
  A holder that dies (`kill -9`, a lost machine) stops renewing, so its lock expires within three
  heartbeats and the next caller computes afresh.
- **Faults**: on a server that cannot be reached, a read is a miss, and a write or a lock raises
  `Unreachable` (an `OSError`), which `engine.cache` reads as a result not saved and a lock of
  this process only; `problem()` says so in a sentence for the pages and the health check. redis-py reconnects by
  itself, so the cache works again as soon as the server is back.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from typing import Any, Optional

import redis

PREFIX = "ibl:"
VALUES, SIZES, USED, TOTAL = (PREFIX + name for name in ("v:", "size", "used", "bytes"))
LOCKS = PREFIX + "lock:"
TIMEOUT_S = 2.0
"""Connect and socket timeout: an unreachable server costs a page at most this long."""
_BYTES, _JSON = b"B", b"J"

_SET = """
local value, now, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local old = tonumber(redis.call('HGET', KEYS[2], KEYS[1])) or 0
redis.call('SET', KEYS[1], value)
redis.call('HSET', KEYS[2], KEYS[1], string.len(value))
redis.call('ZADD', KEYS[3], now, KEYS[1])
local total = redis.call('INCRBY', KEYS[4], string.len(value) - old)
while total > limit do
  local oldest = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if (not oldest) or oldest == KEYS[1] then break end
  local size = tonumber(redis.call('HGET', KEYS[2], oldest)) or 0
  redis.call('DEL', oldest)
  redis.call('ZREM', KEYS[3], oldest)
  redis.call('HDEL', KEYS[2], oldest)
  total = redis.call('DECRBY', KEYS[4], size)
end
return total
"""
"""KEYS: the entry, SIZES, USED, TOTAL; ARGV: the value, now, the bound in bytes. Stores the entry
and evicts the least recently used others until the total is within the bound (an entry larger
than the bound alone is kept, as diskcache keeps it until the next write)."""

_DELETE = """
local size = tonumber(redis.call('HGET', KEYS[2], KEYS[1])) or 0
local gone = redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], KEYS[1])
redis.call('ZREM', KEYS[3], KEYS[1])
if size > 0 then redis.call('DECRBY', KEYS[4], size) end
return gone
"""


class Unreachable(OSError):
    """The Redis server did not answer (down, refused, timed out)."""


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str) -> None:
    """Refuse, with a sentence, a cache URL redis-py cannot use."""
    if urllib.parse.urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"IBL_CACHE_URL={redacted(url)!r} is not a Redis URL; set it to e.g. "
                         "redis://localhost:6379/0, or leave it unset for the embedded cache.")


class RedisStore:
    """The store interface `engine.cache` uses (`get`, `set`, `delete`, `transact`, `lock`,
    `problem`, `__len__`, `volume`, `size_limit`) on one Redis database. A read or a delete on a
    server that cannot be reached is a miss; a write and a lock raise `Unreachable`."""

    shared = True
    """Marks a store shared between processes and machines (`engine.cache`)."""

    def __init__(self, url: str, size_limit: int, heartbeat_s: float):
        check_url(url)
        self.url, self.size_limit, self.heartbeat_s = url, size_limit, heartbeat_s
        self.client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S,
                                           socket_connect_timeout=TIMEOUT_S)
        self._set = self.client.register_script(_SET)
        self._delete = self.client.register_script(_DELETE)

    @contextlib.contextmanager
    def _talking(self):
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise Unreachable(f"the Redis cache at {redacted(self.url)} did not answer "
                              f"({error})") from error

    def problem(self) -> Optional[str]:
        """A sentence when the server cannot be reached, else None."""
        try:
            with self._talking():
                self.client.ping()
        except Unreachable as error:
            return (f"The shared result cache at {redacted(self.url)} cannot be reached "
                    f"({error.__cause__}): views are computed in this process and not saved "
                    "until it is back.")
        return None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            with self._talking():
                blob = self.client.get(VALUES + key)
                if blob is None:
                    return default
                self.client.zadd(USED, {VALUES + key: time.time()}, xx=True)
        except Unreachable:  # a miss: `problem` says why
            return default
        tag, body = blob[:1], blob[1:]
        if tag == _BYTES:
            return body
        if tag == _JSON:
            return json.loads(body)
        raise ValueError("a Redis entry of no known kind")

    def set(self, key: str, value: Any) -> None:
        blob = _BYTES + value if isinstance(value, bytes) else _JSON + json.dumps(value).encode()
        with self._talking():
            self._set(keys=[VALUES + key, SIZES, USED, TOTAL],
                      args=[blob, time.time(), self.size_limit])

    def delete(self, key: str) -> bool:
        try:
            with self._talking():
                return bool(self._delete(keys=[VALUES + key, SIZES, USED, TOTAL]))
        except Unreachable:
            return False

    def transact(self):
        """Nothing to group: each `set` is atomic on the server (the calibration's lists are
        best effort, as a concurrent writer may drop one ratio)."""
        return contextlib.nullcontext()

    def __len__(self) -> int:
        with self._talking():
            return int(self.client.zcard(USED))

    def volume(self) -> int:
        with self._talking():
            return int(self.client.get(TOTAL) or 0)

    def close(self) -> None:
        self.client.close()

    @contextlib.contextmanager
    def lock(self, key: str):
        """Hold `key`'s lock across every process on this server; renewed every heartbeat while
        held, with an expiry of three, so it expires only when its holder stops (dies). Raises
        `Unreachable` when the server cannot be reached to take it."""
        held = self.client.lock(LOCKS + key, timeout=3 * self.heartbeat_s, sleep=0.05,
                                 thread_local=False)  # renewed from another thread
        with self._talking():
            held.acquire(blocking=True)
        done = threading.Event()

        def renew():
            while not done.wait(self.heartbeat_s):
                with contextlib.suppress(redis.RedisError):
                    held.reacquire()

        renewer = threading.Thread(target=renew, name="ibl-lock-renewal", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
            with contextlib.suppress(redis.RedisError):
                held.release()
