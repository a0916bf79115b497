"""The response cache: keyed by endpoint, every scope parameter and the build id, so a
new build invalidates every entry at once (activity-based invalidation).

Values are msgpack bytes. The store is in memory by default and Redis when
TASKER_ANALYTICS_REDIS_URL is set (shared by every worker). Concurrent misses for one key
compute once: a per-key lock in the process, and a short Redis lock across processes.

Redis never holds up a request for long: every call has a short socket timeout, and after
a failure the store answers from an in-process fallback for a cool-down before it tries
Redis again. A stored value that cannot be decoded is a miss, computed and overwritten.
The entry count the performance body reports is counted in a background thread, never on
the request's path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

logger = logging.getLogger("tasker_analytics.cache.store")
Value = TypeVar("Value")

KEY_PREFIX = "tasker_analytics:"
# A sorted set of the cached keys scored by expiry: the entry count without a scan.
INDEX_KEY = KEY_PREFIX + "index"
# Longest a worker waits for another worker's computation of the same key.
_REDIS_LOCK_SECONDS = 30
_REDIS_POLL_SECONDS = 0.01
# Every Redis call gives up after this long (connect and each reply).
REDIS_TIMEOUT_SECONDS = 0.5
# After a failed Redis call, the fallback answers for this long before Redis is tried again.
REDIS_COOL_DOWN_SECONDS = 5.0


class CacheStore(Protocol):
    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...

    def entries(self) -> int: ...


class Bounded(Generic[Value]):
    """Entries with a time to live in this process, bounded by their total size (`size` of
    a value, 1 by default): when a new entry overflows the bound, expired entries go first,
    then the least recently used."""

    def __init__(self, limit: int, size: Callable[[Value], int] | None = None):
        self.limit = limit
        self._size = size or (lambda _value: 1)
        self._items: OrderedDict[str, tuple[float, Value, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Value | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                self._total -= self._items.pop(key)[2]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, value: Value, ttl: int) -> None:
        now = time.monotonic()
        size = self._size(value)
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._total -= previous[2]
            self._items[key] = (now + ttl, value, size)
            self._total += size
            if self._total > self.limit:
                for stale in [name for name, (expires, _, _) in self._items.items() if expires <= now]:
                    self._total -= self._items.pop(stale)[2]
                while self._total > self.limit and len(self._items) > 1:
                    self._total -= self._items.popitem(last=False)[1][2]

    def entries(self) -> int:
        """Entries not expired yet."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for expires, _, _ in self._items.values() if expires > now)

    def __len__(self) -> int:
        return len(self._items)


class MemoryStore(Bounded[bytes]):
    """The response cache in this process: at most `max_entries` bodies."""

    backend = "memory"

    def __init__(self, max_entries: int = 2048):
        super().__init__(max_entries)

    set = Bounded.put


_UNAVAILABLE = object()


class RedisStore:
    """Redis shared by every worker and instance; keys expire by Redis TTL.

    Each call waits at most REDIS_TIMEOUT_SECONDS; a failed call opens the breaker for
    REDIS_COOL_DOWN_SECONDS, during which `fallback` (this process's memory) serves and
    stores instead and no call goes to Redis."""

    backend = "redis"

    def __init__(self, url: str, max_entries: int = 2048, timeout: float = REDIS_TIMEOUT_SECONDS):
        import redis  # only when Redis is configured

        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, health_check_interval=0
        )
        self._errors = (redis.RedisError, OSError)
        self.fallback = MemoryStore(max_entries)
        self._down_until = 0.0
        self._state_lock = threading.Lock()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, operation: Callable[[], Any]) -> Any:
        """The operation's result, or _UNAVAILABLE while the breaker is open or when it fails."""
        if not self.available:
            return _UNAVAILABLE
        try:
            return operation()
        except self._errors as error:
            with self._state_lock:
                if self.available:
                    logger.warning(
                        "Redis cache unavailable (%s); serving from this process's memory for %.0f s",
                        type(error).__name__,
                        REDIS_COOL_DOWN_SECONDS,
                    )
                self._down_until = time.monotonic() + REDIS_COOL_DOWN_SECONDS
            return _UNAVAILABLE

    def get(self, key: str) -> bytes | None:
        value = self._call(lambda: self.client.get(KEY_PREFIX + key))
        return self.fallback.get(key) if value is _UNAVAILABLE else value

    def set(self, key: str, value: bytes, ttl: int) -> None:
        def store() -> None:
            expires = time.time() + ttl
            with self.client.pipeline(transaction=False) as pipe:
                pipe.set(KEY_PREFIX + key, value, ex=ttl)
                pipe.zadd(INDEX_KEY, {key: expires})
                pipe.expire(INDEX_KEY, max(ttl, 1) * 2)
                pipe.execute()

        if self._call(store) is _UNAVAILABLE:
            self.fallback.set(key, value, ttl)

    def entries(self) -> int:
        def count() -> int:
            now = time.time()
            with self.client.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(INDEX_KEY, "-inf", now)
                pipe.zcard(INDEX_KEY)
                return int(pipe.execute()[1])

        counted = self._call(count)
        return self.fallback.entries() if counted is _UNAVAILABLE else counted

    def acquire(self, key: str) -> bool:
        acquired = self._call(
            lambda: self.client.set(KEY_PREFIX + "lock:" + key, b"1", nx=True, ex=_REDIS_LOCK_SECONDS)
        )
        return True if acquired is _UNAVAILABLE else bool(acquired)

    def release(self, key: str) -> None:
        self._call(lambda: self.client.delete(KEY_PREFIX + "lock:" + key))


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return 0.0 if total == 0 else self.hits / total


# How long an entry count is reused by the performance body.
_ENTRIES_SECONDS = 1.0


class ResponseCache:
    def __init__(self, store: CacheStore):
        self.store = store
        self.stats = CacheStats()
        self._entries: tuple[float, int] = (float("-inf"), 0)
        self._counting = False
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _key_lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                if len(self._locks) > 10_000:
                    self._locks = {name: held for name, held in self._locks.items() if held.locked()}
                lock = self._locks[key] = threading.Lock()
            return lock

    def recent_entries(self) -> int:
        """The store's entry count as last counted, without waiting: a count older than a
        second starts a new one in a background thread (one at a time)."""
        counted_at, count = self._entries
        if time.monotonic() - counted_at >= _ENTRIES_SECONDS:
            with self._locks_guard:
                start = not self._counting
                self._counting = True
            if start:
                threading.Thread(target=self._count_entries, name="cache-entry-count", daemon=True).start()
        return count

    def _count_entries(self) -> None:
        try:
            self._entries = (time.monotonic(), self.store.entries())
        except Exception:  # noqa: BLE001 - a count is informational; the last one stays
            logger.warning("counting the cache entries failed", exc_info=True)
        finally:
            self._counting = False

    def count(self, hit: bool) -> None:
        with self._locks_guard:
            if hit:
                self.stats.hits += 1
            else:
                self.stats.misses += 1

    def _lookup(self, key: str, decode: Callable[[bytes], Any]) -> tuple[bool, Any]:
        """(found, value): a stored value that does not decode counts as not found."""
        raw = self.store.get(key)
        if raw is None:
            return False, None
        try:
            return True, decode(raw)
        except Exception:  # noqa: BLE001 - any undecodable value is a miss and is overwritten
            logger.warning("cached value under %s does not decode; computing it again", key)
            return False, None

    def lookup(self, key: str, decode: Callable[[bytes], Any] = bytes) -> tuple[bool, Any]:
        """(True, the cached value decoded) and a hit counted, or (False, None): no computing."""
        found, value = self._lookup(key, decode)
        if found:
            self.count(True)
        return found, value

    def get_or_compute(
        self, key: str, ttl: int, compute: Callable[[], bytes], decode: Callable[[bytes], Any] = bytes
    ) -> tuple[Any, bool]:
        """The cached value and True, or the computed one and False (computed once per key).
        Values are stored as bytes and returned through `decode` (a value it refuses is a miss)."""
        if ttl <= 0:
            self.count(False)
            return decode(compute()), False
        found, value = self._lookup(key, decode)
        if found:
            self.count(True)
            return value, True
        with self._key_lock(key):
            found, value = self._lookup(key, decode)
            if found:
                self.count(True)
                return value, True
            shared = isinstance(self.store, RedisStore)
            acquired = False
            if shared:
                acquired = self.store.acquire(key)
                # Another worker computes this key: wait for its value, or for its lock to go.
                deadline = time.monotonic() + _REDIS_LOCK_SECONDS
                while not acquired and time.monotonic() < deadline:
                    time.sleep(_REDIS_POLL_SECONDS)
                    found, value = self._lookup(key, decode)
                    if found:
                        self.count(True)
                        return value, True
                    acquired = self.store.acquire(key)
                if acquired:
                    # The worker that held the lock may have stored the value and let go
                    # between our last look and our acquire: look once more.
                    found, value = self._lookup(key, decode)
                    if found:
                        self.store.release(key)
                        self.count(True)
                        return value, True
            try:
                raw = compute()
                self.store.set(key, raw, ttl)
            finally:
                if acquired:
                    self.store.release(key)
            self.count(False)
            return decode(raw), False


def open_cache(redis_url: str | None, max_entries: int) -> ResponseCache:
    return ResponseCache(RedisStore(redis_url, max_entries) if redis_url else MemoryStore(max_entries))
