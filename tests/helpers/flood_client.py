"""A flood of distinct uncached bottleneck requests, from a process of its own so that its
clients never slow down the measurements of the test that starts it.

    python tests/helpers/flood_client.py BASE_URL SECONDS CONNECTIONS TIMEOUT

Each connection sends requests no other connection sends (every period, limit and
namespace combination once), gives up on a response after TIMEOUT seconds (closing the
connection, as an impatient dashboard does) and, when turned away with a 503, waits what
Retry-After says. Prints one JSON object: the count of each status, timeouts, and every
503 body and Retry-After seen (the first 50).
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time

import httpx


async def _connection(base: str, index: int, connections: int, until: float, timeout: float, seen: dict) -> None:
    number = index
    while time.monotonic() < until:
        number += connections
        params = {"period": number % 168 + 1, "limit": number % 50 + 1, "namespace": f"flood{number}"}
        async with httpx.AsyncClient(base_url=base, timeout=timeout) as http:
            try:
                response = await http.get("/tasker/analytics/bottlenecks", params=params)
            except httpx.TimeoutException:
                seen["statuses"]["timeout"] += 1
                continue
        seen["statuses"][str(response.status_code)] += 1
        if response.status_code == 503:
            retry = response.headers.get("retry-after")
            if len(seen["turned_away"]) < 50:
                seen["turned_away"].append({"body": response.json(), "retry_after": retry})
            await asyncio.sleep(min(float(retry or 1), max(0.0, until - time.monotonic())))


async def main(base: str, seconds: float, connections: int, timeout: float) -> None:
    seen = {"statuses": collections.Counter(), "turned_away": []}
    until = time.monotonic() + seconds
    await asyncio.gather(*(_connection(base, index, connections, until, timeout, seen) for index in range(connections)))
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
