"""Schema fuzzing: schemathesis generates requests from the served OpenAPI schema; no
response is a 5xx and every response matches the schema. TASKER_ANALYTICS_FUZZ_EXAMPLES
sets the examples per operation (150 here; `make fuzz` runs 1,000)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar.testing import TestClient
from schemathesis import checks

from tasker_analytics.api.app import create_app

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = int(os.environ.get("TASKER_ANALYTICS_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def fuzz_schema(workload):
    app = create_app(workload.settings())
    with TestClient(app):  # runs the lifespan: the warehouse is open for the fuzzed calls
        yield schemathesis.openapi.from_asgi("/schema/openapi.json", app)


def test_no_server_error_and_schema_conformance(fuzz_schema):
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert {operation.path for operation in operations} >= {
        "/tasker/analytics/performance",
        "/tasker/analytics/bottlenecks",
        "/tasker/analytics/metrics",
    }
    calls = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call()
            calls.append(response.status_code)
            assert response.status_code < 500, (case.path, case.query, response.text[:500])
            # Zero 5xx, and every response (status, content type, body) as the schema says.
            case.validate_response(response, checks=CHECKS)

        check()
    statuses = {status: calls.count(status) for status in sorted(set(calls))}
    print(f"\n{len(operations)} operations, {len(calls)} requests, statuses {statuses}")  # shown with -s
    assert len(calls) >= len(operations) * min(EXAMPLES, 20)
