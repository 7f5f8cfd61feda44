"""Who is calling: the ``PrincipalDep`` dependency.

- ``Authorization: Bearer <key>`` with a valid, unrevoked key -> that key's principal.
- A bad or revoked key -> 401, always.
- No key: 401, except in local mode (the server is bound to a loopback address and no active key
  exists), where the request runs as the implicit ``local`` principal.

The dependency goes through :class:`fastapi.security.HTTPBearer` (with ``auto_error=False``) only so
that FastAPI declares the ``HTTPBearer`` security scheme on every operation that uses it; the checks
above, with our error body, stay here.

The dependency is ``async`` and sends only its database reads (a key's verification, the count of
active keys at most every ``_KEY_COUNT_TTL_SECONDS``) to the thread pool: a plain ``def`` dependency
costs a thread-pool hop on every request, also when it answers from the cache.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from service.auth import LOCAL_PRINCIPAL, Principal
from service.auth.keys import active_key_count, verify_key

_KEY_COUNT_TTL_SECONDS = 2.0
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

#: Documents the scheme in the OpenAPI document; never raises (``get_principal`` decides).
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="HTTPBearer",
    description="An API key: `Authorization: Bearer <key>` (create one with `bdlopt keys create`).",
)


async def _local_mode(request: Request) -> bool:
    state = request.app.state
    if not state.loopback:
        return False
    cached = getattr(state, "key_count_cache", None)
    now = time.monotonic()
    if cached is None or now - cached[1] > _KEY_COUNT_TTL_SECONDS:
        cached = (await run_in_threadpool(active_key_count, state.database), now)
        state.key_count_cache = cached
    return cached[0] == 0


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The principal of the request (see the module docstring)."""
    header = request.headers.get("authorization")
    if header:
        if credentials is None or not credentials.credentials.strip():
            raise HTTPException(401, "the Authorization header must be 'Bearer <api key>'", headers=_UNAUTHORIZED)
        principal = await run_in_threadpool(verify_key, request.app.state.database, credentials.credentials.strip())
        if principal is None:
            raise HTTPException(401, "invalid or revoked API key", headers=_UNAUTHORIZED)
        return principal
    if await _local_mode(request):
        return LOCAL_PRINCIPAL
    raise HTTPException(
        401, "an API key is required: send 'Authorization: Bearer <key>' (create one with `bdlopt keys create`)",
        headers=_UNAUTHORIZED,
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]
