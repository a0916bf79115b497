"""The served OpenAPI schema matches the responses exactly (no missing or extra keys)."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator

from helpers.responses import closed_schema


@pytest.fixture(scope="module")
def openapi(workload):
    from litestar.testing import TestClient

    from tasker_analytics.api.app import create_app

    with TestClient(create_app(workload.settings())) as test_client:
        return test_client.get("/schema/openapi.json").json()


def _validator(openapi, path: str, status: str) -> Draft202012Validator:
    response = openapi["paths"][path]["get"]["responses"][status]
    schema = copy.deepcopy(response["content"]["application/json"]["schema"])
    schema["components"] = closed_schema(copy.deepcopy(openapi["components"]))
    return Draft202012Validator(schema)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/tasker/analytics/performance", {}),
        ("/tasker/analytics/bottlenecks", {}),
        ("/tasker/analytics/bottlenecks", {"period": 168, "limit": 50}),
        ("/tasker/analytics/bottlenecks", {"namespace": "no_such_namespace"}),
    ],
)
def test_successful_bodies_match_the_schema(client, openapi, path, params):
    response = client.get(path, params=params)
    assert response.status_code == 200
    errors = [error.message for error in _validator(openapi, path, "200").iter_errors(response.json())]
    assert errors == []


def test_error_bodies_match_the_schema(client, openapi):
    path = "/tasker/analytics/bottlenecks"
    response = client.get(path, params={"period": "abc"})
    assert response.status_code == 400
    assert list(_validator(openapi, path, "400").iter_errors(response.json())) == []
    assert set(openapi["paths"][path]["get"]["responses"]) >= {"200", "400", "401", "403", "503"}


def test_the_schema_check_can_fail(client, openapi):
    body = client.get("/tasker/analytics/performance").json()
    body["task_statistics"]["unexpected"] = 1
    del body["processing_times"]["p95"]
    validator = _validator(openapi, "/tasker/analytics/performance", "200")
    messages = [error.message for error in validator.iter_errors(body)]
    assert any("unexpected" in message for message in messages)
    assert any("p95" in message for message in messages)
