"""Concurrent requests are coalesced, kept in order, abandoned work is never computed, and a
replica whose batches keep failing says so and asks to stop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
import torch

from server.batcher import Batcher
from server.batching import BatchLimits
from server.encoder import Encoded
from server.errors import (
    DeadlinePassed,
    ForwardFailed,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    TextTooLarge,
)
from server.model import EmbeddingModel

from ..helpers import live
from .helpers import AUTH, CORPUS, metric


class CharEncoder:
    """A text of n characters is n tokens; over max_length it is truncated."""

    max_length = 50

    def encode(self, texts):
        return [Encoded(ids=[1] * min(len(t), self.max_length), truncated=len(t) > self.max_length)
                for t in texts]


class Gate:
    """A forward that blocks until released, recording what it computed; vector = [length] * 4."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.release = threading.Event()
        self.calls: list[list[int]] = []
        self.fail = fail

    def __call__(self, batch):
        self.calls.append([len(ids) for ids in batch])
        self.release.wait(10)
        if self.fail is not None:
            raise self.fail
        return [torch.ones(4) * len(ids) for ids in batch]


def batcher(gate: Gate, tokens: int = 1000, size: int = 100, packed: bool = True, **kw) -> Batcher:
    b = Batcher(CharEncoder(), gate, BatchLimits(max_batch_tokens=tokens, max_batch_size=size, packed=packed), **kw)
    b.start()
    return b


async def submit(b: Batcher, texts: list[str], timeout: float = 10, **kw):
    return await b.submit(texts, dimension=4, normalize=False, timeout=timeout, **kw)


def test_concurrent_clients_are_batched_and_keep_their_order(minilm_server):
    before = httpx.get(minilm_server.url + "/metrics").text
    texts = [f"{CORPUS[i % 6]} number {i}" for i in range(48)]

    async def main():
        async with httpx.AsyncClient(headers=AUTH, timeout=60) as client:
            async def one(i):
                r = await client.post(minilm_server.url + "/embed", json={"texts": [texts[i], texts[-1 - i]]})
                return r.json()["embeddings"]
            return await asyncio.gather(*(one(i) for i in range(48)))

    results = asyncio.run(main())
    alone = httpx.post(minilm_server.url + "/embed", json={"texts": texts}, headers=AUTH).json()["embeddings"]
    for i, pair in enumerate(results):
        got, want = torch.tensor(pair), torch.tensor([alone[i], alone[-1 - i]])
        assert torch.nn.functional.cosine_similarity(got, want).min() >= 0.9999
    after = httpx.get(minilm_server.url + "/metrics").text
    batches = metric(after, "codex_embed_batch_size_count") - metric(before, "codex_embed_batch_size_count")
    texts_in = metric(after, "codex_embed_batch_size_sum") - metric(before, "codex_embed_batch_size_sum")
    assert texts_in == 96 + 48
    # 48 two-text requests and one 48-text request went through far fewer forwards than requests.
    assert batches < 49 / 2, f"{batches} forwards for 49 requests: not batched"


def test_full_queue_answers_429_with_retry_after(minilm_path):
    with live(minilm_path, max_queue=3) as srv:
        r = httpx.post(srv.url + "/embed", json={"texts": ["a", "b", "c", "d"]})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        assert "queue full" in r.json()["detail"]
        assert httpx.post(srv.url + "/embed", json={"texts": ["a"]}).status_code == 200


async def test_abandoned_and_expired_requests_are_dropped_before_compute():
    gate = Gate()
    b = batcher(gate, size=1)
    first = asyncio.create_task(submit(b, ["a"]))
    await asyncio.sleep(0.1)  # `first` is now in the forward, holding the worker
    gone = asyncio.create_task(submit(b, ["bb"]))
    expired = asyncio.create_task(submit(b, ["ccc"], timeout=0.2))
    kept = asyncio.create_task(submit(b, ["dddd"]))
    await asyncio.sleep(0.05)
    gone.cancel()  # what a client disconnect does
    with pytest.raises(DeadlinePassed):
        await expired
    gate.release.set()
    assert (await first).vectors[0][0] == 1 and (await kept).vectors[0][0] == 4
    assert gate.calls == [[1], [4]], "dropped requests were computed"
    assert b.stats.dropped == 2
    await b.drain()


async def test_queue_full_and_batches_bounded_by_token_budget():
    gate = Gate()
    gate.release.set()
    b = batcher(gate, tokens=12, max_queue=10)
    with pytest.raises(Overloaded):
        await submit(b, ["a"] * 11)
    out = await submit(b, ["aaaa"] * 6 + ["x" * 30])
    assert [int(v[0]) for v in out.vectors] == [4] * 6 + [30]
    # Six texts of 4 tokens fit 3 per batch of 12; the 30-token text is over the budget alone and still runs.
    assert gate.calls == [[4, 4, 4], [4, 4, 4], [30]]
    await b.drain()


async def test_padded_batches_fit_the_budget_as_padded_tokens():
    gate = Gate()
    gate.release.set()
    b = batcher(gate, tokens=40, packed=False)
    out = await submit(b, ["a" * 10, "b" * 2, "c" * 10, "d" * 2, "e" * 10, "f" * 2])
    assert [int(v[0]) for v in out.vectors] == [10, 2, 10, 2, 10, 2]
    # Padded, a batch costs its longest text times its size: each fits the budget of 40.
    assert all(max(c) * len(c) <= 40 for c in gate.calls) and sum(map(len, gate.calls)) == 6
    await b.drain()


async def test_truncate_false_refuses_a_text_over_the_limit():
    gate = Gate()
    gate.release.set()
    b = batcher(gate)
    with pytest.raises(PayloadTooLarge, match="text 1 is longer than the model's limit of 50"):
        await submit(b, ["ok", "x" * 60], truncate=False)
    out = await submit(b, ["ok", "x" * 60])
    assert out.truncated == 1 and out.vectors[1][0] == 50
    await b.drain()


async def test_batches_failing_in_a_row_make_the_batcher_broken():
    gate = Gate(fail=RuntimeError("CUDA error: an illegal memory access was encountered"))
    gate.release.set()
    reasons: list[str] = []
    b = batcher(gate, max_failures=3, on_broken=reasons.append)
    for _ in range(3):
        with pytest.raises(ForwardFailed, match="illegal memory access"):
            await submit(b, ["a"])
    await asyncio.sleep(0.05)  # on_broken is called on the loop
    assert reasons and "3 batches failed in a row" in reasons[0] and b.stats.failed == 3
    with pytest.raises(NotReady, match="3 batches failed in a row"):
        await submit(b, ["a"])
    await b.drain()


async def test_a_success_resets_the_failure_count():
    gate = Gate()
    gate.release.set()
    b = batcher(gate, max_failures=2)
    gate.fail = RuntimeError("transient")
    with pytest.raises(ForwardFailed):
        await submit(b, ["a"])
    gate.fail = None
    await submit(b, ["a"])
    gate.fail = RuntimeError("transient")
    with pytest.raises(ForwardFailed):
        await submit(b, ["a"])
    assert not b.broken and b.failures == 1
    await b.drain()


def test_oom_splits_the_batch_and_fails_only_the_text_that_cannot_fit(minilm_path, monkeypatch):
    model = EmbeddingModel(minilm_path, "cpu")
    real = model.forward

    def tight_memory(batch, pack=None):
        if len(batch) > 2 or any(len(ids) > 40 for ids in batch):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(batch, pack)

    monkeypatch.setattr(model, "forward", tight_memory)
    ids = [e.ids for e in model.encoder.encode(CORPUS[:4] + ["word " * 60])]
    out = model.forward_safe(ids)
    assert isinstance(out[4], TextTooLarge)
    reference = real(ids[:4])
    for got, want in zip(out[:4], reference):
        assert torch.allclose(got, want, atol=1e-5) and got.abs().sum() > 0  # never zero vectors
    assert model.oom_retries >= 3


def test_a_client_that_hangs_up_is_not_computed(minilm_path):
    """Over real HTTP: while the worker is busy, a client sends texts and disconnects; its texts
    are dropped before the forward (visible in /metrics), and the server keeps serving."""
    with live(minilm_path) as srv:
        batcher_ = srv.service.batcher
        gate = threading.Event()
        real = batcher_.forward
        computed: list[int] = []

        def slow(batch):
            computed.append(len(batch))
            gate.wait(10)
            return real(batch)

        batcher_.forward = slow
        busy = threading.Thread(target=lambda: httpx.post(srv.url + "/embed", json={"texts": ["first"]},
                                                          timeout=30))
        busy.start()
        time.sleep(0.3)  # "first" is in the forward now
        body = b'{"texts": ["gone 1", "gone 2", "gone 3"]}'
        with socket.create_connection(("127.0.0.1", srv.settings.port)) as sock:
            sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            time.sleep(0.3)  # queued behind "first"
        time.sleep(0.3)
        gate.set()
        busy.join(30)
        time.sleep(0.3)
        metrics = httpx.get(srv.url + "/metrics").text
        assert metric(metrics, "codex_embed_dropped_texts_total") == 3
        assert computed == [1], f"abandoned texts were computed: {computed}"
        batcher_.forward = real
        assert httpx.post(srv.url + "/embed", json={"texts": ["after"]}).status_code == 200


def test_a_replica_whose_batches_keep_failing_is_not_ready_and_asks_to_exit(minilm_path):
    with live(minilm_path, max_failed_batches=2) as srv:
        exits: list[bool] = []
        srv.service.on_fatal = lambda: exits.append(True)

        def cuda_error(batch):
            raise RuntimeError("CUDA error: unspecified launch failure")

        srv.service.batcher.forward = cuda_error
        for _ in range(2):
            r = httpx.post(srv.url + "/embed", json={"texts": ["a"]})
            assert r.status_code == 503 and "unspecified launch failure" in r.json()["detail"]
        time.sleep(0.1)
        ready = httpx.get(srv.url + "/ready")
        assert ready.status_code == 503 and "2 batches failed in a row" in ready.json()["detail"]
        assert httpx.get(srv.url + "/health").json()["status"] == "error"
        assert exits == [True]
        assert httpx.post(srv.url + "/embed", json={"texts": ["a"]}).status_code == 503
        assert 'codex_embed_failed_batches_total 2.0' in httpx.get(srv.url + "/metrics").text
