"""The bottleneck query's parse is remembered per query string and settings: a repeated
query string (every cache hit) is not parsed again, a refused one is refused each time,
other settings parse anew, and the memory stays bounded."""

from __future__ import annotations

import pytest
from litestar import Request

import tasker_analytics.api.access as access
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.query import BottleneckQuery, InvalidQuery


def _request(query_string: bytes) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/tasker/analytics/bottlenecks",
        "query_string": query_string,
        "headers": [],
        "state": {},
    }
    return Request(scope)  # type: ignore[arg-type]


@pytest.fixture
def counted(monkeypatch):
    calls = {"parse": 0}
    original = access.query_values

    def query_values(request, allowed):
        calls["parse"] += 1
        return original(request, allowed)

    monkeypatch.setattr(access, "query_values", query_values)
    monkeypatch.setattr(access, "_PARSED", {})
    return calls


def test_a_repeated_query_string_is_parsed_once(counted):
    settings = Settings()
    first = access._parsed(_request(b"namespace=payments&period=13"), access.bottleneck_query, settings)
    again = access._parsed(_request(b"namespace=payments&period=13"), access.bottleneck_query, settings)
    assert counted["parse"] == 1
    assert again is first
    assert first == BottleneckQuery.validated(settings, namespace="payments", period=13)


def test_other_settings_or_another_query_string_parse_anew(counted):
    settings, narrower = Settings(), Settings(max_period_hours=12)
    access._parsed(_request(b"period=13"), access.bottleneck_query, settings)
    with pytest.raises(InvalidQuery) as refused:
        access._parsed(_request(b"period=13"), access.bottleneck_query, narrower)
    assert refused.value.parameter == "period"
    other = access._parsed(_request(b"period=14"), access.bottleneck_query, settings)
    assert other.period == 14 and counted["parse"] == 3


def test_a_refused_query_string_is_refused_every_time(counted):
    settings = Settings()
    for attempt in range(1, 4):
        with pytest.raises(InvalidQuery) as refused:
            access._parsed(_request(b"period=0x10"), access.bottleneck_query, settings)
        assert refused.value.parameter == "period"
        assert counted["parse"] == attempt
    assert access._PARSED == {}


def test_distinct_query_strings_never_grow_the_memory_past_its_limit(counted, monkeypatch):
    monkeypatch.setattr(access, "_PARSED_LIMIT", 8)
    settings = Settings()
    sizes = []
    for period in range(1, 30):
        access._parsed(_request(f"period={period}".encode()), access.bottleneck_query, settings)
        sizes.append(len(access._PARSED))
    assert max(sizes) == 8 and counted["parse"] == 29
