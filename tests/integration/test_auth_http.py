"""Auth on the HTTP endpoints, run with the cache warm: a cached body (or a 304) is never
returned to a request that fails auth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.auth.settings import AuthSettings
from tasker_analytics.auth.tokens import hash_service_token

SECRET = "a-test-secret-that-is-at-least-32-bytes-long!"
ISSUER = "https://issuer.example"
AUDIENCE = "tasker-analytics"
PERMISSION = "tasker.analytics:index"
SERVICE_TOKEN = "service-token-for-the-billing-service"
ENDPOINTS = ["/tasker/analytics/performance", "/tasker/analytics/bottlenecks?namespace=payments"]


def _claims(**extra) -> dict:
    now = int(time.time())
    return {
        "sub": "dashboard",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "permissions": [PERMISSION],
        **extra,
    }


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path = tmp_path_factory.mktemp("keys") / "public.pem"
    path.write_bytes(public_pem)
    return {"private": private, "other": other, "public_pem": public_pem, "public_file": path}


def _app(workload, **auth):
    settings = workload.settings(
        auth=AuthSettings(
            required=True,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            service_tokens=(("billing", hash_service_token(SERVICE_TOKEN)),),
            **auth,
        )
    )
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def hs_client(workload):
    with _app(workload, jwt_secret=SECRET) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def rs_client(workload, keys):
    with _app(workload, jwt_public_key_file=keys["public_file"]) as test_client:
        yield test_client


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _warm(test_client, headers) -> dict[str, str]:
    """Fill the cache with valid requests; returns each endpoint's ETag."""
    etags = {}
    for endpoint in ENDPOINTS:
        test_client.get(endpoint, headers=headers)
        response = test_client.get(endpoint, headers=headers)
        assert response.status_code == 200 and response.json()["cache_info"]["status"] == "hit"
        assert response.headers["cache-control"].startswith("private, ")
        etags[endpoint] = response.headers["etag"]
    return etags


def _hs_cases(keys) -> dict[str, tuple[dict | None, int]]:
    now = int(time.time())
    return {
        "missing header": (None, 401),
        "malformed header": ({"Authorization": "Token abc"}, 401),
        "bearer without token": ({"Authorization": "Bearer"}, 401),
        "garbage token": (_bearer("not.a.jwt"), 401),
        "expired": (_bearer(jwt.encode(_claims(exp=now - 3600, iat=now - 7200), SECRET, "HS256")), 401),
        "not yet valid": (_bearer(jwt.encode(_claims(nbf=now + 3600), SECRET, "HS256")), 401),
        "wrong issuer": (_bearer(jwt.encode(_claims(iss="https://evil.example"), SECRET, "HS256")), 401),
        "wrong audience": (_bearer(jwt.encode(_claims(aud="someone-else"), SECRET, "HS256")), 401),
        "wrong key": (_bearer(jwt.encode(_claims(), "another-secret-that-is-32-bytes-long!!", "HS256")), 401),
        "alg none": (_bearer(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."), 401),
        "signed by an RSA key the server does not use": (_bearer(jwt.encode(_claims(), keys["private"], "RS256")), 401),
        "missing permission": (_bearer(jwt.encode(_claims(permissions=["other:read"]), SECRET, "HS256")), 403),
        "unknown service token": (_bearer("not-a-configured-service-token"), 401),
    }


def test_valid_tokens_and_service_tokens_are_served(hs_client):
    valid = _bearer(jwt.encode(_claims(), SECRET, "HS256"))
    scoped = _bearer(jwt.encode(_claims(permissions=[], scope=f"openid {PERMISSION}"), SECRET, "HS256"))
    for headers in (valid, scoped, _bearer(SERVICE_TOKEN)):
        for endpoint in ENDPOINTS:
            response = hs_client.get(endpoint, headers=headers)
            assert response.status_code == 200, (headers, response.text)
            assert response.headers["vary"] == "Authorization, Cookie"


def test_hs256_matrix_with_the_cache_warm(hs_client, keys):
    etags = _warm(hs_client, _bearer(jwt.encode(_claims(), SECRET, "HS256")))
    for name, (headers, status) in _hs_cases(keys).items():
        for endpoint in ENDPOINTS:
            for extra in ({}, {"If-None-Match": etags[endpoint]}):
                response = hs_client.get(endpoint, headers={**(headers or {}), **extra})
                assert response.status_code == status, (name, endpoint, extra, response.text)
                body = response.json()
                assert body["error"] == ("unauthorized" if status == 401 else "forbidden"), name
                assert "slowest_tasks" not in body and "system_health_score" not in body, name
                assert response.headers["cache-control"] == "no-store"
                if status == 401:
                    assert response.headers["www-authenticate"].startswith("Bearer"), name


def test_rs256_matrix_and_key_confusion_with_the_cache_warm(rs_client, keys):
    _warm(rs_client, _bearer(jwt.encode(_claims(), keys["private"], "RS256")))
    # HS256 signed by hand with the server's public PEM as the HMAC secret.
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(_claims())
    signature = (
        base64.urlsafe_b64encode(hmac.new(keys["public_pem"], f"{header}.{payload}".encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    cases = {
        "HS256 signed with the public key (key confusion)": (_bearer(f"{header}.{payload}.{signature}"), 401),
        "signed by another RSA key": (_bearer(jwt.encode(_claims(), keys["other"], "RS256")), 401),
        "expired": (_bearer(jwt.encode(_claims(exp=int(time.time()) - 3600), keys["private"], "RS256")), 401),
        "missing permission": (_bearer(jwt.encode(_claims(permissions=[]), keys["private"], "RS256")), 403),
    }
    for name, (headers, status) in cases.items():
        for endpoint in ENDPOINTS:
            response = rs_client.get(endpoint, headers=headers)
            assert response.status_code == status, (name, response.text)
            assert "slowest_tasks" not in response.json()


def test_a_token_in_the_query_string_is_refused(hs_client):
    token = jwt.encode(_claims(), SECRET, "HS256")
    response = hs_client.get(f"/tasker/analytics/performance?access_token={token}")
    assert response.status_code == 401
    assert token not in response.text
