"""Helpers the server tests share: a live app on a free port, raw HTTP, metrics, test texts."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from server.app import create_app
from server.settings import Settings

AUTH = {"Authorization": "Bearer sekrit"}
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "plasma equilibrium reconstruction with magnetic diagnostics",
    "a graph database stores nodes and relationships",
    "slurm schedules batch jobs on the gpu partition",
    "embedding vectors are normalized to unit length",
    "query instructions change how retrieval embeddings look",
] * 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app under uvicorn on a free port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=settings.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ready").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready in 120 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def service(self):
        return self.app.state.service


def live(model: Path, **settings: object) -> LiveServer:
    return LiveServer(Settings(model=str(model), port=free_port(), device="cpu", **settings))


def raw_request(port: int, head: bytes, body: bytes = b"", timeout: float = 30) -> tuple[int | None, bytes]:
    """Send bytes as they are (framing included) and read the answer: (status, body), or
    (None, b"") when the server closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            data += chunk
        header, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", header).group(1))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(header.split(b" ", 2)[1]), rest


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, name
    return float(match.group(1))
