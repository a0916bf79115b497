"""Bearer authentication of the analytics endpoints: JWTs and hashed service tokens.

Off unless TASKER_ANALYTICS_AUTH_REQUIRED=true. A request then carries
`Authorization: Bearer <token>`, where the token is either

- a JWT signed with HS256/384/512 (TASKER_ANALYTICS_JWT_SECRET), or RS*/PS*/ES*
  (TASKER_ANALYTICS_JWT_PUBLIC_KEY_FILE, a PEM public key or certificate, and/or
  TASKER_ANALYTICS_JWT_JWKS_FILE, a JWKS picked by `kid`), or
- an opaque service token whose SHA-256 is listed in TASKER_ANALYTICS_SERVICE_TOKENS.

Key-confusion guard: an HMAC algorithm is verified with the shared secret only and an
RSA/EC algorithm with a configured public key only; `none` is never accepted, and every
call to `jwt.decode` names the one algorithm it accepts.

`Authenticator.authenticate` raises `AuthError` (401: no or bad credentials; 403: valid
credentials without the permission); its detail never repeats the token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tasker_analytics.auth.settings import HMAC_ALGORITHMS, AuthSettings, PublicKey, load_keys

logger = logging.getLogger("tasker_analytics.auth.tokens")


REALM = "tasker-analytics"


MAX_TOKEN_BYTES = 8192


# RFC 6750 error_description characters.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_DESCRIPTION_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class _Default:
    """Marker of AuthError's default error code."""


_DEFAULT = _Default()


class AuthError(Exception):
    """A refused request: status 401 (no or bad credentials) or 403 (missing permission).

    `error` is the RFC 6750 error code for WWW-Authenticate: by default invalid_token for
    401 and insufficient_scope for 403; None when the request carried no credentials at all.
    `detail` is safe to send to the client: it never contains the token.
    """

    DEFAULT_CODES = {401: "invalid_token", 403: "insufficient_scope"}

    def __init__(self, status: int, detail: str, error: str | None | _Default = _DEFAULT) -> None:
        if status not in self.DEFAULT_CODES:
            raise ValueError(f"AuthError status must be 401 or 403, got {status}")
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error: str | None = self.DEFAULT_CODES[status] if isinstance(error, _Default) else error

    def __repr__(self) -> str:
        return f"AuthError({self.status}, {self.detail!r}, error={self.error!r})"


@dataclass(frozen=True)
class Principal:
    """Who made the request: `kind` is "jwt" (subject = `sub`) or "service" (subject = the token's name)."""

    subject: str
    kind: str
    permissions: frozenset[str]


# Shortest service token accepted: as for HS256 secrets, 256 bits of a random hex or
# base64 string take at least 32 characters. Only hashes are configured, so a short token
# is refused where it is seen: by `hash-token`, and when it is presented.
MIN_SERVICE_TOKEN_LENGTH = 32


# The registered claims that hold times.
_TIME_CLAIMS = ("exp", "nbf", "iat")


def hash_service_token(token: str) -> str:
    """The SHA-256 hex digest of a service token, as listed in TASKER_ANALYTICS_SERVICE_TOKENS."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _deny(detail: str, error: str = "invalid_token") -> AuthError:
    return AuthError(401, detail, error)


# PyJWT exceptions mapped to fixed details (never str(exception): no token content leaks).
_JWT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not yet valid"),
    (jwt.InvalidIssuerError, "token issuer is not accepted"),
    (jwt.InvalidAudienceError, "token audience is not accepted"),
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm is not allowed"),
    (jwt.InvalidKeyError, "token cannot be verified with the configured key"),
    (jwt.InvalidIssuedAtError, "token issue time (iat) is invalid"),
    (getattr(jwt.exceptions, "InvalidSubjectError", jwt.DecodeError), "token subject (sub) is invalid"),
    (getattr(jwt.exceptions, "InvalidJTIError", jwt.DecodeError), "token id (jti) is invalid"),
    (jwt.DecodeError, "token is malformed"),
    (jwt.PyJWTError, "token is invalid"),
)


class Authenticator:
    """Checks the Authorization header of a request; keys are loaded once, here."""

    def __init__(self, settings: AuthSettings) -> None:
        settings.validate()
        self.settings = settings
        self.algorithms = frozenset(settings.effective_algorithms())
        self._secret = settings.jwt_secret.encode("utf-8") if settings.jwt_secret else None
        self._pem, self._jwks = load_keys(settings)
        self._service_tokens = tuple((name, digest.lower()) for name, digest in settings.service_tokens)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal of a request, or None when auth is not required.

        Raises AuthError: 401 for missing or invalid credentials, 403 for valid ones
        without the required permission.
        """
        if not self.settings.required:
            return None
        token = self._bearer_token(authorization)
        principal = self._service_principal(token) or self._jwt_principal(token)
        if self.settings.permission not in principal.permissions:
            raise AuthError(403, f"the token does not grant the permission {self.settings.permission!r}")
        return principal

    def www_authenticate(self, error: AuthError) -> str:
        """The WWW-Authenticate value for an AuthError (RFC 6750 section 3)."""
        params = [f'realm="{REALM}"']
        if error.error:
            params.append(f'error="{_DESCRIPTION_UNSAFE.sub("", error.error)}"')
            description = _DESCRIPTION_UNSAFE.sub("", error.detail.replace('"', "'"))[:200]
            if description:
                params.append(f'error_description="{description}"')
            if error.error == "insufficient_scope":
                params.append(f'scope="{self.settings.permission}"')
        return "Bearer " + ", ".join(params)

    # --- steps --------------------------------------------------------------------------

    @staticmethod
    def _bearer_token(authorization: str | None) -> str:
        if authorization is None or not authorization.strip():
            raise AuthError(401, "the Authorization header is missing; send 'Bearer <token>'", None)
        if len(authorization) > MAX_TOKEN_BYTES + 64:
            raise _deny(f"the token is longer than {MAX_TOKEN_BYTES} bytes")
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise _deny("the Authorization header must use the Bearer scheme: 'Bearer <token>'", "invalid_request")
        token = rest.strip()
        if not token:
            raise _deny("the Authorization header has no token after 'Bearer'", "invalid_request")
        if len(token.encode("utf-8")) > MAX_TOKEN_BYTES:
            raise _deny(f"the token is longer than {MAX_TOKEN_BYTES} bytes")
        if not _TOKEN68.fullmatch(token):
            raise _deny("the token has characters a bearer token cannot contain", "invalid_request")
        return token

    def _service_principal(self, token: str) -> Principal | None:
        if not self._service_tokens or len(token) < MIN_SERVICE_TOKEN_LENGTH:
            return None
        digest = hash_service_token(token)
        matched: str | None = None
        for name, expected in self._service_tokens:  # every entry compared: no early exit
            if hmac.compare_digest(digest, expected) and matched is None:
                matched = name
        if matched is None:
            return None
        return Principal(subject=matched, kind="service", permissions=frozenset({self.settings.permission}))

    def _jwt_principal(self, token: str) -> Principal:
        if not self.algorithms:
            raise _deny("the token is not a known service token")
        if token.count(".") != 2:
            detail = "the token is not a known service token" if self._service_tokens else "token is malformed"
            raise _deny(detail)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _deny("token is malformed") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str):
            raise _deny("token is malformed")
        if algorithm not in self.algorithms:  # 'none' never is; nor HS* without a secret, RS/ES without a key
            raise _deny("token algorithm is not allowed")
        key = self._secret if algorithm in HMAC_ALGORITHMS else self._public_key(algorithm, header.get("kid"))
        options: dict[str, Any] = {
            "require": ["exp"] if self.settings.jwt_require_exp else [],
            "verify_aud": self.settings.jwt_audience is not None,
        }
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                options=options,  # type: ignore[arg-type]
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                leeway=self.settings.jwt_leeway_seconds,
            )
        except jwt.MissingRequiredClaimError as error:
            detail = {
                "iss": "token issuer is not accepted",
                "aud": "token audience is not accepted",
            }.get(error.claim, f"token lacks the required claim {error.claim!r}")
            raise _deny(detail) from None
        except jwt.PyJWTError as error:
            logger.debug("JWT refused: %s", type(error).__name__)
            detail = next(text for kind, text in _JWT_ERRORS if isinstance(error, kind))
            raise _deny(detail) from None
        except (ValueError, TypeError, OverflowError) as error:
            logger.debug("JWT refused: %s", type(error).__name__)
            raise _deny("token is malformed") from None
        for claim in _TIME_CLAIMS:
            value = claims.get(claim)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                # RFC 7519 4.1.4-4.1.6: a NumericDate is a JSON number, never a string.
                raise _deny(f"token claim {claim!r} must be a number (RFC 7519 NumericDate)")
        subject = claims.get("sub")
        return Principal(
            subject=subject if isinstance(subject, str) else "",
            kind="jwt",
            permissions=self._permissions(claims),
        )

    def _public_key(self, algorithm: str, kid: Any) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        if kid is not None and not isinstance(kid, str):
            raise _deny("token is malformed")
        chosen: PublicKey | None = None
        if kid is not None:
            chosen = next((key for key in self._jwks if key.kid == kid), None)
        if chosen is None and self._pem is not None:
            chosen = self._pem
        if chosen is None and kid is None and len(self._jwks) == 1:
            chosen = self._jwks[0]
        if chosen is None:
            if kid is None:
                raise _deny("token has no key id (kid) and the key set holds several keys")
            raise _deny("token key id (kid) is not known")
        if not chosen.accepts(algorithm):
            raise _deny("token algorithm does not match its key")
        return chosen.key

    def _permissions(self, claims: Mapping[str, Any]) -> frozenset[str]:
        granted: set[str] = set()
        for name in dict.fromkeys((self.settings.permissions_claim, "scope")):
            value = claims.get(name)
            if isinstance(value, str):
                granted.update(value.split())
            elif isinstance(value, list):
                granted.update(item for item in value if isinstance(item, str))
        return frozenset(granted)
