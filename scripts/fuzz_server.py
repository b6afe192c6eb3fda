#!/usr/bin/env python3
"""Fuzz the embed server with malformed requests; every one must get a 4xx and /health must stay fast.

    .venv/bin/python scripts/fuzz_server.py --model PATH [--per-kind 200]   # starts its own server
    .venv/bin/python scripts/fuzz_server.py --port 18765 [--key KEY]         # a running one (loopback)

Kinds: deep nesting, huge numbers, wrong types, wrong Content-Type, truncated bodies, 16 MiB
bodies. During each 16 MiB request /health is polled and its latency recorded. Loopback only,
a fixed number of cases, stops by itself. Exit 0 when all answers were 4xx and the server is
still answering, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Iterator

MIB16 = 16 * 2**20
ROUTES = ("/embed", "/v1/embeddings")


def case_bodies(kind: str, n: int, seed: int = 0) -> Iterator[tuple[str, bytes, bytes]]:
    """(route, extra headers, body) for `n` cases of `kind`; the same for the same seed."""
    rng = random.Random(seed)
    for i in range(n):
        route = ROUTES[i % 2]
        field = "texts" if route == "/embed" else "input"
        json_type = b"Content-Type: application/json\r\n"
        if kind == "deep nesting":
            depth = rng.choice((600, 1100, 5000, 100_000))
            opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
            yield route, json_type, b'{"%s": ' % field.encode() + opener * depth + b"1" + closer * depth + b"}"
        elif kind == "huge numbers":
            digits = rng.choice((20, 400, 5000, 50_000))
            number = rng.choice((b"9" * digits, b"-" + b"9" * digits, b"1e" + b"9" * min(digits, 400),
                                 b"0." + b"1" * digits))
            name = rng.choice((b"dimension", b"normalize", field.encode()) if route == "/embed"
                              else (b"dimensions", field.encode()))
            yield route, json_type, b'{"%s": ["a"], "%s": %s}' % (field.encode(), name, number)
        elif kind == "wrong types":
            value = rng.choice((1, 1.5, True, None, {}, {"a": "b"}, [None], [[]], [{"x": 1}], [1.5],
                                ["ok", 3], "", [""], [[1, 2]], [1, 2, 3]))
            other = rng.choice(({}, {"dimension": "64"}, {"dimension": 1.0}, {"dimension": True},
                                {"normalize": "yes"}, {"prompt_name": 5}, {"truncate": "no"})
                               if route == "/embed" else
                               ({}, {"encoding_format": "hex"}, {"dimensions": [64]}, {"dimensions": "8"},
                                {"input_type": "poem"}, {"dimensions": 0}))
            body = {field: value} if i % 3 else {field: ["fine text"], **other}
            if not i % 3 and not other:
                body = rng.choice(([1, 2], "text", None, 7))
            yield route, json_type, json.dumps(body).encode()
        elif kind == "wrong content-type":
            ctype = rng.choice((b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data",
                                b"application/xml", b"image/png", b"application/jsonx"))
            yield route, b"Content-Type: " + ctype + b"\r\n", b'{"%s": ["a"]}' % field.encode()
        elif kind == "truncated bodies":
            full = json.dumps({field: ["some text", "more text " * rng.randint(1, 50)]}).encode()
            yield route, json_type, full[:rng.randint(1, len(full) - 1)]
        elif kind == "16 MiB bodies":
            # Just over the 16 MiB limit (refused on Content-Length), or just under it and dense
            # with JSON values (parsed in the helper process, refused there), or junk.
            shape, size = i % 4, MIB16 - 4096 if i % 4 in (1, 2) else MIB16 + 1024
            if shape == 0:  # one text
                yield route, json_type, b'{"%s": ["' % field.encode() + b"w" * (size - 20) + b'"]}'
            elif shape == 1:  # millions of empty arrays
                yield route, json_type, b'{"%s": [' % field.encode() + b"[]," * ((size - 20) // 3) + b"[]]}"
            elif shape == 2:  # millions of tiny strings
                yield route, json_type, b'{"%s": [' % field.encode() + b'"a",' * ((size - 20) // 4) + b'"a"]}'
            else:  # junk bytes
                yield route, json_type, bytes(rng.getrandbits(8) for _ in range(4096)) * (size // 4096)
        else:
            raise ValueError(kind)


KINDS = ("deep nesting", "huge numbers", "wrong types", "wrong content-type", "truncated bodies", "16 MiB bodies")


def send(port: int, route: str, headers: bytes, body: bytes, key: str | None, timeout: float = 60) -> int | None:
    auth = f"Authorization: Bearer {key}\r\n".encode() if key else b""
    head = (f"POST {route} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n".encode()
            + headers + auth + b"\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (413) and closed; read its answer
        data = b""
        while b"\r\n" not in data:
            try:
                chunk = sock.recv(4096)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            data += chunk
        return int(data.split(b" ", 2)[1])


def health_ms(port: int) -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    return (time.perf_counter() - started) * 1000


def fuzz(port: int, per_kind: int, key: str | None, big: int | None = None) -> dict:
    statuses: dict[str, Counter] = {}
    health: list[float] = []
    for kind in KINDS:
        count = per_kind if kind != "16 MiB bodies" else (big if big is not None else max(8, per_kind // 10))
        statuses[kind] = Counter()
        for route, headers, body in case_bodies(kind, count, seed=hash(kind) & 0xFFFF):
            done = threading.Event()
            if kind == "16 MiB bodies":
                def poll() -> None:
                    while not done.is_set():
                        health.append(health_ms(port))
                        time.sleep(0.01)
                poller = threading.Thread(target=poll)
                poller.start()
            status = send(port, route, headers, body, key)
            done.set()
            if kind == "16 MiB bodies":
                poller.join()
            statuses[kind][status] += 1
    answering = send(port, "/embed", b"Content-Type: application/json\r\n", b'{"texts": ["still here?"]}', key)
    bad = sum(n for c in statuses.values() for s, n in c.items() if s is None or not 400 <= s < 500)
    return {"statuses": {k: dict(v) for k, v in statuses.items()}, "cases": sum(sum(c.values()) for c in statuses.values()),
            "not_4xx": bad, "health_ms": {"polls": len(health), "median": statistics.median(health) if health else None,
                                          "max": max(health) if health else None},
            "answering_after": answering}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="start a server on this model (loopback, a free port)")
    p.add_argument("--port", type=int, help="fuzz a server already running on 127.0.0.1:PORT")
    p.add_argument("--key", help="API key of that server")
    p.add_argument("--per-kind", type=int, default=200)
    args = p.parse_args(argv)
    proc = None
    if args.model:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            args.port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "server.cli", "--model", args.model, "--host", "127.0.0.1",
                                 "--port", str(args.port), "--device", "cpu", "--log-level", "warning"])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                health_ms(args.port)
                if send(args.port, "/embed", b"", b'{"texts": ["warm"]}', None) == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
    elif not args.port:
        p.error("--model or --port")
    try:
        report = fuzz(args.port, args.per_kind, args.key)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
    print(json.dumps(report, indent=2))
    return 0 if report["not_4xx"] == 0 and report["answering_after"] == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
