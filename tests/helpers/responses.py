"""Comparing response bodies: the requests whose bodies must be identical between engines
(test_engines, test_spark), a body without the fields that differ between any two builds or
requests, and OpenAPI schemas closed to extra keys."""

from __future__ import annotations

_VOLATILE = {"freshness_seconds", "build_id", "built_at", "cache_info", "resource_utilization"}
ENGINE_QUERIES = [
    ("/tasker/analytics/performance", {}),
    ("/tasker/analytics/bottlenecks", {}),
    ("/tasker/analytics/bottlenecks", {"period": 1}),
    ("/tasker/analytics/bottlenecks", {"period": 168, "limit": 50}),
    ("/tasker/analytics/bottlenecks", {"namespace": "ecommerce", "period": 72}),
    ("/tasker/analytics/bottlenecks", {"namespace": "payments", "period": 168}),
    ("/tasker/analytics/bottlenecks", {"namespace": "no_such_namespace"}),
]


def stable_body(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in _VOLATILE}


def closed_schema(schema):
    """An OpenAPI schema with additionalProperties: false on every object that lists its
    properties, so a response with an extra key fails validation (schemas match exactly)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            closed_schema(value)
    elif isinstance(schema, list):
        for value in schema:
            closed_schema(value)
    return schema
