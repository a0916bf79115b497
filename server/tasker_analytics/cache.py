"""The response cache: keyed by endpoint, every scope parameter and the build id, so a
new build invalidates every entry at once (activity-based invalidation).

Values are msgpack bytes. The store is in memory by default and Redis when
TASKER_ANALYTICS_REDIS_URL is set (shared by every worker). Concurrent misses for one key
compute once: a per-key lock in the process, and a short Redis lock across processes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

KEY_PREFIX = "tasker_analytics:"
# Longest a worker waits for another worker's computation of the same key.
_REDIS_LOCK_SECONDS = 30
_REDIS_POLL_SECONDS = 0.01


class CacheStore(Protocol):
    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...

    def entries(self) -> int: ...


class MemoryStore:
    """A bounded in-process store; expired entries go first, then the oldest."""

    backend = "memory"

    def __init__(self, max_entries: int = 2048):
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                del self._items[key]
                return None
            return item[1]

    def set(self, key: str, value: bytes, ttl: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._items[key] = (now + ttl, value)
            self._items.move_to_end(key)
            if len(self._items) > self.max_entries:
                for stale in [name for name, (expires, _) in self._items.items() if expires <= now]:
                    del self._items[stale]
                while len(self._items) > self.max_entries:
                    self._items.popitem(last=False)

    def entries(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for expires, _ in self._items.values() if expires > now)


class RedisStore:
    """Redis shared by every worker and instance; keys expire by Redis TTL."""

    backend = "redis"

    def __init__(self, url: str):
        import redis  # only when Redis is configured

        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._errors = redis.RedisError

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get(KEY_PREFIX + key)
        except self._errors:
            return None

    def set(self, key: str, value: bytes, ttl: int) -> None:
        try:
            self.client.set(KEY_PREFIX + key, value, ex=ttl)
        except self._errors:
            return None

    def entries(self) -> int:
        try:
            return sum(1 for _ in self.client.scan_iter(match=KEY_PREFIX + "*", count=500) if b":lock:" not in _)
        except self._errors:
            return 0

    def acquire(self, key: str) -> bool:
        try:
            return bool(self.client.set(KEY_PREFIX + "lock:" + key, b"1", nx=True, ex=_REDIS_LOCK_SECONDS))
        except self._errors:
            return True

    def release(self, key: str) -> None:
        try:
            self.client.delete(KEY_PREFIX + "lock:" + key)
        except self._errors:
            return None


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return 0.0 if total == 0 else self.hits / total


# How long an entry count (a Redis scan) is reused by the performance body.
_ENTRIES_SECONDS = 1.0


class ResponseCache:
    def __init__(self, store: CacheStore):
        self.store = store
        self.stats = CacheStats()
        self._entries: tuple[float, int] | None = None
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
        """The store's entry count, counted at most once a second."""
        counted = self._entries
        if counted is None or time.monotonic() - counted[0] >= _ENTRIES_SECONDS:
            counted = self._entries = (time.monotonic(), self.store.entries())
        return counted[1]

    def count(self, hit: bool) -> None:
        with self._locks_guard:
            if hit:
                self.stats.hits += 1
            else:
                self.stats.misses += 1

    def get_or_compute(self, key: str, ttl: int, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The cached value and True, or the computed one and False (computed once per key)."""
        if ttl <= 0:
            self.count(False)
            return compute(), False
        value = self.store.get(key)
        if value is not None:
            self.count(True)
            return value, True
        with self._key_lock(key):
            value = self.store.get(key)
            if value is not None:
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
                    value = self.store.get(key)
                    if value is not None:
                        self.count(True)
                        return value, True
                    acquired = self.store.acquire(key)
                if acquired:
                    # The worker that held the lock may have stored the value and let go
                    # between our last look and our acquire: look once more.
                    value = self.store.get(key)
                    if value is not None:
                        self.store.release(key)
                        self.count(True)
                        return value, True
            try:
                value = compute()
                self.store.set(key, value, ttl)
            finally:
                if acquired:
                    self.store.release(key)
            self.count(False)
            return value, False


def open_cache(redis_url: str | None, max_entries: int) -> ResponseCache:
    return ResponseCache(RedisStore(redis_url) if redis_url else MemoryStore(max_entries))
