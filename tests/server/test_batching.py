"""Concurrent requests are coalesced, kept in order, and abandoned work is never computed."""

from __future__ import annotations

import asyncio
import re
import threading

import httpx
import pytest
import torch

from server.batcher import Batcher, QueueFull
from server.model import EmbeddingModel, TextTooLarge

from .conftest import CORPUS, live

AUTH = {"Authorization": "Bearer sekrit"}


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, name
    return float(match.group(1))


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


class Gate:
    """A forward that blocks until released, recording what it computed."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[list[list[int]]] = []

    def __call__(self, batch):
        self.calls.append(list(batch))
        self.release.wait(10)
        return [torch.ones(4) * len(ids) for ids in batch]


async def test_abandoned_and_expired_requests_are_dropped_before_compute():
    gate = Gate()
    batcher = Batcher(gate, max_batch_tokens=1000, max_batch_size=1)
    batcher.start()
    first = asyncio.create_task(batcher.submit([[1]], timeout=10))
    await asyncio.sleep(0.1)  # `first` is now in the forward, holding the worker
    gone = asyncio.create_task(batcher.submit([[2, 2]], timeout=10))
    expired = asyncio.create_task(batcher.submit([[3, 3, 3]], timeout=0.2))
    kept = asyncio.create_task(batcher.submit([[4, 4, 4, 4]], timeout=10))
    await asyncio.sleep(0.05)
    gone.cancel()  # what a client disconnect does
    with pytest.raises(TimeoutError):
        await expired
    gate.release.set()
    assert (await first)[0][0] == 1 and (await kept)[0][0] == 4
    assert [len(c[0]) for c in gate.calls] == [1, 4], "dropped requests were computed"
    assert batcher.stats.dropped == 2
    await batcher.drain()


async def test_queue_full_and_batches_bounded_by_token_budget():
    gate = Gate()
    gate.release.set()
    batcher = Batcher(gate, max_batch_tokens=12, max_batch_size=100, max_queue=10)
    batcher.start()
    with pytest.raises(QueueFull):
        await batcher.submit([[1]] * 11, timeout=5)
    out = await batcher.submit([[1] * 4] * 6 + [[1] * 30], timeout=5)
    assert [int(v[0]) for v in out] == [4] * 6 + [30]
    # 6 texts of 4 tokens fit 3 per batch; the 30-token text exceeds the budget alone and still runs.
    assert sorted(len(c) for c in gate.calls) == [1, 3, 3]
    await batcher.drain()


def test_oom_splits_the_batch_and_fails_only_the_text_that_cannot_fit(minilm_path, monkeypatch):
    model = EmbeddingModel(minilm_path, "cpu")
    real = model.forward

    def tight_memory(batch):
        if len(batch) > 2 or any(len(ids) > 40 for ids in batch):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(batch)

    monkeypatch.setattr(model, "forward", tight_memory)
    ids = [e.ids for e in model.encode(CORPUS[:4] + ["word " * 60])]
    out = model.forward_safe(ids)
    assert isinstance(out[4], TextTooLarge)
    reference = real(ids[:4])
    for got, want in zip(out[:4], reference):
        assert torch.allclose(got, want, atol=1e-5) and got.abs().sum() > 0  # never zero vectors
    assert model.oom_retries >= 3


def test_a_client_that_hangs_up_is_not_computed(minilm_path):
    """Over real HTTP: while the worker is busy, a client sends texts and disconnects; its texts
    are dropped before the forward (visible in /metrics), and the server keeps serving."""
    import socket
    import time

    with live(minilm_path) as srv:
        batcher = srv.service.batcher
        gate = threading.Event()
        real = batcher.forward
        computed: list[int] = []

        def slow(batch):
            computed.append(len(batch))
            gate.wait(10)
            return real(batch)

        batcher.forward = slow
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
        batcher.forward = real
        assert httpx.post(srv.url + "/embed", json={"texts": ["after"]}).status_code == 200
