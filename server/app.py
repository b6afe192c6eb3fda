"""HTTP routes: /health /ready /info /embed /v1/embeddings /metrics."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
import orjson
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from .batcher import QueueFull, ShuttingDown
from .model import TextTooLarge
from .schemas import EmbedRequest, OpenAIEmbeddingRequest, describe
from .service import BadInput, EmbedService
from .settings import Settings

log = logging.getLogger(__name__)
OPEN_ROUTES = {"/health", "/ready", "/metrics", "/docs", "/openapi.json"}


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # `detail` is what the upstream clients read; `error` is the OpenAI shape.
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"detail": message, "error": {"message": message, "type": kind, "code": status}},
                        status_code=status, headers=headers)


def fast_json(payload: dict[str, Any]) -> Response:
    """orjson with numpy arrays serialized natively: much cheaper than float lists."""
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY),
                    media_type="application/json")


def create_app(settings: Settings, service: EmbedService | None = None) -> FastAPI:
    service = service or EmbedService(settings)
    api_key = settings.resolved_api_key()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(service.load())
        task.add_done_callback(load_done)
        yield
        task.cancel()
        await service.close()

    def load_done(task: asyncio.Task[None]) -> None:
        # The error is on /health either way; whoever runs the app may also want to stop.
        if not task.cancelled() and task.exception() is not None and app.state.on_load_error:
            app.state.on_load_error()

    app = FastAPI(title="codex embed server", lifespan=lifespan)
    app.state.service = service
    app.state.on_load_error = None
    app.add_middleware(GuardMiddleware, service=service, api_key=api_key)

    @app.exception_handler(HttpError)
    async def http_error(_: Request, exc: HttpError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    async def read_json(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_body_bytes:
            raise HttpError(413, f"body of {length} bytes is over the {settings.max_body_bytes} byte limit")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                raise HttpError(413, f"body is over the {settings.max_body_bytes} byte limit")
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from None

    def parse(model: type, data: Any):
        if not isinstance(data, dict):
            raise HttpError(422, "body must be a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise HttpError(422, describe(exc)) from None

    async def run_embed(request: Request, texts: list[str], **kwargs: Any):
        if service.shutting_down:
            raise HttpError(503, "shutting down", {"Retry-After": "5"})
        if not service.ready:
            raise HttpError(503, service.load_error or "model is still loading", {"Retry-After": "5"})
        work = asyncio.create_task(service.embed(texts, **kwargs))
        gone = asyncio.create_task(_client_gone(request))
        done, _ = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            work.cancel()  # marks its queued texts abandoned: they are never computed
            raise HttpError(499, "client closed the request")
        gone.cancel()
        try:
            return work.result()
        except BadInput as exc:
            raise HttpError(exc.status, str(exc)) from None
        except QueueFull as exc:
            raise HttpError(429, f"{exc}; retry shortly", {"Retry-After": "1"}) from None
        except ShuttingDown as exc:
            raise HttpError(503, str(exc), {"Retry-After": "5"}) from None
        except TimeoutError:
            raise HttpError(503, "request deadline passed before it could be computed",
                            {"Retry-After": "1"}) from None
        except TextTooLarge as exc:
            raise HttpError(503, f"{exc}; send it shorter or to a larger GPU") from None

    @app.get("/health")
    async def health() -> dict[str, Any]:
        model = service.model
        gpu_name, gpu_mb = model.gpu_info() if model else (None, None)
        return {
            "status": "ok" if service.ready else ("error" if service.load_error else "loading"),
            "model": model.name if model else None,
            "device": str(model.device) if model else settings.device,
            "gpu_name": gpu_name, "gpu_memory_mb": gpu_mb,
            "uptime_seconds": round(time.time() - service.started, 1),
            "hostname": service.hostname,
            **({"error": service.load_error} if service.load_error else {}),
        }

    @app.get("/ready")
    async def ready() -> Response:
        if service.ready:
            return JSONResponse({"ready": True})
        return JSONResponse({"ready": False, "detail": service.load_error or "loading"}, status_code=503)

    @app.get("/info")
    async def info() -> dict[str, Any]:
        model, batcher = service.model, service.batcher
        if model is None or batcher is None:
            raise HttpError(503, service.load_error or "model is still loading", {"Retry-After": "5"})
        st = batcher.stats
        return {
            "model": model.name, "path": str(model.path), "device": str(model.device),
            "dtype": str(model.dtype).removeprefix("torch."), "pooling": model.layout.pooling,
            "native_dimension": model.native_dimension, "default_dimension": service.default_dimension,
            "max_length": model.max_length, "prompts": sorted(model.layout.prompts),
            "limits": {"max_texts": settings.max_texts, "max_batch_tokens": service.max_batch_tokens,
                       "max_batch_size": service.max_batch_size, "max_queue": settings.max_queue,
                       "max_body_bytes": settings.max_body_bytes,
                       "request_timeout": settings.request_timeout},
            "queue": {"depth": batcher.depth, "capacity": settings.max_queue},
            "batches": {"count": st.batches, "texts": st.texts, "tokens": st.tokens,
                        "padded_tokens": st.padded_tokens, "dropped": st.dropped,
                        "mean_size": round(st.texts / st.batches, 2) if st.batches else 0.0},
            "load_seconds": round(model.load_seconds, 2), "oom_retries": model.oom_retries,
        }

    @app.post("/embed")
    async def embed(request: Request) -> JSONResponse:
        started = time.perf_counter()
        req: EmbedRequest = parse(EmbedRequest, await read_json(request))
        result = await run_embed(request, req.texts, dimension=req.dimension,
                                 prompt_name=req.prompt_name, normalize=req.normalize)
        return fast_json({
            "embeddings": result.vectors.numpy(), "model": service.model.name,  # type: ignore[union-attr]
            "dimension": result.dimension, "count": len(req.texts),
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
            "truncated": result.truncated,
        })

    @app.post("/v1/embeddings")
    async def openai_embeddings(request: Request) -> JSONResponse:
        req: OpenAIEmbeddingRequest = parse(OpenAIEmbeddingRequest, await read_json(request))
        result = await run_embed(request, req.texts, dimension=req.dimensions,
                                 prompt_name=req.input_type, normalize=True)
        if req.encoding_format == "base64":
            data = [base64.b64encode(v.numpy().astype("<f4").tobytes()).decode() for v in result.vectors]
        else:
            data = list(result.vectors.numpy())
        return fast_json({
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)],
            "model": req.model or service.model.name,  # type: ignore[union-attr]
            "usage": {"prompt_tokens": result.tokens, "total_tokens": result.tokens},
        })

    @app.get("/metrics")
    async def metrics() -> Response:
        if service.batcher is not None:
            service.metrics.queue_depth.set(service.batcher.depth)
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    return app


class GuardMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware overhead): API key check, request count and latency."""

    def __init__(self, app: Any, service: EmbedService, api_key: str | None) -> None:
        self.app, self.service, self.api_key = app, service, api_key
        self.routes = {"/health", "/ready", "/info", "/embed", "/v1/embeddings", "/metrics"}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        path = scope["path"]
        route = path if path in self.routes else "other"
        status = [500]

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self.api_key and path not in OPEN_ROUTES:
                given = dict(scope["headers"]).get(b"authorization", b"")
                if not hmac.compare_digest(given, f"Bearer {self.api_key}".encode()):
                    response = error_response(401, "missing or wrong API key (Authorization: Bearer <key>)",
                                              {"WWW-Authenticate": "Bearer"})
                    return await response(scope, receive, send_status)
            await self.app(scope, receive, send_status)
        finally:
            m = self.service.metrics
            m.requests.labels(route, str(status[0])).inc()
            m.request_seconds.labels(route).observe(time.perf_counter() - started)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects (the body was read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
