"""Bearer tokens: every write needs one with the ``write`` scope; reads need one with
``read`` unless public reading is on.

Tokens come in an ``Authorization: Bearer`` header, or in the ``tocsin_token`` cookie the
dashboard's sign-in sets (HttpOnly, SameSite=Strict; writes also need a JSON body, which a
cross-site form cannot send). Every configured token is compared, in constant time, so
neither the match nor its position leaks through timing; tokens are never logged.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request

from services.api.settings import ApiConfig, Scope

COOKIE = "tocsin_token"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    scopes: tuple[Scope, ...]


ANONYMOUS = Principal("anonymous", ("read",))


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(COOKIE) or None


def identify(config: ApiConfig, token: str) -> Principal | None:
    found: Principal | None = None
    given = token.encode()
    for t in config.tokens:
        if hmac.compare_digest(given, t.token.get_secret_value().encode()):
            found = Principal(t.name, t.scopes)
    return found


def authorize(request: Request, scope: Scope) -> Principal:
    config: ApiConfig = request.app.state.config
    token = presented_token(request)
    if token is None:
        if scope == "read" and config.public_read:
            return ANONYMOUS
        raise _unauthorized("a bearer token is required")
    principal = identify(config, token)
    if principal is None:
        raise _unauthorized("the token is not valid")
    if scope not in principal.scopes:
        raise HTTPException(
            status_code=403,
            detail={"error": "forbidden", "message": f"this token lacks the {scope!r} scope"},
        )
    return principal


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status_code=401,
        detail={"error": "unauthorized", "message": message},
        headers={"WWW-Authenticate": 'Bearer realm="tocsin"'},
    )


# ``async``: a constant-time comparison of a few tokens never blocks, and a plain ``def``
# dependency would cost every request a trip through the thread pool.
async def require_read(request: Request) -> Principal:
    return authorize(request, "read")


async def require_write(request: Request) -> Principal:
    return authorize(request, "write")
