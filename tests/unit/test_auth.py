"""Unit tests of tasker_analytics.auth.tokens: JWT and service-token checks, and every configuration error.

Keys are generated here with cryptography; nothing touches the network or the warehouse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tasker_analytics.auth.settings import AuthConfigError, AuthSettings
from tasker_analytics.auth.tokens import MAX_TOKEN_BYTES, Authenticator, AuthError, Principal, hash_service_token

SECRET = "0123456789abcdef0123456789abcdef-test-secret"
PERMISSION = "tasker.analytics:index"
SERVICE_TOKEN = "svc-reporting-7f3c9a1e5b2d4c6e8f0a1b2c3d4e5f60"


# --- helpers ------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**extra) -> dict:
    now = int(time.time())
    base = {"sub": "user-1", "iat": now, "exp": now + 300, "permissions": [PERMISSION]}
    base.update(extra)
    return {key: value for key, value in base.items() if value is not None}


def hs256(payload: dict, secret: str = SECRET, **headers) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def pem(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def refused(authenticator: Authenticator, header: str | None) -> AuthError:
    with pytest.raises(AuthError) as caught:
        authenticator.authenticate(header)
    return caught.value


def auth(**settings) -> Authenticator:
    return Authenticator(AuthSettings(required=True, **settings))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def rsa_pem_file(tmp_path, rsa_key) -> Path:
    return write(tmp_path / "rsa.pem", pem(rsa_key.public_key()))


@pytest.fixture
def hs() -> Authenticator:
    return auth(jwt_secret=SECRET)


# --- valid tokens ---------------------------------------------------------------------------


def test_hs256_with_permission_list_claim(hs):
    principal = hs.authenticate("Bearer " + hs256(claims()))
    assert principal == Principal(subject="user-1", kind="jwt", permissions=frozenset({PERMISSION}))


def test_hs256_with_scope_string(hs):
    token = hs256(claims(permissions=None, scope=f"openid {PERMISSION} profile"))
    principal = hs.authenticate(f"Bearer {token}")
    assert principal.kind == "jwt"
    assert principal.permissions == frozenset({"openid", PERMISSION, "profile"})


def test_permissions_claim_as_space_separated_string_and_custom_claim_name():
    authenticator = auth(jwt_secret=SECRET, permissions_claim="https://tasker.example/perms")
    token = hs256(claims(permissions=None, **{"https://tasker.example/perms": f"a:b {PERMISSION}"}))
    assert authenticator.authenticate(f"Bearer {token}").permissions == frozenset({"a:b", PERMISSION})
    # The default claim name is no longer read once another is configured.
    error = refused(authenticator, "Bearer " + hs256(claims()))
    assert error.status == 403


def test_scheme_is_case_insensitive(hs):
    assert hs.authenticate("bearer " + hs256(claims())).subject == "user-1"


def test_configured_permission_is_the_one_required():
    authenticator = auth(jwt_secret=SECRET, permission="reports:read")
    assert authenticator.authenticate("Bearer " + hs256(claims(scope="reports:read"))).subject == "user-1"
    assert refused(authenticator, "Bearer " + hs256(claims())).status == 403


def test_rs256_with_pem_public_key_file(rsa_key, rsa_pem_file):
    authenticator = auth(jwt_public_key_file=rsa_pem_file)
    token = jwt.encode(claims(sub="rsa-user"), rsa_key, algorithm="RS256")
    assert authenticator.authenticate(f"Bearer {token}") == Principal("rsa-user", "jwt", frozenset({PERMISSION}))


def test_es256_with_pem_public_key_file(tmp_path, ec_key):
    authenticator = auth(jwt_public_key_file=write(tmp_path / "ec.pem", pem(ec_key.public_key())))
    token = jwt.encode(claims(sub="ec-user"), ec_key, algorithm="ES256")
    assert authenticator.authenticate(f"Bearer {token}").subject == "ec-user"
    # The same EC key cannot verify an RS256 claim about it.
    forged = jwt.encode(claims(), rsa.generate_private_key(65537, 2048), algorithm="RS256")
    error = refused(authenticator, f"Bearer {forged}")
    assert (error.status, error.detail) == (401, "token algorithm does not match its key")


def _jwks_file(tmp_path: Path, *entries: tuple[str | None, object]) -> Path:
    keys = []
    for kid, private_key in entries:
        algorithm = RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else ECAlgorithm
        jwk = algorithm.to_jwk(private_key.public_key(), as_dict=True)
        if kid is not None:
            jwk["kid"] = kid
        keys.append(jwk)
    return write(tmp_path / "jwks.json", json.dumps({"keys": keys}))


def test_jwks_picks_the_key_named_by_kid(tmp_path, rsa_key, other_rsa_key, ec_key):
    jwks = _jwks_file(tmp_path, ("old", other_rsa_key), ("new", rsa_key), ("ec", ec_key))
    authenticator = auth(jwt_jwks_file=jwks)
    for kid, key, alg in (("new", rsa_key, "RS256"), ("old", other_rsa_key, "RS256"), ("ec", ec_key, "ES256")):
        token = jwt.encode(claims(sub=kid), key, algorithm=alg, headers={"kid": kid})
        assert authenticator.authenticate(f"Bearer {token}").subject == kid
    # Signed by "new" but naming "old": the old key is used and the signature fails.
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "old"})
    assert refused(authenticator, f"Bearer {token}").detail == "token signature is invalid"
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "unknown"})
    assert refused(authenticator, f"Bearer {token}").detail == "token key id (kid) is not known"
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    error = refused(authenticator, f"Bearer {token}")
    assert (error.status, error.detail) == (401, "token has no key id (kid) and the key set holds several keys")


def test_jwks_with_a_single_key_is_used_without_kid(tmp_path, rsa_key):
    authenticator = auth(jwt_jwks_file=_jwks_file(tmp_path, ("only", rsa_key)))
    token = jwt.encode(claims(sub="no-kid"), rsa_key, algorithm="RS256")
    assert authenticator.authenticate(f"Bearer {token}").subject == "no-kid"


def test_jwks_skips_encryption_keys_and_honours_declared_alg(tmp_path, rsa_key, other_rsa_key):
    signing = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True) | {"kid": "sig", "alg": "RS256"}
    encryption = RSAAlgorithm.to_jwk(other_rsa_key.public_key(), as_dict=True) | {"kid": "enc", "use": "enc"}
    path = write(tmp_path / "jwks.json", json.dumps({"keys": [signing, encryption]}))
    authenticator = auth(jwt_jwks_file=path, jwt_algorithms=("RS256", "PS256"))
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256", headers={"kid": "enc"})
    assert refused(authenticator, f"Bearer {token}").detail == "token key id (kid) is not known"
    token = jwt.encode(claims(), rsa_key, algorithm="PS256", headers={"kid": "sig"})
    assert refused(authenticator, f"Bearer {token}").detail == "token algorithm does not match its key"
    token = jwt.encode(claims(sub="ok"), rsa_key, algorithm="RS256", headers={"kid": "sig"})
    assert authenticator.authenticate(f"Bearer {token}").subject == "ok"


def test_listed_hs384_is_accepted_with_a_long_enough_secret():
    secret = "x" * 48
    authenticator = auth(jwt_secret=secret, jwt_algorithms=("HS384",))
    token = jwt.encode(claims(), secret, algorithm="HS384")
    assert authenticator.authenticate(f"Bearer {token}").subject == "user-1"
    # HS256 is no longer listed.
    assert refused(authenticator, "Bearer " + hs256(claims(), secret)).detail == "token algorithm is not allowed"


# --- refused tokens -------------------------------------------------------------------------


def test_expired_token(hs):
    now = int(time.time())
    error = refused(hs, "Bearer " + hs256(claims(iat=now - 3600, exp=now - 120)))
    assert (error.status, error.detail, error.error) == (401, "token has expired", "invalid_token")


def test_expiry_within_leeway_is_accepted_and_leeway_is_configurable():
    now = int(time.time())
    token = hs256(claims(iat=now - 3600, exp=now - 10))
    assert auth(jwt_secret=SECRET).authenticate(f"Bearer {token}").subject == "user-1"
    assert refused(auth(jwt_secret=SECRET, jwt_leeway_seconds=0), f"Bearer {token}").detail == "token has expired"


def test_not_yet_valid_token(hs):
    error = refused(hs, "Bearer " + hs256(claims(nbf=int(time.time()) + 600)))
    assert (error.status, error.detail) == (401, "token is not yet valid")


def test_issuer_is_checked_when_configured():
    authenticator = auth(jwt_secret=SECRET, jwt_issuer="https://idp.example")
    assert authenticator.authenticate("Bearer " + hs256(claims(iss="https://idp.example"))).subject == "user-1"
    for token in (hs256(claims(iss="https://evil.example")), hs256(claims())):
        error = refused(authenticator, f"Bearer {token}")
        assert (error.status, error.detail) == (401, "token issuer is not accepted")


def test_audience_is_checked_when_configured():
    authenticator = auth(jwt_secret=SECRET, jwt_audience="tasker-analytics")
    assert authenticator.authenticate("Bearer " + hs256(claims(aud=["other", "tasker-analytics"]))).subject
    for token in (hs256(claims(aud="other-service")), hs256(claims())):
        error = refused(authenticator, f"Bearer {token}")
        assert (error.status, error.detail) == (401, "token audience is not accepted")


def test_audience_is_not_checked_when_not_configured(hs):
    assert hs.authenticate("Bearer " + hs256(claims(aud="anything"))).subject == "user-1"


def test_wrong_secret(hs):
    error = refused(hs, "Bearer " + hs256(claims(), "another-secret-that-is-long-enough-123"))
    assert (error.status, error.detail) == (401, "token signature is invalid")


def test_signed_by_another_rsa_key(other_rsa_key, rsa_pem_file):
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256")
    error = refused(auth(jwt_public_key_file=rsa_pem_file), f"Bearer {token}")
    assert (error.status, error.detail) == (401, "token signature is invalid")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
def test_alg_none_is_refused(alg, signature, rsa_pem_file):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    token = f"{header}.{payload}.{signature}"
    for authenticator in (auth(jwt_secret=SECRET), auth(jwt_public_key_file=rsa_pem_file)):
        error = refused(authenticator, f"Bearer {token}")
        assert (error.status, error.detail) == (401, "token algorithm is not allowed")


def _hs256_signed_with_public_pem(rsa_key) -> str:
    """The classic key-confusion forgery: HS256 keyed with the server's public key PEM.

    Built by hand because PyJWT refuses to use a PEM as an HMAC secret."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims(sub="forger")).encode())
    signature = hmac.new(pem(rsa_key.public_key()), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def test_hs_rs_key_confusion_is_refused(rsa_key, rsa_pem_file):
    forged = _hs256_signed_with_public_pem(rsa_key)
    error = refused(auth(jwt_public_key_file=rsa_pem_file), f"Bearer {forged}")
    assert (error.status, error.detail) == (401, "token algorithm is not allowed")
    # With a secret configured as well, HS256 is allowed but verified with the secret only.
    both = auth(jwt_public_key_file=rsa_pem_file, jwt_secret=SECRET)
    assert both.algorithms == {"HS256", "RS256", "ES256"}
    error = refused(both, f"Bearer {forged}")
    assert (error.status, error.detail) == (401, "token signature is invalid")
    # ...while genuine tokens of either kind still pass.
    assert both.authenticate("Bearer " + hs256(claims(sub="h"))).subject == "h"
    assert both.authenticate("Bearer " + jwt.encode(claims(sub="r"), rsa_key, algorithm="RS256")).subject == "r"


def test_rs256_token_refused_when_only_a_secret_is_configured(hs, rsa_key):
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    assert refused(hs, f"Bearer {token}").detail == "token algorithm is not allowed"


def test_missing_permission_is_403(hs):
    error = refused(hs, "Bearer " + hs256(claims(permissions=["tasker.analytics:other"], scope="openid")))
    assert error.status == 403
    assert error.error == "insufficient_scope"
    assert error.detail == f"the token does not grant the permission {PERMISSION!r}"
    assert hs.www_authenticate(error) == (
        'Bearer realm="tasker-analytics", error="insufficient_scope", '
        "error_description=\"the token does not grant the permission 'tasker.analytics:index'\", "
        f'scope="{PERMISSION}"'
    )


def test_permission_must_match_exactly(hs):
    for granted in (["tasker.analytics:index:extra"], ["tasker.analytics"], "tasker.analytics:indexes", 42, {"a": 1}):
        assert refused(hs, "Bearer " + hs256(claims(permissions=granted))).status == 403


def test_missing_exp_is_refused_unless_not_required():
    token = hs256(claims(exp=None))
    error = refused(auth(jwt_secret=SECRET), f"Bearer {token}")
    assert (error.status, error.detail) == (401, "token lacks the required claim 'exp'")
    assert auth(jwt_secret=SECRET, jwt_require_exp=False).authenticate(f"Bearer {token}").subject == "user-1"


@pytest.mark.parametrize(
    ("header", "detail", "code"),
    [
        (None, "the Authorization header is missing; send 'Bearer <token>'", None),
        ("", "the Authorization header is missing; send 'Bearer <token>'", None),
        ("   ", "the Authorization header is missing; send 'Bearer <token>'", None),
        ("Basic x", "the Authorization header must use the Bearer scheme: 'Bearer <token>'", "invalid_request"),
        (
            "Basic dXNlcjpwYXNz",
            "the Authorization header must use the Bearer scheme: 'Bearer <token>'",
            "invalid_request",
        ),
        ("Bearer", "the Authorization header has no token after 'Bearer'", "invalid_request"),
        ("Bearer    ", "the Authorization header has no token after 'Bearer'", "invalid_request"),
        ("Bearer a.b", "token is malformed", "invalid_token"),
        ("Bearer a.b.c.d.e", "token is malformed", "invalid_token"),
        ("Bearer aaaa.bbbb.cccc", "token is malformed", "invalid_token"),
        ("Bearer a b", "the token has characters a bearer token cannot contain", "invalid_request"),
        ('Bearer {"alg":"none"}', "the token has characters a bearer token cannot contain", "invalid_request"),
    ],
)
def test_malformed_headers(hs, header, detail, code):
    error = refused(hs, header)
    assert (error.status, error.detail, error.error) == (401, detail, code)


def _token_of_length(length: int) -> str:
    """A validly signed HS256 token exactly `length` characters long (a padding claim fills it)."""
    for size in range(max(0, length * 3 // 4 - 300), length):
        token = hs256(claims(padding="p" * size))
        if len(token) >= length:
            break
    # Base64 grows in steps of 4; trim the filler through the subject to hit the length exactly.
    for sub in ("user-1", "user-1x", "user-1xx", "user-1xxx"):
        for shrink in range(8):
            token = hs256(claims(sub=sub, padding="p" * (size - shrink)))
            if len(token) == length:
                return token
    raise AssertionError(f"no token of length {length}")


def test_oversized_token_is_refused_even_when_validly_signed(hs):
    at_limit = _token_of_length(MAX_TOKEN_BYTES)
    assert hs.authenticate(f"Bearer {at_limit}").kind == "jwt"
    just_over = _token_of_length(MAX_TOKEN_BYTES + 1)
    huge = hs256(claims(padding="p" * 4 * MAX_TOKEN_BYTES))
    for token in (just_over, huge):
        error = refused(hs, f"Bearer {token}")
        assert (error.status, error.detail) == (401, f"the token is longer than {MAX_TOKEN_BYTES} bytes")


def test_jwt_decode_is_always_given_the_one_algorithm_of_the_token(monkeypatch, rsa_key, rsa_pem_file):
    calls = []
    real_decode = jwt.decode

    def spy(*args, **kwargs):
        calls.append(kwargs.get("algorithms"))
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", spy)
    authenticator = auth(jwt_secret=SECRET, jwt_public_key_file=rsa_pem_file)
    authenticator.authenticate("Bearer " + hs256(claims()))
    authenticator.authenticate("Bearer " + jwt.encode(claims(), rsa_key, algorithm="RS256"))
    refused(authenticator, "Bearer " + _hs256_signed_with_public_pem(rsa_key))
    assert calls == [["HS256"], ["RS256"], ["HS256"]]


def test_non_string_sub_is_refused(hs):
    error = refused(hs, "Bearer " + hs256(claims(sub=12345)))
    assert (error.status, error.detail) == (401, "token subject (sub) is invalid")


def test_error_details_never_echo_the_token(hs, rsa_key):
    now = int(time.time())
    tokens = [
        hs256(claims(exp=now - 600)),
        hs256(claims(nbf=now + 600)),
        hs256(claims(), "wrong-secret-wrong-secret-wrong-secret"),
        hs256(claims(permissions=[])),
        jwt.encode(claims(), rsa_key, algorithm="RS256"),
        "not-a-known-token-value-abcdef",
        "eyJhbGciOiJIUzI1NiJ9.garbage!.x",
    ]
    for token in tokens:
        error = refused(hs, f"Bearer {token}")
        for piece in {token, *token.split(".")} - {""}:
            assert piece not in error.detail
            assert piece not in hs.www_authenticate(error)
            assert piece not in str(error)


# --- service tokens -------------------------------------------------------------------------


def test_hash_service_token_is_sha256_hex():
    assert hash_service_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_valid_service_token():
    authenticator = auth(service_tokens=(("reporting", hash_service_token(SERVICE_TOKEN)), ("other", "a" * 64)))
    principal = authenticator.authenticate(f"Bearer {SERVICE_TOKEN}")
    assert principal == Principal(subject="reporting", kind="service", permissions=frozenset({PERMISSION}))


def test_service_token_hash_in_upper_case_is_accepted():
    authenticator = auth(service_tokens=(("reporting", hash_service_token(SERVICE_TOKEN).upper()),))
    assert authenticator.authenticate(f"Bearer {SERVICE_TOKEN}").kind == "service"


def test_unknown_service_token():
    authenticator = auth(service_tokens=(("reporting", hash_service_token(SERVICE_TOKEN)),))
    error = refused(authenticator, f"Bearer {SERVICE_TOKEN}x")
    assert (error.status, error.detail) == (401, "the token is not a known service token")
    # A JWT is not accepted when no JWT key is configured.
    error = refused(authenticator, "Bearer " + hs256(claims()))
    assert (error.status, error.detail) == (401, "the token is not a known service token")


def test_service_tokens_and_jwts_together():
    authenticator = auth(jwt_secret=SECRET, service_tokens=(("reporting", hash_service_token(SERVICE_TOKEN)),))
    assert authenticator.authenticate(f"Bearer {SERVICE_TOKEN}").kind == "service"
    assert authenticator.authenticate("Bearer " + hs256(claims())).kind == "jwt"
    assert refused(authenticator, "Bearer not-a-service-token").detail == "the token is not a known service token"


# --- auth off -------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Basic x", "Bearer garbage", "Bearer " + "a" * 20000])
def test_not_required_returns_none(header):
    assert Authenticator(AuthSettings()).authenticate(header) is None
    assert Authenticator(AuthSettings(required=False, jwt_secret=SECRET)).authenticate(header) is None


# --- WWW-Authenticate -----------------------------------------------------------------------


def test_www_authenticate_values(hs):
    missing = refused(hs, None)
    assert hs.www_authenticate(missing) == 'Bearer realm="tasker-analytics"'
    expired = refused(hs, "Bearer " + hs256(claims(exp=int(time.time()) - 600)))
    assert hs.www_authenticate(expired) == (
        'Bearer realm="tasker-analytics", error="invalid_token", error_description="token has expired"'
    )
    custom = AuthError(401, 'say "hi"\\ \x00 \u00e9 there')
    assert custom.error == "invalid_token"
    assert hs.www_authenticate(custom) == (
        'Bearer realm="tasker-analytics", error="invalid_token", error_description="say \'hi\'   there"'
    )


def test_auth_error_rejects_other_statuses():
    with pytest.raises(ValueError):
        AuthError(500, "nope")
    assert AuthError(401, "x", "invalid_request").error == "invalid_request"
    assert AuthError(401, "x", None).error is None
    assert AuthError(403, "x").error == "insufficient_scope"


# --- settings from the environment ------------------------------------------------------------


def test_from_env_defaults():
    assert AuthSettings.from_env({}) == AuthSettings()
    settings = AuthSettings()
    assert (settings.required, settings.jwt_leeway_seconds, settings.jwt_require_exp) == (False, 30, True)
    assert (settings.permission, settings.permissions_claim) == (PERMISSION, "permissions")
    assert settings.effective_algorithms() == ()


def test_from_env_reads_every_variable(tmp_path, rsa_key):
    key_file = write(tmp_path / "key.pem", pem(rsa_key.public_key()))
    jwks_file = _jwks_file(tmp_path, ("k1", rsa_key))
    digest = hash_service_token(SERVICE_TOKEN)
    settings = AuthSettings.from_env(
        {
            "TASKER_ANALYTICS_AUTH_REQUIRED": "true",
            "TASKER_ANALYTICS_JWT_SECRET": f"  {SECRET}\n",
            "TASKER_ANALYTICS_JWT_PUBLIC_KEY_FILE": str(key_file),
            "TASKER_ANALYTICS_JWT_JWKS_FILE": str(jwks_file),
            "TASKER_ANALYTICS_JWT_ALGORITHMS": "hs256, RS256,,ps256,RS256",
            "TASKER_ANALYTICS_JWT_ISSUER": "https://idp.example",
            "TASKER_ANALYTICS_JWT_AUDIENCE": "tasker-analytics",
            "TASKER_ANALYTICS_JWT_LEEWAY_SECONDS": "5",
            "TASKER_ANALYTICS_JWT_REQUIRE_EXP": "false",
            "TASKER_ANALYTICS_REQUIRED_PERMISSION": "reports:read",
            "TASKER_ANALYTICS_JWT_PERMISSIONS_CLAIM": "perms",
            "TASKER_ANALYTICS_SERVICE_TOKENS": f" reporting:{digest.upper()} , ci:{'b' * 64},",
        }
    )
    assert settings == AuthSettings(
        required=True,
        jwt_secret=SECRET,
        jwt_public_key_file=key_file,
        jwt_jwks_file=jwks_file,
        jwt_algorithms=("HS256", "RS256", "PS256"),
        jwt_issuer="https://idp.example",
        jwt_audience="tasker-analytics",
        jwt_leeway_seconds=5,
        jwt_require_exp=False,
        permission="reports:read",
        permissions_claim="perms",
        service_tokens=(("reporting", digest), ("ci", "b" * 64)),
    )
    authenticator = Authenticator(settings)
    assert authenticator.authenticate(f"Bearer {SERVICE_TOKEN}").subject == "reporting"


def test_from_env_derives_algorithms(tmp_path, rsa_key):
    assert AuthSettings.from_env({"TASKER_ANALYTICS_JWT_SECRET": SECRET}).effective_algorithms() == ("HS256",)
    key_file = str(write(tmp_path / "key.pem", pem(rsa_key.public_key())))
    settings = AuthSettings.from_env({"TASKER_ANALYTICS_JWT_PUBLIC_KEY_FILE": key_file})
    assert settings.effective_algorithms() == ("RS256", "ES256")


def test_secret_is_not_in_the_settings_repr():
    assert SECRET not in repr(AuthSettings(jwt_secret=SECRET))
    assert "jwt_secret" not in repr(AuthSettings(jwt_secret=SECRET))


def test_auth_config_error_is_a_value_error():
    assert issubclass(AuthConfigError, ValueError)


# --- every configuration error ----------------------------------------------------------------

REQUIRED = {"TASKER_ANALYTICS_AUTH_REQUIRED": "true"}
SECRET_ENV = {"TASKER_ANALYTICS_JWT_SECRET": SECRET}


@pytest.fixture
def files(tmp_path, rsa_key, ec_key) -> dict[str, str]:
    """Key files, good and bad, by name."""
    small_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    k1_curve = ec.generate_private_key(ec.SECP256K1())
    good_jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True)
    paths = {
        "rsa": write(tmp_path / "rsa.pem", pem(rsa_key.public_key())),
        "missing": tmp_path / "does-not-exist.pem",
        "directory": tmp_path,
        "not_pem": write(tmp_path / "garbage.pem", "this is not a key"),
        "private": write(
            tmp_path / "private.pem",
            rsa_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        ),
        "small_rsa": write(tmp_path / "small.pem", pem(small_rsa.public_key())),
        "k1_curve": write(tmp_path / "k1.pem", pem(k1_curve.public_key())),
        "jwks_not_json": write(tmp_path / "bad.json", "{not json"),
        "jwks_no_keys": write(tmp_path / "nokeys.json", json.dumps({"issuer": "x"})),
        "jwks_empty": write(tmp_path / "empty.json", json.dumps({"keys": []})),
        "jwks_oct": write(tmp_path / "oct.json", json.dumps({"keys": [{"kty": "oct", "k": b64url(b"s" * 32)}]})),
        "jwks_dup_kid": write(
            tmp_path / "dup.json", json.dumps({"keys": [good_jwk | {"kid": "a"}, good_jwk | {"kid": "a"}]})
        ),
        "jwks_bad_rsa": write(tmp_path / "badrsa.json", json.dumps({"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB"}]})),
        "jwks_hs_alg": write(tmp_path / "hsalg.json", json.dumps({"keys": [good_jwk | {"alg": "HS256"}]})),
        "jwks_small_rsa": write(
            tmp_path / "smalljwks.json",
            json.dumps({"keys": [RSAAlgorithm.to_jwk(small_rsa.public_key(), as_dict=True)]}),
        ),
    }
    return {name: str(path) for name, path in paths.items()}


KEY_FILE = "TASKER_ANALYTICS_JWT_PUBLIC_KEY_FILE"
JWKS_FILE = "TASKER_ANALYTICS_JWT_JWKS_FILE"

CONFIG_ERRORS = [
    # (case, environment (file names in {braces}), variable named, words in the message)
    ("required_without_credentials", REQUIRED, "TASKER_ANALYTICS_AUTH_REQUIRED", "no credential"),
    (
        "required_not_boolean",
        {"TASKER_ANALYTICS_AUTH_REQUIRED": "maybe"},
        "TASKER_ANALYTICS_AUTH_REQUIRED",
        "true or false",
    ),
    ("key_file_missing", {KEY_FILE: "{missing}"}, KEY_FILE, "cannot read"),
    ("key_file_is_directory", {KEY_FILE: "{directory}"}, KEY_FILE, "cannot read"),
    ("key_file_not_pem", {KEY_FILE: "{not_pem}"}, KEY_FILE, "not a PEM public key"),
    ("key_file_private", {KEY_FILE: "{private}"}, KEY_FILE, "private key"),
    ("key_file_small_rsa", {KEY_FILE: "{small_rsa}"}, KEY_FILE, "1024-bit"),
    ("key_file_unsupported_curve", {KEY_FILE: "{k1_curve}"}, KEY_FILE, "secp256k1"),
    ("jwks_missing", {JWKS_FILE: "{missing}"}, JWKS_FILE, "cannot read"),
    ("jwks_not_json", {JWKS_FILE: "{jwks_not_json}"}, JWKS_FILE, "not valid JSON"),
    ("jwks_no_keys_list", {JWKS_FILE: "{jwks_no_keys}"}, JWKS_FILE, '"keys" list'),
    ("jwks_empty", {JWKS_FILE: "{jwks_empty}"}, JWKS_FILE, "no usable"),
    ("jwks_symmetric_key", {JWKS_FILE: "{jwks_oct}"}, JWKS_FILE, "symmetric"),
    ("jwks_duplicate_kid", {JWKS_FILE: "{jwks_dup_kid}"}, JWKS_FILE, "more than once"),
    ("jwks_invalid_key", {JWKS_FILE: "{jwks_bad_rsa}"}, JWKS_FILE, "not a valid RSA key"),
    ("jwks_hmac_alg", {JWKS_FILE: "{jwks_hs_alg}"}, JWKS_FILE, "unsupported alg"),
    ("jwks_small_rsa", {JWKS_FILE: "{jwks_small_rsa}"}, JWKS_FILE, "1024-bit"),
    (
        "alg_none",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_ALGORITHMS": "HS256,none"},
        "TASKER_ANALYTICS_JWT_ALGORITHMS",
        "'none'",
    ),
    (
        "alg_none_upper",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_ALGORITHMS": "NONE"},
        "TASKER_ANALYTICS_JWT_ALGORITHMS",
        "'none'",
    ),
    (
        "alg_unknown",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_ALGORITHMS": "HS256,XS999"},
        "TASKER_ANALYTICS_JWT_ALGORITHMS",
        "unknown",
    ),
    (
        "alg_eddsa_unsupported",
        {KEY_FILE: "{rsa}", "TASKER_ANALYTICS_JWT_ALGORITHMS": "EdDSA"},
        "TASKER_ANALYTICS_JWT_ALGORITHMS",
        "unknown",
    ),
    (
        "hmac_with_public_key",
        {KEY_FILE: "{rsa}", "TASKER_ANALYTICS_JWT_ALGORITHMS": "RS256,HS256"},
        "TASKER_ANALYTICS_JWT_SECRET",
        "never with a public key",
    ),
    (
        "hmac_only_with_public_key",
        REQUIRED | {KEY_FILE: "{rsa}", "TASKER_ANALYTICS_JWT_ALGORITHMS": "HS256"},
        "TASKER_ANALYTICS_JWT_ALGORITHMS",
        "never with a public key",
    ),
    (
        "rsa_alg_with_secret_only",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_ALGORITHMS": "HS256,RS256"},
        KEY_FILE,
        "public key only",
    ),
    (
        "secret_unused",
        SECRET_ENV | {KEY_FILE: "{rsa}", "TASKER_ANALYTICS_JWT_ALGORITHMS": "RS256"},
        "TASKER_ANALYTICS_JWT_SECRET",
        "no HS algorithm",
    ),
    (
        "key_unused",
        SECRET_ENV | {KEY_FILE: "{rsa}", "TASKER_ANALYTICS_JWT_ALGORITHMS": "HS256"},
        KEY_FILE,
        "no RS/PS/ES",
    ),
    ("secret_too_short", {"TASKER_ANALYTICS_JWT_SECRET": "short"}, "TASKER_ANALYTICS_JWT_SECRET", "at least 32 bytes"),
    (
        "secret_too_short_for_hs512",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_ALGORITHMS": "HS256,HS512"},
        "TASKER_ANALYTICS_JWT_SECRET",
        "at least 64 bytes",
    ),
    (
        "secret_is_a_pem_key",
        {"TASKER_ANALYTICS_JWT_SECRET": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"},
        "TASKER_ANALYTICS_JWT_SECRET",
        "looks like a public or private key",
    ),
    (
        "leeway_not_a_number",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_LEEWAY_SECONDS": "soon"},
        "TASKER_ANALYTICS_JWT_LEEWAY_SECONDS",
        "whole number",
    ),
    (
        "leeway_negative",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_LEEWAY_SECONDS": "-1"},
        "TASKER_ANALYTICS_JWT_LEEWAY_SECONDS",
        "0 to 300",
    ),
    (
        "leeway_too_large",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_LEEWAY_SECONDS": "86400"},
        "TASKER_ANALYTICS_JWT_LEEWAY_SECONDS",
        "0 to 300",
    ),
    (
        "require_exp_not_boolean",
        SECRET_ENV | {"TASKER_ANALYTICS_JWT_REQUIRE_EXP": "sometimes"},
        "TASKER_ANALYTICS_JWT_REQUIRE_EXP",
        "true or false",
    ),
    (
        "permission_with_space",
        SECRET_ENV | {"TASKER_ANALYTICS_REQUIRED_PERMISSION": "a b"},
        "TASKER_ANALYTICS_REQUIRED_PERMISSION",
        "without spaces",
    ),
    (
        "permission_with_quote",
        SECRET_ENV | {"TASKER_ANALYTICS_REQUIRED_PERMISSION": 'a"b'},
        "TASKER_ANALYTICS_REQUIRED_PERMISSION",
        "without spaces",
    ),
    (
        "service_token_without_colon",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": SERVICE_TOKEN},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "entry 1",
    ),
    (
        "service_token_raw_not_hash",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": f"ci:{SERVICE_TOKEN}"},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "64 hex digits",
    ),
    (
        "service_token_short_hash",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": "ci:abc123"},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "64 hex digits",
    ),
    (
        "service_token_non_hex",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": "ci:" + "g" * 64},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "64 hex digits",
    ),
    (
        "service_token_no_name",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": ":" + "a" * 64},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "the name",
    ),
    (
        "service_token_second_entry",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": f"a:{'a' * 64},b:nothex"},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "entry 2",
    ),
    (
        "service_token_duplicate_name",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": f"a:{'a' * 64},a:{'b' * 64}"},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "twice",
    ),
    (
        "service_token_duplicate_hash",
        {"TASKER_ANALYTICS_SERVICE_TOKENS": f"a:{'a' * 64},b:{'A' * 64}"},
        "TASKER_ANALYTICS_SERVICE_TOKENS",
        "twice",
    ),
]


@pytest.mark.parametrize(
    ("env", "variable", "words"), [case[1:] for case in CONFIG_ERRORS], ids=[case[0] for case in CONFIG_ERRORS]
)
def test_config_errors_name_the_variable(files, env, variable, words):
    env = {name: value.format(**files) if value.startswith("{") else value for name, value in env.items()}
    with pytest.raises(AuthConfigError) as caught:
        AuthSettings.from_env(env)
    message = str(caught.value)
    assert variable in message
    assert words in message
    # Configuration errors never repeat a service token or a secret.
    assert SERVICE_TOKEN not in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (AuthSettings(required=True), "TASKER_ANALYTICS_AUTH_REQUIRED"),
        (AuthSettings(jwt_public_key_file=Path("/nonexistent/key.pem")), KEY_FILE),
        (AuthSettings(jwt_jwks_file=Path("/nonexistent/jwks.json")), JWKS_FILE),
        (AuthSettings(jwt_secret=SECRET, jwt_algorithms=("none",)), "TASKER_ANALYTICS_JWT_ALGORITHMS"),
        (AuthSettings(jwt_secret=SECRET, jwt_algorithms=("HS256", "RS256")), KEY_FILE),
        (AuthSettings(jwt_secret=SECRET, jwt_leeway_seconds=-5), "TASKER_ANALYTICS_JWT_LEEWAY_SECONDS"),
        (AuthSettings(jwt_secret=SECRET, permissions_claim=" "), "TASKER_ANALYTICS_JWT_PERMISSIONS_CLAIM"),
        (AuthSettings(jwt_secret=SECRET, jwt_issuer=" "), "TASKER_ANALYTICS_JWT_ISSUER"),
        (AuthSettings(jwt_secret=SECRET, jwt_audience=""), "TASKER_ANALYTICS_JWT_AUDIENCE"),
        (AuthSettings(service_tokens=(("ci", SERVICE_TOKEN),)), "TASKER_ANALYTICS_SERVICE_TOKENS"),
    ],
)
def test_authenticator_validates_settings_built_in_code(settings, variable):
    with pytest.raises(AuthConfigError) as caught:
        Authenticator(settings)
    assert variable in str(caught.value)
    assert SERVICE_TOKEN not in str(caught.value)


def test_key_confusion_guard_with_settings_built_in_code(rsa_pem_file):
    with pytest.raises(AuthConfigError, match="never with a public key"):
        Authenticator(AuthSettings(required=True, jwt_public_key_file=rsa_pem_file, jwt_algorithms=("HS256",)))
