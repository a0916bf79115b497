"""The encoded form of cached bodies: the cache key and ETag of a body, a body encoded as
JSON once with its per-request field left open, and the in-process store of those that
cache hits are answered from without reading the warehouse or the shared cache."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from tasker_analytics.cache.store import Bounded
from tasker_analytics.core.schemas import Bottlenecks, CacheInfo, Performance, utc

_JSON = msgspec.json.Encoder()


# The layout of cached values: a cache shared by servers of two versions (Redis) never
# hands one the other's bodies. Raise it when a body's fields change.
CACHE_FORMAT = 3  # 3: performance health_status, null health score and component values


def cache_key(endpoint: str, parameters: dict[str, Any], build_id: str, ttl: int) -> str:
    """The cache key of a body: a JSON array of everything the body depends on: the cache
    format, the endpoint, the build, the TTL class (servers sharing a Redis cache with
    different TTLs keep apart) and the parsed parameters as a JSON object with sorted
    names, so no value can spell another parameter or a separator. Not the caller: every
    authorized caller gets the same body, and authentication runs before any lookup."""
    named = {name: parameters[name] for name in sorted(parameters) if parameters[name] is not None}
    return _JSON.encode([CACHE_FORMAT, endpoint, build_id, ttl, named]).decode()


def etag_of(endpoint: str, parameters: dict[str, Any], build_id: str) -> str:
    """The weak ETag of a body: a hash of its cache key less the TTL class."""
    named = {name: parameters[name] for name in sorted(parameters) if parameters[name] is not None}
    digest = hashlib.sha256(_JSON.encode([CACHE_FORMAT, endpoint, build_id, named])).hexdigest()
    return f'W/"{digest[:32]}"'


# A freshness no body holds: an encoded body is split where it stands.
_FRESHNESS_MARK = -1.2345678901234567e-300
_NULL_RESOURCES = b'"resource_utilization":null}'


@dataclass
class Encoded:
    """A body encoded as JSON once, with the one field that changes per request,
    freshness_seconds, left open: `head + freshness + tail`."""

    head: bytes
    tail: bytes
    data_as_of: float  # epoch seconds
    etag: str
    build_id: str
    built_at: datetime
    status: str  # the cache outcome it carries: hit or miss
    # Encoded response headers per (ttl, private), made once by the HTTP layer.
    headers: dict[tuple[int, bool], list[tuple[bytes, bytes]]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, body: Performance | Bottlenecks, info: CacheInfo, etag: str) -> Encoded:
        marked = msgspec.structs.replace(body, freshness_seconds=_FRESHNESS_MARK, cache_info=info)
        head, mark, tail = _JSON.encode(marked).partition(_JSON.encode(_FRESHNESS_MARK))
        assert mark, "the freshness mark is in the encoded body"
        as_of = utc(body.data_as_of)
        return cls(head, tail, as_of.timestamp(), etag, body.build_id, utc(body.built_at), info.status)

    def json(self, resource_utilization: bytes | None = None) -> bytes:
        """The body at this moment; a performance body gets its resource_utilization."""
        freshness = _JSON.encode(round(time.time() - self.data_as_of, 3))
        tail = self.tail
        if resource_utilization is not None and tail.endswith(_NULL_RESOURCES):
            tail = tail[: -len(_NULL_RESOURCES)] + b'"resource_utilization":' + resource_utilization + b"}"
        return self.head + freshness + tail


class EncodedBodies(Bounded[Encoded]):
    """The hit form of recently served bodies, per cache key, in this process: a key holds
    the build id, so an entry never goes stale within its TTL. Bounded by total bytes."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024):
        super().__init__(max_bytes, size=lambda encoded: len(encoded.head) + len(encoded.tail))
