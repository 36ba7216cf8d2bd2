"""JWT auth as in the original service: `Authorization: JWT <token>` (or `Bearer`), HS256 only."""

from __future__ import annotations

import time

import jwt

from .contract import ContractError

ALGORITHM = "HS256"
_SCHEMES = ("jwt", "bearer")
_CHALLENGE = 'JWT realm="streambench", Bearer realm="streambench"'


def make_token(secret: str, ttl: int = 3600, subject: str = "streambench") -> str:
    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl}, secret, algorithm=ALGORITHM)


def check_authorization(header: str | None, secret: str | None) -> None:
    """Pass, or raise a 401 `ContractError`. No secret configured means auth is off."""
    if not secret:
        return
    if not header:
        raise _unauthorized("missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in _SCHEMES or not token or " " in token:
        raise _unauthorized("Authorization must be 'JWT <token>' or 'Bearer <token>'")
    if not token.isascii():
        # A JWT is base64url and dots. Servers decode other header bytes differently (latin-1,
        # or UTF-8 with surrogate escapes that PyJWT cannot encode back): refuse them here, the
        # same way on every port, as PyJWT refuses any other token that does not parse.
        raise _unauthorized("invalid token: DecodeError")
    try:
        jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_exp": True, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired") from None
    except jwt.InvalidTokenError as error:
        raise _unauthorized(f"invalid token: {type(error).__name__}") from None


def _unauthorized(reason: str) -> ContractError:
    return ContractError(401, reason, headers={"WWW-Authenticate": _CHALLENGE})
