"""429 with Retry-After, from a scripted stand-in server (the one stand-in: the acceptance
describes exactly this server): the client waits as told, succeeds, and stops at its limit."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from codex_console.client import EmbedClient, ServicesUnavailable

from ..helpers import free_port


class Scripted(ThreadingHTTPServer):
    """Answers 429 (Retry-After: 1) to its first `busy` requests, then embeds each text as
    [its length, its place in the request]."""

    def __init__(self, busy: int) -> None:
        super().__init__(("127.0.0.1", free_port()), Handler)
        self.busy, self.arrivals = busy, []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.arrivals.append(time.monotonic())
        if len(self.server.arrivals) <= self.server.busy:
            self.answer(429, {"detail": "queue full"}, {"Retry-After": "1"})
        else:
            rows = [[float(len(t)), float(i)] for i, t in enumerate(body["texts"])]
            self.answer(200, {"embeddings": rows, "model": "scripted", "dimension": 2, "count": len(rows)})

    def answer(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[type[Scripted]]:
    servers: list[Scripted] = []

    def start(busy: int) -> Scripted:
        server = Scripted(busy)
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
