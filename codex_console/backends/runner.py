"""The command-runner interface, and the local runner for `local = true` (on the login node)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Protocol, Sequence

from ..models import CommandResult


class RemoteError(RuntimeError):
    """The login node could not be reached, or a command there did not finish in time."""


class CommandTimeout(RemoteError):
    pass


class Unreachable(RemoteError):
    """No connection to the login node (refused, timed out, host key not trusted)."""


class Runner(Protocol):
    """Runs argument lists on the login node. Every call has a deadline."""

    async def run(self, argv: Sequence[str], *, input: str | None = None,
                  timeout: float | None = None) -> CommandResult: ...

    async def poll(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult: ...

    async def forward(self, host: str, port: int) -> tuple[str, int]: ...

    async def close(self) -> None: ...


class LocalRunner:
    """Runs commands as local subprocesses; `forward` is the identity (no tunnel needed)."""

    def __init__(self, timeout: float = 20.0) -> None:
        self.timeout = timeout

    async def run(self, argv: Sequence[str], *, input: str | None = None,
                  timeout: float | None = None) -> CommandResult:
        start = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ}, start_new_session=True)
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(input.encode() if input is not None else None), timeout or self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise CommandTimeout(f"{argv[0]} did not finish within {timeout or self.timeout:.0f}s") from None
        return CommandResult(tuple(argv), proc.returncode or 0, out.decode(errors="replace"),
                             err.decode(errors="replace"), time.monotonic() - start)

    async def poll(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        return await self.run(argv, timeout=timeout)

    async def forward(self, host: str, port: int) -> tuple[str, int]:
        return host, port

    async def close(self) -> None:
        return None
