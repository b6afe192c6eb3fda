"""ASGI middleware in front of every route: API key, body limits and the in-flight byte bound, metrics.

Pure ASGI (no BaseHTTPMiddleware overhead). A POST body must be JSON (a Content-Type that says
otherwise is a 415), at most `max_body_bytes` (413), and all bodies being received or served
at once together at most `max_inflight_bytes`: over that a new request gets 429 with
Retry-After before its body is read, so a flood of large bodies cannot exhaust memory.
Requests the console's probe marks (PROBE_HEADER) are counted apart from the users' traffic.
"""

from __future__ import annotations

import hmac
import time
from typing import Any, Awaitable, Callable

from codex_console.wire import PROBE_HEADER

from .errors import BadRequest, MissingKey, Overloaded, PayloadTooLarge, ServerError, WrongContentType, error_response
from .metrics import Metrics

OPEN_ROUTES = frozenset({"/health", "/ready", "/metrics", "/docs", "/openapi.json"})
ROUTES = frozenset({"/health", "/ready", "/info", "/embed", "/v1/embeddings", "/metrics"})
PROBE = PROBE_HEADER.lower().encode()
Message = dict[str, Any]


def is_probe(headers: dict[bytes, bytes]) -> bool:
    return headers.get(PROBE) == b"1"


def is_json(content_type: bytes) -> bool:
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or kind.endswith(b"+json")


class InflightBytes:
    """Body bytes held by requests in progress, against one bound."""

    def __init__(self, limit: int, metrics: Metrics) -> None:
        self.limit, self.held, self.metrics = limit, 0, metrics

    def take(self, n: int) -> None:
        if self.held + n > self.limit:
            raise Overloaded(f"too many request bytes in flight ({self.held + n} > {self.limit}); "
                             "retry shortly")
        self.held += n
        self.metrics.inflight_bytes.set(self.held)

    def give_back(self, n: int) -> None:
        self.held -= n
        self.metrics.inflight_bytes.set(self.held)


class Guard:
    def __init__(self, app: Any, metrics: Metrics, api_key: str | None, max_body_bytes: int,
                 max_inflight_bytes: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body_bytes
        self.expected_auth = f"Bearer {api_key}".encode() if api_key else None
        self.inflight = InflightBytes(max_inflight_bytes, metrics)

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        path = scope["path"]
        status = 500
        received = reserved = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        async def counted_receive() -> Message:
            nonlocal received, reserved
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # a chunked body, or more than Content-Length said
                raise PayloadTooLarge(f"body is over the {self.max_body} byte limit")
            if received > reserved:
                self.inflight.take(received - reserved)
                reserved = received
            return message

        post = scope["method"] == "POST"
        headers = dict(scope["headers"])
        try:
            try:
                if self.expected_auth and path not in OPEN_ROUTES and not hmac.compare_digest(
                        headers.get(b"authorization", b""), self.expected_auth):
                    raise MissingKey("missing or wrong API key (Authorization: Bearer <key>)")
                if post:
                    declared = self._check_body_headers(headers)
                    self.inflight.take(declared)
                    reserved = declared
            except ServerError as exc:
                return await error_response(exc)(scope, receive, send_status)
            await self.app(scope, counted_receive if post else receive, send_status)
        finally:
            self.inflight.give_back(reserved)
            route = path if path in ROUTES else "other"
            if is_probe(headers):
                self.metrics.probe_requests.labels(route, str(status)).inc()
            else:
                self.metrics.requests.labels(route, str(status)).inc()
                self.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)

    def _check_body_headers(self, headers: dict[bytes, bytes]) -> int:
        """The declared body size (0 when chunked), after the checks that need no body."""
        content_type = headers.get(b"content-type")
        if content_type is not None and not is_json(content_type):
            raise WrongContentType(f"Content-Type {content_type.decode('latin-1')!r} is not JSON; "
                                   "send Content-Type: application/json")
        length = headers.get(b"content-length", b"0")
        if not length.isdigit():
            raise BadRequest(f"Content-Length {length.decode('latin-1')!r} is not a byte count")
        if int(length) > self.max_body:
            raise PayloadTooLarge(f"body of {int(length)} bytes is over the {self.max_body} byte limit")
        return int(length)
