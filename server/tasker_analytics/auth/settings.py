"""Auth configuration: the TASKER_ANALYTICS_* auth variables, declared once, the
AuthSettings read from them and validated, and the public keys loaded from the key files.
It imports only config.variables, so config.settings can import it."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tasker_analytics.config.variables import SettingsError, Variable, boolean, integer, path, text

logger = logging.getLogger("tasker_analytics.auth.settings")


MAX_LEEWAY_SECONDS = 300


MIN_RSA_BITS = 2048


ENV_REQUIRED = "TASKER_ANALYTICS_AUTH_REQUIRED"


ENV_SECRET = "TASKER_ANALYTICS_JWT_SECRET"


ENV_PUBLIC_KEY_FILE = "TASKER_ANALYTICS_JWT_PUBLIC_KEY_FILE"


ENV_JWKS_FILE = "TASKER_ANALYTICS_JWT_JWKS_FILE"


ENV_ALGORITHMS = "TASKER_ANALYTICS_JWT_ALGORITHMS"


ENV_ISSUER = "TASKER_ANALYTICS_JWT_ISSUER"


ENV_AUDIENCE = "TASKER_ANALYTICS_JWT_AUDIENCE"


ENV_LEEWAY = "TASKER_ANALYTICS_JWT_LEEWAY_SECONDS"


ENV_REQUIRE_EXP = "TASKER_ANALYTICS_JWT_REQUIRE_EXP"


ENV_PERMISSION = "TASKER_ANALYTICS_REQUIRED_PERMISSION"


ENV_PERMISSIONS_CLAIM = "TASKER_ANALYTICS_JWT_PERMISSIONS_CLAIM"


ENV_SERVICE_TOKENS = "TASKER_ANALYTICS_SERVICE_TOKENS"


# Accepted algorithms. HMAC: the minimum secret length (RFC 7518 3.2: at least the hash size).
HMAC_ALGORITHMS: dict[str, int] = {"HS256": 32, "HS384": 48, "HS512": 64}


RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})


EC_ALGORITHMS: dict[str, type[ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}


KNOWN_ALGORITHMS = (*HMAC_ALGORITHMS, *sorted(RSA_ALGORITHMS), *EC_ALGORITHMS)


_CANONICAL = {name.upper(): name for name in KNOWN_ALGORITHMS}


# RFC 6750 scope-token characters: no space, no quote, no backslash.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class AuthConfigError(SettingsError):
    """An auth setting that cannot be used; the message names the variable."""


def _parse_algorithms(name_: str, raw: str, error: type[Exception]) -> tuple[str, ...]:
    names: list[str] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        name = _CANONICAL.get(item.upper(), item)
        if name not in names:
            names.append(name)
    return tuple(names)


def _parse_service_tokens(name_: str, raw: str, error: type[Exception]) -> tuple[tuple[str, str], ...]:
    entries: list[tuple[str, str]] = []
    for index, item in enumerate((part.strip() for part in raw.split(",")), start=1):
        if not item:
            continue
        name, separator, digest = item.partition(":")
        if not separator:
            # Never echo the entry: it may be a raw token pasted by mistake.
            raise AuthConfigError(
                f"{ENV_SERVICE_TOKENS} entry {index} must be name:<sha256 hex of the token> "
                "(tasker-analytics hash-token TOKEN prints the hash)"
            )
        entries.append((name.strip(), digest.strip().lower()))
    return tuple(entries)


# The auth variables, declared once (README, Configuration), and the AuthSettings field each fills.
AUTH_VARIABLES: dict[str, Variable] = {
    variable.name: variable
    for variable in (
        Variable(ENV_REQUIRED, boolean, False, "false"),
        Variable(ENV_SECRET, text, None, "unset"),
        Variable(ENV_PUBLIC_KEY_FILE, path, None, "unset"),
        Variable(ENV_JWKS_FILE, path, None, "unset"),
        Variable(ENV_ALGORITHMS, _parse_algorithms, (), "from the key"),
        Variable(ENV_ISSUER, text, None, "unset"),
        Variable(ENV_AUDIENCE, text, None, "unset"),
        Variable(ENV_LEEWAY, integer(minimum=-(2**31), unit="a whole number of seconds"), 30, "30"),
        Variable(ENV_REQUIRE_EXP, boolean, True, "true"),
        Variable(ENV_PERMISSION, text, "tasker.analytics:index", "tasker.analytics:index"),
        Variable(ENV_PERMISSIONS_CLAIM, text, "permissions", "permissions"),
        Variable(ENV_SERVICE_TOKENS, _parse_service_tokens, (), "unset"),
    )
}


_FIELDS = (
    ("required", ENV_REQUIRED),
    ("jwt_secret", ENV_SECRET),
    ("jwt_public_key_file", ENV_PUBLIC_KEY_FILE),
    ("jwt_jwks_file", ENV_JWKS_FILE),
    ("jwt_algorithms", ENV_ALGORITHMS),
    ("jwt_issuer", ENV_ISSUER),
    ("jwt_audience", ENV_AUDIENCE),
    ("jwt_leeway_seconds", ENV_LEEWAY),
    ("jwt_require_exp", ENV_REQUIRE_EXP),
    ("permission", ENV_PERMISSION),
    ("permissions_claim", ENV_PERMISSIONS_CLAIM),
    ("service_tokens", ENV_SERVICE_TOKENS),
)


def _auth_default(name: str) -> Any:
    return AUTH_VARIABLES[name].default


@dataclass(frozen=True)
class AuthSettings:
    """Auth configuration; `from_env` reads the TASKER_ANALYTICS_* variables.

    `jwt_algorithms` empty means derived: HS256 when a secret is set, RS256 and ES256 when
    a public key file or JWKS is set. `validate()` (run by `from_env` and by
    `Authenticator`) raises AuthConfigError naming the variable at fault.
    """

    required: bool = _auth_default(ENV_REQUIRED)
    jwt_secret: str | None = field(default=None, repr=False)  # never in logs
    jwt_public_key_file: Path | None = None
    jwt_jwks_file: Path | None = None
    jwt_algorithms: tuple[str, ...] = ()
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = _auth_default(ENV_LEEWAY)
    jwt_require_exp: bool = _auth_default(ENV_REQUIRE_EXP)
    permission: str = _auth_default(ENV_PERMISSION)
    permissions_claim: str = _auth_default(ENV_PERMISSIONS_CLAIM)
    service_tokens: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        env = os.environ if env is None else env
        settings = cls(**{field_name: AUTH_VARIABLES[name].read(env, AuthConfigError) for field_name, name in _FIELDS})
        settings.validate()
        load_keys(settings)  # an unreadable key file fails here, not at the first request
        return settings

    @property
    def has_secret(self) -> bool:
        return bool(self.jwt_secret)

    @property
    def has_public_keys(self) -> bool:
        return self.jwt_public_key_file is not None or self.jwt_jwks_file is not None

    def effective_algorithms(self) -> tuple[str, ...]:
        """The JWT algorithms accepted: the listed ones, or the ones derived from the keys."""
        if self.jwt_algorithms:
            return self.jwt_algorithms
        derived: list[str] = []
        if self.has_secret:
            derived.append("HS256")
        if self.has_public_keys:
            derived += ["RS256", "ES256"]
        return tuple(derived)

    def validate(self) -> None:
        """Checks everything that needs no file; raises AuthConfigError naming the variable."""
        if self.required and not (self.has_secret or self.has_public_keys or self.service_tokens):
            raise AuthConfigError(
                f"{ENV_REQUIRED} is true but no credential is configured: set {ENV_SECRET}, "
                f"{ENV_PUBLIC_KEY_FILE}, {ENV_JWKS_FILE} or {ENV_SERVICE_TOKENS}"
            )
        for name in self.jwt_algorithms:
            if name.strip().lower() == "none":
                raise AuthConfigError(f"{ENV_ALGORITHMS} must not list 'none': unsigned tokens are never accepted")
            if name not in KNOWN_ALGORITHMS:
                raise AuthConfigError(
                    f"{ENV_ALGORITHMS} lists an unknown algorithm {name!r}; known: {', '.join(KNOWN_ALGORITHMS)}"
                )
        algorithms = self.effective_algorithms()
        hmac_listed = [name for name in algorithms if name in HMAC_ALGORITHMS]
        public_listed = [name for name in algorithms if name not in HMAC_ALGORITHMS]
        if hmac_listed and not self.has_secret:
            raise AuthConfigError(
                f"{ENV_ALGORITHMS} lists {', '.join(hmac_listed)} but {ENV_SECRET} is not set: HMAC "
                "algorithms are verified with the shared secret only, never with a public key"
            )
        if public_listed and not self.has_public_keys:
            raise AuthConfigError(
                f"{ENV_ALGORITHMS} lists {', '.join(public_listed)} but neither {ENV_PUBLIC_KEY_FILE} "
                f"nor {ENV_JWKS_FILE} is set: RSA/EC algorithms are verified with a public key only"
            )
        if self.has_secret and not hmac_listed:
            raise AuthConfigError(f"{ENV_SECRET} is set but {ENV_ALGORITHMS} lists no HS algorithm to use it with")
        if self.has_public_keys and not public_listed:
            raise AuthConfigError(
                f"{ENV_PUBLIC_KEY_FILE}/{ENV_JWKS_FILE} is set but {ENV_ALGORITHMS} lists no RS/PS/ES "
                "algorithm to use it with"
            )
        if self.jwt_secret:
            if "-----BEGIN" in self.jwt_secret or self.jwt_secret.startswith(("ssh-", "ecdsa-")):
                raise AuthConfigError(
                    f"{ENV_SECRET} looks like a public or private key; put a public key in {ENV_PUBLIC_KEY_FILE}"
                )
            needed = max(HMAC_ALGORITHMS[name] for name in hmac_listed)
            if len(self.jwt_secret.encode("utf-8")) < needed:
                raise AuthConfigError(
                    f"{ENV_SECRET} must be at least {needed} bytes for {', '.join(hmac_listed)} "
                    "(RFC 7518 3.2); use a random secret, e.g. `openssl rand -hex 32`"
                )
        if not isinstance(self.jwt_leeway_seconds, int) or not 0 <= self.jwt_leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise AuthConfigError(
                f"{ENV_LEEWAY} must be from 0 to {MAX_LEEWAY_SECONDS} seconds, got {self.jwt_leeway_seconds!r}"
            )
        if not _SCOPE_TOKEN.fullmatch(self.permission or ""):
            raise AuthConfigError(
                f"{ENV_PERMISSION} must be one permission without spaces, quotes or backslashes, "
                f"got {self.permission!r}"
            )
        if not (self.permissions_claim or "").strip():
            raise AuthConfigError(f"{ENV_PERMISSIONS_CLAIM} must name a claim")
        if self.jwt_issuer is not None and not self.jwt_issuer.strip():
            raise AuthConfigError(f"{ENV_ISSUER} must not be blank")
        if self.jwt_audience is not None and not self.jwt_audience.strip():
            raise AuthConfigError(f"{ENV_AUDIENCE} must not be blank")
        names: set[str] = set()
        digests: set[str] = set()
        for index, entry in enumerate(self.service_tokens, start=1):
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise AuthConfigError(f"{ENV_SERVICE_TOKENS} entry {index} must be a (name, sha256 hex) pair")
            name, digest = entry
            if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
                raise AuthConfigError(
                    f"{ENV_SERVICE_TOKENS} entry {index}: the name must be 1 to 64 characters of "
                    "letters, digits, '.', '_', '@' or '-'"
                )
            if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest.lower()):
                raise AuthConfigError(
                    f"{ENV_SERVICE_TOKENS} entry {index} ({name}): the hash must be the 64 hex digits of the "
                    "token's SHA-256 (tasker-analytics hash-token TOKEN prints it), not the token"
                )
            if name in names:
                raise AuthConfigError(f"{ENV_SERVICE_TOKENS} names {name!r} twice")
            if digest.lower() in digests:
                raise AuthConfigError(f"{ENV_SERVICE_TOKENS} lists the same token hash twice ({name})")
            names.add(name)
            digests.add(digest.lower())


@dataclass(frozen=True)
class PublicKey:
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    kid: str | None
    alg: str | None  # the algorithm a JWK declares, if any
    source: str

    def accepts(self, algorithm: str) -> bool:
        if self.alg is not None and self.alg != algorithm:
            return False
        if algorithm in RSA_ALGORITHMS:
            return isinstance(self.key, rsa.RSAPublicKey)
        curve = EC_ALGORITHMS.get(algorithm)
        return (
            curve is not None and isinstance(self.key, ec.EllipticCurvePublicKey) and isinstance(self.key.curve, curve)
        )


def _check_public_key(key: Any, variable: str, where: str) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise AuthConfigError(
                f"{variable}: {where} is a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits are required"
            )
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not any(isinstance(key.curve, curve) for curve in EC_ALGORITHMS.values()):
            raise AuthConfigError(f"{variable}: {where} uses curve {key.curve.name}; use P-256, P-384 or P-521")
        return key
    raise AuthConfigError(f"{variable}: {where} is neither an RSA nor an EC public key")


def _read(path: Path, variable: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise AuthConfigError(f"{variable}: cannot read {path}: {error.strerror or error}") from None


def _load_pem(path: Path) -> PublicKey:
    data = _read(path, ENV_PUBLIC_KEY_FILE)
    if b"PRIVATE KEY-----" in data:
        raise AuthConfigError(f"{ENV_PUBLIC_KEY_FILE}: {path} holds a private key; give the public key only")
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuthConfigError(f"{ENV_PUBLIC_KEY_FILE}: {path} is not a PEM public key or certificate") from None
    return PublicKey(_check_public_key(key, ENV_PUBLIC_KEY_FILE, str(path)), None, None, str(path))


def _load_jwks(path: Path) -> list[PublicKey]:
    data = _read(path, ENV_JWKS_FILE)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise AuthConfigError(f"{ENV_JWKS_FILE}: {path} is not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise AuthConfigError(f'{ENV_JWKS_FILE}: {path} must be a JSON object with a "keys" list')
    keys: list[PublicKey] = []
    skipped = 0
    for index, jwk in enumerate(document["keys"], start=1):
        where = f"key {index} of {path}"
        if not isinstance(jwk, dict):
            raise AuthConfigError(f"{ENV_JWKS_FILE}: {where} is not a JSON object")
        kty, kid, alg = jwk.get("kty"), jwk.get("kid"), jwk.get("alg")
        if kid is not None and not isinstance(kid, str):
            raise AuthConfigError(f"{ENV_JWKS_FILE}: {where} has a kid that is not a string")
        if kid is not None:
            where = f"key {kid!r} of {path}"
        if jwk.get("use") not in (None, "sig"):
            skipped += 1  # an encryption key
            continue
        key_ops = jwk.get("key_ops")
        if isinstance(key_ops, list) and "verify" not in key_ops:
            skipped += 1
            continue
        if kty == "oct":
            raise AuthConfigError(
                f"{ENV_JWKS_FILE}: {where} is a symmetric (oct) key; JWKS keys must be RSA or EC public keys "
                f"(an HMAC secret belongs in {ENV_SECRET})"
            )
        if kty not in ("RSA", "EC"):
            skipped += 1  # e.g. OKP (EdDSA): not supported, not used
            continue
        if alg is not None and (alg not in KNOWN_ALGORITHMS or alg in HMAC_ALGORITHMS):
            raise AuthConfigError(f"{ENV_JWKS_FILE}: {where} declares an unsupported alg {alg!r}")
        try:
            loaded: Any = (RSAAlgorithm if kty == "RSA" else ECAlgorithm).from_jwk(jwk)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise AuthConfigError(f"{ENV_JWKS_FILE}: {where} is not a valid {kty} key") from None
        if hasattr(loaded, "private_numbers"):
            loaded = loaded.public_key()  # private material in a JWKS: only the public half is used
        keys.append(PublicKey(_check_public_key(loaded, ENV_JWKS_FILE, where), kid, alg, where))
    if not keys:
        raise AuthConfigError(f"{ENV_JWKS_FILE}: {path} holds no usable RSA or EC signing key ({skipped} skipped)")
    kids = [key.kid for key in keys if key.kid is not None]
    duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
    if duplicates:
        raise AuthConfigError(f"{ENV_JWKS_FILE}: {path} lists kid {duplicates[0]!r} more than once")
    return keys


def load_keys(settings: AuthSettings) -> tuple[PublicKey | None, list[PublicKey]]:
    pem = _load_pem(settings.jwt_public_key_file) if settings.jwt_public_key_file is not None else None
    jwks = _load_jwks(settings.jwt_jwks_file) if settings.jwt_jwks_file is not None else []
    return pem, jwks
