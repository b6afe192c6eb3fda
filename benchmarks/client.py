"""One HTTP client for every server measured: keep-alive POSTs on asyncio streams, ~0.1 ms each.

The machine has 2 cores shared by client and server; httpx spends ~1.5 ms of CPU per request,
which would measure the client more than the servers.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Callable
from urllib.parse import urlsplit

Body = Callable[[list[str]], dict]


class KeepAliveClient:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, payload: dict) -> bytes:
        reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
        body = json.dumps(payload).encode()
        writer.write(f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        data = await reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {data[:200]!r}")
        self.idle.append((reader, writer))
        return data

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def batch_rate(url: str, body: Body, texts: list[str], batch: int) -> float:
    """texts/s of one client sending `texts` in requests of `batch`, one after another."""
    client = KeepAliveClient(url)
    try:
        started = time.perf_counter()
        for i in range(0, len(texts), batch):
            await client.post(body(texts[i:i + batch]))
        return len(texts) / (time.perf_counter() - started)
    finally:
        await client.close()


async def clients_rate(url: str, body: Body, texts: list[str], clients: int) -> float:
    """texts/s of `clients` clients each sending one-text requests until `texts` are done."""
    client = KeepAliveClient(url)
    queue = list(texts)

    async def one_client() -> None:
        while queue:
            await client.post(body([queue.pop()]))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return len(texts) / (time.perf_counter() - started)
    finally:
        await client.close()
