"""Authentication: who is calling, from the bearer JWT in the call's metadata.

Tokens are verified against an identity provider's JWKS in production
(MODELGW_JWT_JWKS_URL) and, by default, against a local Ed25519 signing key
that the gateway creates under MODELGW_HOME on first start. `modelgw token
create` signs tokens with that same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from authz.principal import Principal
from gateway.config import AuthConfig
from gateway.errors import Unauthenticated, Unavailable

LOCAL_ALGORITHM = "EdDSA"
"""What the local signing key (Ed25519) signs with, and so the one algorithm it verifies."""
JWKS_ALGORITHMS = ("EdDSA", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
"""Asymmetric algorithms an identity provider's key may use; never HS* or none."""
MAX_USER_LENGTH = 128
_CACHE_SIZE = 10_000


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """Returns the local signing key, creating it atomically if it is missing.

    The key file is mode 0600 in a 0700 directory. Three servers start at
    once on a fresh machine, so creation must not race:
    the key is written to a temporary file and linked into place, and a loser
    of the race reads the winner's key.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        try:
            os.write(fd, pem)
            os.close(fd)
            os.chmod(tmp, 0o600)
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    _restrict_to_owner(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def _restrict_to_owner(path: Path) -> None:
    """Only the key's owner (the processes that sign and verify) may read it.

    A key left readable by a group or by others, by an older version or by
    hand, is tightened to 0600 rather than trusted as it is.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)


def create_token(config: AuthConfig, user: str, *, superuser: bool, ttl_s: int) -> str:
    """Signs a token for local use with the local signing key; UserNameError or LifetimeError."""
    check_user_name(user)
    if not 0 < ttl_s <= config.max_ttl_s:
        raise LifetimeError(
            f"ttl {ttl_s} s must be from 1 to {config.max_ttl_s} s (MODELGW_JWT_MAX_TTL)"
        )
    key = load_or_create_signing_key(config.signing_key_path)
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user,
        "iss": config.issuer,
        "aud": config.audience,
        "iat": now,
        "exp": now + ttl_s,
    }
    if superuser:
        claims[config.superuser_claim] = True
    return jwt.encode(claims, key, algorithm=LOCAL_ALGORITHM)


class UserNameError(Exception):
    """A user name the platform cannot use; the message says why."""


class LifetimeError(Exception):
    """A token lifetime outside what MODELGW_JWT_MAX_TTL allows."""


def check_user_name(user: str) -> None:
    """Refuses (UserNameError) a user name that is empty, too long, '*', padded or unprintable."""
    if (
        not user
        or len(user) > MAX_USER_LENGTH
        or user == "*"
        or user != user.strip()
        or not user.isprintable()
    ):
        raise UserNameError(
            f"user name {user!r} must be 1 to {MAX_USER_LENGTH} printable characters, "
            "not '*', without surrounding spaces"
        )


class TokenVerifier:
    """Turns an authorization header into a Principal, or says precisely why not.

    Verified tokens are cached until they expire: signature checks cost tens of
    microseconds and the same token arrives on every call of a client.
    """

    def __init__(self, config: AuthConfig) -> None:
        self._config = config
        self._jwks = jwt.PyJWKClient(config.jwks_url, cache_keys=True) if config.jwks_url else None
        self._local_key = (
            None if self._jwks else load_or_create_signing_key(config.signing_key_path).public_key()
        )
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def authenticate(self, authorization: str | None) -> Principal:
        """The principal a bearer token names; Unauthenticated unless it verifies."""
        token = _bearer_token(authorization)
        cached = self._cache.get(token)
        if cached is not None and cached[1] > time.time():
            self._cache.move_to_end(token)
            return cached[0]
        key: Any
        algorithms: tuple[str, ...]
        if self._jwks is None:
            key, algorithms = self._local_key, (LOCAL_ALGORITHM,)
        else:
            key, algorithms = await self._jwks_key(self._jwks, token)
        _check_algorithm(token, algorithms)
        claims = self._decode(token, key, algorithms)
        self._check_lifetime(claims)
        principal = self._principal(claims)
        self._cache[token] = (principal, float(claims["exp"]))
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return principal

    async def _jwks_key(self, jwks: jwt.PyJWKClient, token: str) -> tuple[Any, tuple[str, ...]]:
        """The issuer's key for ``token`` and the algorithms it may have signed with."""
        _check_algorithm(token, JWKS_ALGORITHMS)
        try:
            # PyJWKClient fetches over HTTP when its key cache misses.
            signing_key = await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(f"the identity provider's JWKS cannot be fetched: {exc}") from None
        except jwt.PyJWKClientError as exc:
            raise Unauthenticated(f"token was not signed by a key of the issuer: {exc}") from None
        except jwt.DecodeError as exc:
            raise Unauthenticated(f"token is malformed: {exc}") from None
        except jwt.PyJWTError as exc:  # a JWK of a kind PyJWT cannot use
            raise Unauthenticated(f"token's key cannot be used: {exc}") from None
        algorithm = getattr(signing_key, "algorithm_name", None)
        return signing_key.key, (algorithm,) if algorithm else JWKS_ALGORITHMS

    def _decode(self, token: str, key: Any, algorithms: tuple[str, ...]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self._config.audience,
                issuer=self._config.issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token has expired: get a new one") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                "token signature is invalid: it was not signed by this gateway's issuer"
            ) from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                f"token audience is wrong: expected {self._config.audience!r}"
            ) from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(
                f"token issuer is wrong: expected {self._config.issuer!r}"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token lacks the required claim {exc.claim!r}") from None
        except jwt.DecodeError as exc:
            raise Unauthenticated(f"token is malformed: {exc}") from None
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated(f"token is not yet valid: {exc}") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"token is invalid: {exc}") from None
        except jwt.PyJWTError as exc:  # e.g. a key that does not fit the algorithm
            raise Unauthenticated(f"token cannot be verified: {exc}") from None
        return claims

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        lifetime = claims["exp"] - claims["iat"]
        if lifetime > self._config.max_ttl_s:
            raise Unauthenticated(
                f"token lifetime (exp - iat) is {lifetime} s; this gateway accepts at most "
                f"{self._config.max_ttl_s} s (MODELGW_JWT_MAX_TTL): get a shorter-lived token"
            )

    def _principal(self, claims: dict[str, Any]) -> Principal:
        user = claims["sub"]
        try:
            check_user_name(user if isinstance(user, str) else "")
        except UserNameError as exc:
            raise Unauthenticated(f"token subject is unusable: {exc}") from None
        return Principal(user=user, superuser=claims.get(self._config.superuser_claim) is True)


def _check_algorithm(token: str, expected: tuple[str, ...]) -> None:
    """Refuses, before any key is used, a token signed with an algorithm not expected here."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.DecodeError as exc:
        raise Unauthenticated(f"token is malformed: {exc}") from None
    if algorithm not in expected:
        raise Unauthenticated(
            f"token is signed with {algorithm!r}, which this gateway does not accept: "
            f"expected {' or '.join(expected)}"
        )


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated(
            "missing credentials: send metadata 'authorization: Bearer <token>' "
            "(get a local token with `modelgw token create --user NAME`)"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("malformed authorization metadata: expected 'Bearer <token>'")
    return token.strip()
