"""The server's error types and the one table that maps each to an HTTP status and headers."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from starlette.responses import Response


class ServerError(Exception):
    """An error whose message the client reads; its class decides the status (see STATUS)."""


class BadRequest(ServerError):
    """A body the server cannot read: not JSON (syntax, depth, a number out of range), bad framing."""


class BadInput(ServerError):
    """Well-formed JSON that asks for something the server cannot serve."""


class PayloadTooLarge(ServerError):
    """A body, a text list or a text over a limit."""


class WrongContentType(ServerError):
    pass


class MissingKey(ServerError):
    pass


class Overloaded(ServerError):
    """The queue is full, or too many body bytes are in flight: retry shortly."""


class NotReady(ServerError):
    """Loading, shutting down, or broken (see /health)."""


class DeadlinePassed(ServerError):
    pass


class TextTooLarge(ServerError):
    """One text alone does not fit in device memory."""


class ForwardFailed(ServerError):
    """The model raised on a batch (not an OOM); the replica may be broken."""


class ClientGone(ServerError):
    pass


@dataclass(frozen=True)
class ErrorKind:
    status: int
    retry_after: int | None = None


STATUS: dict[type[ServerError], ErrorKind] = {
    BadRequest: ErrorKind(400),
    MissingKey: ErrorKind(401),
    PayloadTooLarge: ErrorKind(413),
    WrongContentType: ErrorKind(415),
    BadInput: ErrorKind(422),
    Overloaded: ErrorKind(429, retry_after=1),
    ClientGone: ErrorKind(499),
    NotReady: ErrorKind(503, retry_after=5),
    DeadlinePassed: ErrorKind(503, retry_after=1),
    TextTooLarge: ErrorKind(503),
    ForwardFailed: ErrorKind(503, retry_after=1),
}


def kind_of(exc: ServerError) -> ErrorKind:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return ErrorKind(500)


def error_response(exc: ServerError) -> Response:
    # `detail` is what the upstream clients read; `error` is the OpenAI shape.
    kind = kind_of(exc)
    message = str(exc)
    headers = {}
    if kind.retry_after is not None:
        headers["Retry-After"] = str(kind.retry_after)
    if isinstance(exc, MissingKey):
        headers["WWW-Authenticate"] = "Bearer"
    body = {"detail": message, "error": {"message": message, "code": kind.status,
                                         "type": "invalid_request_error" if kind.status < 500 else "server_error"}}
    return Response(orjson.dumps(body), status_code=kind.status, headers=headers,
                    media_type="application/json")
