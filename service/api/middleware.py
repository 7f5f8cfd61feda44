"""ASGI middleware: request ids, request metrics and the request-body size limit.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so that the body limit can stop reading a
stream the moment it passes the cap instead of buffering it whole.
"""

from __future__ import annotations

import json
import re
import time
import uuid

from service.observability.logs import request_id_var
from service.observability.metrics import REQUEST_SECONDS

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Assigns a request id (a sane incoming ``X-Request-ID`` is kept), echoes it in the response
    header, and records request latency by route template."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope.get("method", ""), template, str(status["code"])).observe(
                time.perf_counter() - started
            )
            request_id_var.reset(token)


class BodySizeLimitMiddleware:
    """Answers 413 for bodies over the limit without reading them whole.

    Args:
        max_bytes: limit for every route.
        overrides: ``(path prefix, limit)`` pairs, e.g. a larger cap for dataset uploads.
    """

    def __init__(self, app, max_bytes: int, overrides: tuple[tuple[str, int], ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides

    def _limit(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        state = {"bytes": 0, "started": False, "refused": False}

        async def counting_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["bytes"] += len(message.get("body", b""))
                if state["bytes"] > limit:
                    # Answer now and tell the app the client went away: it stops reading, and
                    # whatever it tries to send afterwards is dropped.
                    state["refused"] = True
                    if not state["started"]:
                        state["started"] = True
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state["refused"]:
                raise


async def _too_large(send, limit: int) -> None:
    body = json.dumps({
        "detail": f"request body exceeds the limit of {limit} bytes",
        "code": "payload_too_large",
        "request_id": request_id_var.get(),
    }).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
