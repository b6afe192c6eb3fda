"""HTTP routes: /health /ready /info /embed /v1/embeddings /metrics, thin over the service."""

from __future__ import annotations

import asyncio
import base64
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from .auth import read_key_file
from .bodies import JsonParser
from .errors import BadInput, ClientGone, NotReady, ServerError, error_response
from .guard import Guard, is_probe
from .schemas import (
    BatchInfo,
    EmbedRequest,
    EmbedResponse,
    Health,
    Info,
    Limits,
    OpenAIEmbedding,
    OpenAIEmbeddingList,
    OpenAIEmbeddingRequest,
    QueueInfo,
    Ready,
    Usage,
    describe,
)
from .service import EmbedService
from .settings import Settings

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
LIST_FIELDS = ("texts", "inputs", "input")  # counted before validation: 1M items fail fast


def json_response(payload: Any, status: int = 200) -> Response:
    """orjson writes dataclasses and numpy arrays itself: no dicts or float lists on the way."""
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status,
                    media_type="application/json")


def create_app(settings: Settings, service: EmbedService | None = None,
               api_key: str | None = None) -> FastAPI:
    """The app. The CLI reads the key file first (to stop before loading anything when it is
    unsafe) and passes `api_key`; otherwise settings.api_key_file, then settings.api_key."""
    if api_key is None:
        api_key = read_key_file(settings.api_key_file) if settings.api_key_file else settings.api_key
    service = service or EmbedService(settings)
    parser = JsonParser(max_values=settings.max_texts + 256)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(service.load())
        task.add_done_callback(load_done)
        yield
        task.cancel()
        parser.close()
        await service.close()

    def load_done(task: asyncio.Task[None]) -> None:
        # The error is on /health either way; whoever runs the app may also want to stop.
        if not task.cancelled() and task.exception() is not None and service.on_fatal:
            service.on_fatal()

    app = FastAPI(title="codex embed server", lifespan=lifespan)
    app.state.service = service
    app.add_middleware(Guard, metrics=service.metrics, api_key=api_key,
                       max_body_bytes=settings.max_body_bytes,
                       max_inflight_bytes=settings.max_inflight_bytes)

    @app.exception_handler(ServerError)
    async def server_error(_: Request, exc: ServerError) -> Response:
        return error_response(exc)

    async def read(request: Request, model: type[M]) -> M:
        data = await parser.parse(await request.body())
        if not isinstance(data, dict):
            raise BadInput("body must be a JSON object")
        for key in LIST_FIELDS:
            if isinstance(data.get(key), list):
                service.check_count(len(data[key]))
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise BadInput(describe(exc)) from None

    @app.get("/health")
    async def health() -> Response:
        model = service.model
        gpu_name, gpu_mb = model.gpu_info() if model else (None, None)
        status = "ok" if service.ready else ("error" if service.load_error or service.broken else "loading")
        return json_response(Health(
            status=status, model=model.name if model else None,
            device=str(model.device) if model else settings.device, gpu_name=gpu_name,
            gpu_memory_mb=gpu_mb, uptime_seconds=round(time.time() - service.started, 1),
            hostname=service.hostname, error=service.broken or service.load_error or None))

    @app.get("/ready")
    async def ready() -> Response:
        if service.ready:
            return json_response(Ready(ready=True))
        return json_response(Ready(ready=False, detail=service.not_ready_reason), status=503)

    @app.get("/info")
    async def info() -> Response:
        model, batcher = service.model, service.batcher
        if model is None or batcher is None:
            raise NotReady(service.not_ready_reason)
        st, limits = batcher.stats, service.limits
        return json_response(Info(
            model=model.name, path=str(model.path), device=str(model.device),
            dtype=str(model.dtype).removeprefix("torch."), pooling=model.layout.pooling,
            attention=model.attention, packing=model.packing, threads=model.threads,
            native_dimension=model.native_dimension, default_dimension=service.default_dimension,
            max_length=model.max_length, prompts=sorted(model.layout.prompts),
            limits=Limits(max_texts=settings.max_texts, max_batch_tokens=limits.max_batch_tokens,
                          max_batch_size=limits.max_batch_size, max_queue=settings.max_queue,
                          max_body_bytes=settings.max_body_bytes,
                          max_inflight_bytes=settings.max_inflight_bytes,
                          request_timeout=settings.request_timeout),
            queue=QueueInfo(depth=batcher.depth, capacity=settings.max_queue),
            batches=BatchInfo(count=st.batches, texts=st.texts, tokens=st.tokens,
                              padded_tokens=st.padded_tokens, dropped=st.dropped, failed=st.failed,
                              mean_size=round(st.texts / st.batches, 2) if st.batches else 0.0),
            load_seconds=round(model.load_seconds, 2), oom_retries=model.oom_retries))

    @app.post("/embed")
    async def embed(request: Request) -> Response:
        started = time.perf_counter()
        req = await read(request, EmbedRequest)
        texts = req.text_list
        result = await until_client_gone(request, service.embed(
            texts, dimension=req.output_dimension, prompt_name=req.prompt_name,
            normalize=req.normalize, truncate=req.truncate is not False, probe=probe(request)))
        if req.tei:  # TEI answers a bare array of vectors
            return json_response(result.vectors)
        return json_response(EmbedResponse(
            embeddings=result.vectors, model=service.model.name,  # type: ignore[union-attr]
            dimension=result.vectors.shape[1], count=len(texts),
            elapsed_ms=round((time.perf_counter() - started) * 1000, 2), truncated=result.truncated))

    @app.post("/v1/embeddings")
    async def openai_embeddings(request: Request) -> Response:
        req = await read(request, OpenAIEmbeddingRequest)
        result = await until_client_gone(request, service.embed(
            req.text_list, dimension=req.dimensions, prompt_name=req.input_type, normalize=True,
            probe=probe(request)))
        rows: list[Any] = list(result.vectors)
        if req.encoding_format == "base64":
            rows = [base64.b64encode(row.astype("<f4", copy=False).tobytes()).decode() for row in rows]
        return json_response(OpenAIEmbeddingList(
            data=[OpenAIEmbedding(index=i, embedding=row) for i, row in enumerate(rows)],
            model=service.model.name,  # type: ignore[union-attr]
            usage=Usage(prompt_tokens=result.tokens, total_tokens=result.tokens)))

    @app.get("/metrics")
    async def metrics() -> Response:
        if service.batcher is not None:
            service.metrics.queue_depth.set(service.batcher.depth)
        return Response(service.metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def probe(request: Request) -> bool:
    """The console's health probe (its texts are not counted as the users')."""
    return is_probe(dict(request.scope["headers"]))


async def until_client_gone(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, or ClientGone (and `work` cancelled: its queued texts are then dropped)
    when the client disconnects first. One watcher task, not a task per side: this runs on
    every request."""
    me = asyncio.current_task()
    assert me is not None
    watcher = asyncio.ensure_future(_disconnected(request))
    waiting = True

    def hung_up(done: asyncio.Future[None]) -> None:
        if waiting and not done.cancelled():  # a callback already queued may come after the end
            me.cancel()

    watcher.add_done_callback(hung_up)
    try:
        return await work
    except asyncio.CancelledError:
        if watcher.done() and not watcher.cancelled():
            me.uncancel()
            raise ClientGone("client closed the request") from None
        raise
    finally:
        waiting = False
        watcher.cancel()


async def _disconnected(request: Request) -> None:
    """Returns when the client disconnects (the body was read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
