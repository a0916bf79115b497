"""Admission of uncached work: how many bodies one worker computes at once, how many more
wait, and what happens to the rest.

Every handler that reads the warehouse answers through `answer`: first in a thread from
cached bodies only (the in-process and the shared cache; no slot needed), and only when a
body must be computed, again holding a computing slot. Slots are taken on the event loop,
never in a thread: `running` requests compute at once, up to `waiting` more wait for a
slot, and one beyond that is turned away at once with `Overloaded` (HTTP 503 with
Retry-After) instead of queueing without bound. A waiting request whose client
disconnects leaves the queue without computing (`ClientGone`). So the worker threads hold
only work in progress, and health probes and cache hits stay fast while the warehouse is
busy.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from litestar.concurrency import sync_to_thread

from tasker_analytics.core.analytics import CACHED_ONLY, NotCached

Result = TypeVar("Result")


class Overloaded(RuntimeError):
    """More uncached requests than the worker admits; `retry_after` in whole seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many uncached requests in progress; retry in {retry_after} s")
        self.retry_after = retry_after


class ClientGone(RuntimeError):
    """The client disconnected before its body was computed: nothing is computed."""


class Admission:
    """A bounded queue in front of the uncached computations of one worker (one event loop)."""

    def __init__(self, running: int, waiting: int):
        self.running = max(1, running)
        self.waiting = max(0, waiting)
        self._semaphore: asyncio.Semaphore | None = None
        self.admitted = 0
        self._seconds = 0.25  # moving average of one computation, for Retry-After
        # What is being computed now, by the key its requests share: done when it ends.
        self.computing: dict[Hashable, asyncio.Future] = {}

    def retry_after(self) -> int:
        """Seconds until the queue as it stands now has drained, at least 1."""
        return max(1, math.ceil(self._seconds * (self.admitted + 1) / self.running))

    @asynccontextmanager
    async def slot(self, receive: Callable[[], Any] | None) -> AsyncIterator[None]:
        """Hold a computing slot for the block: Overloaded when the queue is full,
        ClientGone when the client (watched on `receive`, the request's ASGI receive)
        disconnects while it waits."""
        if self.admitted >= self.running + self.waiting:
            raise Overloaded(self.retry_after())
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.running)
        semaphore = self._semaphore
        self.admitted += 1
        try:
            await self._acquire(semaphore, receive)
            try:
                started = time.monotonic()
                yield
                self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)
            finally:
                semaphore.release()
        finally:
            self.admitted -= 1

    async def _acquire(self, semaphore: asyncio.Semaphore, receive: Callable[[], Any] | None) -> None:
        if receive is None or not semaphore.locked():
            await semaphore.acquire()
            return
        acquiring = asyncio.ensure_future(semaphore.acquire())
        leaving = asyncio.ensure_future(_disconnect(receive))
        try:
            done, _ = await asyncio.wait({acquiring, leaving}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            leaving.cancel()
        if acquiring in done:
            return
        acquiring.cancel()
        try:
            await acquiring
        except asyncio.CancelledError:
            pass
        else:  # acquired just as the client left: give the slot back
            semaphore.release()
        raise ClientGone()


async def _disconnect(receive: Callable[[], Any]) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass


def _cached_only(function: Callable[..., Result], *args: Any) -> Result:
    token = CACHED_ONLY.set(True)
    try:
        return function(*args)
    finally:
        CACHED_ONLY.reset(token)


async def answer(request: Any, key: Hashable, function: Callable[..., Result], *args: Any) -> Result:
    """`function(*args)` in a worker thread for a Litestar `request`: from cached bodies when
    they all are, else again holding a computing slot of the app's `Admission`. Requests
    with the same `key` (the same bodies) arriving while one computes wait for it and take
    its cached result instead of a slot of their own, so a burst of identical misses (every
    client after a new build is published) is one computation, not a queue."""
    try:
        return await sync_to_thread(_cached_only, function, *args)
    except NotCached:
        pass
    admission: Admission = request.app.state.admission
    leader = admission.computing.get(key)
    if leader is not None:
        await asyncio.wait({leader})
        try:
            return await sync_to_thread(_cached_only, function, *args)
        except NotCached:
            pass
    done = asyncio.get_running_loop().create_future()
    owner = admission.computing.setdefault(key, done) is done
    try:
        async with admission.slot(request.receive):
            return await sync_to_thread(function, *args)
    finally:
        if owner:
            del admission.computing[key]
            done.set_result(None)
