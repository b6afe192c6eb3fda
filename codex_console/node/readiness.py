"""Is a service ready? An HTTP path that answers 200, or a Bolt handshake that gets an answer.

Each check has its own deadline (a hung service must not hold the supervisor) and opens a
fresh connection: nothing is kept between checks.
"""

from __future__ import annotations

import asyncio

from ..protocol import BOLT_HANDSHAKE


async def _exchange(host: str, port: int, hello: bytes, size: int, timeout: float) -> bytes:
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(hello)
            await writer.drain()
            return await reader.read(size)
    except (OSError, TimeoutError):
        return b""
    finally:
        if writer is not None:
            writer.close()


async def http_ready(host: str, port: int, path: str = "/ready", timeout: float = 3.0) -> bool:
    answer = await _exchange(host, port, f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode(), 64, timeout)
    words = answer.split(b"\r\n", 1)[0].split()
    return len(words) >= 2 and words[1] == b"200"


async def bolt_ready(host: str, port: int, timeout: float = 3.0) -> bool:
    """Any 4 bytes back: a Bolt server is there (even one that agrees on no version)."""
    return len(await _exchange(host, port, BOLT_HANDSHAKE, 4, timeout)) == 4
