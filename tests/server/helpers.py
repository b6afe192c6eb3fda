"""Helpers the server tests share: a live app on a free port, raw HTTP, metrics, test texts."""

from __future__ import annotations

import re
import socket

AUTH = {"Authorization": "Bearer sekrit"}
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "plasma equilibrium reconstruction with magnetic diagnostics",
    "a graph database stores nodes and relationships",
    "slurm schedules batch jobs on the gpu partition",
    "embedding vectors are normalized to unit length",
    "query instructions change how retrieval embeddings look",
] * 20


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
