"""Answers no real server gives on cue, from a scripted stand-in (the acceptance describes
exactly this server): 429 with Retry-After waited out and capped, 5xx moved to the other
replica, 4xx not retried, a slow replica cut off at the call's deadline without blame."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from codex_console.client import ClientError, EmbedClient, RequestRefused, ServicesUnavailable

from ..helpers import free_port


class Scripted(ThreadingHTTPServer):
    """Answers `status` (429: with `Retry-After: retry`) to its first `busy` requests, then
    embeds each text as [its length, its place in the request], after `delay` seconds."""

    def __init__(self, busy: int, status: int = 429, retry: str = "1", delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", free_port()), Handler)
        self.busy, self.status, self.retry, self.delay, self.arrivals = busy, status, retry, delay, []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.arrivals.append(time.monotonic())
        if len(self.server.arrivals) <= self.server.busy:
            self.answer(self.server.status, {"detail": "queue full"}, {"Retry-After": self.server.retry})
        else:
            time.sleep(self.server.delay)
            rows = [[float(len(t)), float(i)] for i, t in enumerate(body["texts"])]
            self.answer(200, {"embeddings": rows, "model": "scripted", "dimension": 2, "count": len(rows)})

    def answer(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first (its deadline)
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[type[Scripted]]:
    servers: list[Scripted] = []

    def start(busy: int, **how: object) -> Scripted:
        server = Scripted(busy, **how)  # type: ignore[arg-type]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in servers:
        server.shutdown()
        server.server_close()


def test_429_is_waited_out_as_retry_after_says(cfg, scripted):
    server = scripted(busy=5)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": server.url, "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env, max_attempts=6) as client:
        result = client.embed_detailed(["a", "bb", "ccc"], as_numpy=False)
    assert result.vectors == [[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]]
    assert len(server.arrivals) == 6 and result.stats.retries == 5
    gaps = [b - a for a, b in zip(server.arrivals, server.arrivals[1:])]
    assert min(gaps) >= 0.99, f"came back before Retry-After: {gaps}"


def test_no_more_than_the_configured_attempts(cfg, scripted):
    server = scripted(busy=5)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": server.url, "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env, max_attempts=3) as client:
        with pytest.raises(ServicesUnavailable, match=r"after 3 attempts.*429 queue full.*nothing returned"):
            client.embed(["a", "bb"])
    assert len(server.arrivals) == 3


def test_a_replica_answering_5xx_is_taken_out_and_its_batches_go_to_the_other(cfg, scripted):
    broken, good = scripted(busy=1000, status=500), scripted(busy=0)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": f"{broken.url},{good.url}", "CODEX_EMBED_KEY_FILE": "none"}
    texts = [f"t{i}" for i in range(20)]
    with EmbedClient.from_environment(cfg, environ=env, batch_size=2, concurrency=1) as client:
        result = client.embed_detailed(texts, as_numpy=False)
    assert result.vectors == [[float(len(t)), float(i % 2)] for i, t in enumerate(texts)]
    assert len(broken.arrivals) == 1 and result.stats.failovers == 1  # out for 5 s after its 500
    assert result.stats.by_replica == {good.url: 20}


def test_a_request_the_server_refuses_is_not_retried(cfg, scripted):
    server = scripted(busy=1000, status=422)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": server.url, "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env) as client:
        with pytest.raises(RequestRefused, match="422 queue full"):
            client.embed(["a"])
    assert len(server.arrivals) == 1


def test_the_deadline_holds_while_the_replica_is_slow_and_nobody_is_blamed(cfg, scripted):
    server = scripted(busy=0, delay=3.0)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": server.url, "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env, batch_size=1, concurrency=1) as client:
        start = time.monotonic()
        with pytest.raises(ServicesUnavailable, match="within the 1 s deadline"):
            client.embed(["a", "b", "c"], deadline=1)
        took = time.monotonic() - start
        [replica] = client.aio.replicas.seen.values()
    assert took < 2.5 and len(server.arrivals) == 1, (took, server.arrivals)
    assert replica.strikes == 0 and replica.out_until == 0.0  # a slow answer is not a failure


def test_a_long_retry_after_rests_a_replica_a_minute_at_most(cfg, scripted):
    busy, good = scripted(busy=1, retry="3600"), scripted(busy=0)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": f"{busy.url},{good.url}", "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env, concurrency=1) as client:
        assert client.embed(["a", "b"], as_numpy=False) == [[1.0, 0.0], [1.0, 1.0]]
        rest = client.aio.replicas.seen[busy.url].out_until - time.monotonic()
    assert 0 < rest <= 60 * 1.3


def test_a_closed_client_says_so_and_closing_twice_is_harmless(cfg, scripted):
    server = scripted(busy=0)
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": server.url, "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env) as client:
        client.close()
    client.close()
    with pytest.raises(ClientError, match="closed"):
        client.embed(["a"])


def test_an_address_without_a_scheme_fails_at_once(cfg):
    env = {"IMAS_CODEX_EMBED_REMOTE_URL": "gpu-1:18765", "CODEX_EMBED_KEY_FILE": "none"}
    with EmbedClient.from_environment(cfg, environ=env) as client:
        start = time.monotonic()
        with pytest.raises(ClientError, match="not an http.s. URL: gpu-1:18765"):
            client.embed(["a"])
    assert time.monotonic() - start < 2
