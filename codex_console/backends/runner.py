"""The command-runner interface, its errors, and the local runner for `local = true`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import AsyncIterator, Protocol, Sequence

from ..models import CommandResult


class RemoteError(RuntimeError):
    """A backend could not take a reading or do an action; the message says why."""


class CommandTimeout(RemoteError, TimeoutError):
    """A command did not finish within its deadline (and was killed)."""


class Unreachable(RemoteError):
    """No connection to the login node (refused, timed out, host key not trusted)."""


class ActionInDoubt(RemoteError):
    """The connection broke while an action ran: it may or may not have taken effect."""


class ServiceDown(RemoteError):
    """A service (embed server, Neo4j) did not answer its probe."""


class Runner(Protocol):
    """Runs argument lists on the login node. Every call has a deadline.

    `run` is for actions: it is never repeated after a lost connection, because the command
    may have run. `poll` is for readings: read-only commands, safe to repeat. `stream` yields a
    long-running command's output lines until it ends; leaving the loop stops the command."""

    connections_opened: int

    async def run(self, argv: Sequence[str], *, input: str | None = None,
                  timeout: float | None = None) -> CommandResult: ...

    async def poll(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult: ...

    def stream(self, argv: Sequence[str]) -> AsyncIterator[str]: ...

    async def forward(self, host: str, port: int) -> tuple[str, int]: ...

    async def close(self) -> None: ...


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def lines_until_closed(proc: asyncio.subprocess.Process) -> AsyncIterator[str]:
    """A streaming process's output, line by line; when the reader stops (or is cancelled),
    the process and its group are killed and reaped."""
    assert proc.stdout is not None
    try:
        async for line in proc.stdout:
            yield line.decode(errors="replace").rstrip("\r\n")
    finally:
        _kill_group(proc)
        await proc.wait()


class LocalRunner:
    """Runs commands as local subprocesses; `forward` is the identity (no tunnel needed)."""

    connections_opened = 0

    def __init__(self, timeout: float = 20.0) -> None:
        self.timeout = timeout

    async def run(self, argv: Sequence[str], *, input: str | None = None,
                  timeout: float | None = None) -> CommandResult:
        start = time.monotonic()
        timeout = timeout or self.timeout
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            cwd=Path.home())  # like a command over SSH: relative paths are in the home directory
        try:
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate(input.encode() if input is not None else None)
        except TimeoutError:
            _kill_group(proc)
            await proc.wait()
            raise CommandTimeout(f"{argv[0]} did not finish within {timeout:.0f}s") from None
        except asyncio.CancelledError:  # nothing of a cancelled command may keep running
            _kill_group(proc)
            raise
        return CommandResult(tuple(argv), proc.returncode or 0, out.decode(errors="replace"),
                             err.decode(errors="replace"), time.monotonic() - start)

    async def poll(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        return await self.run(argv, timeout=timeout)

    async def stream(self, argv: Sequence[str]) -> AsyncIterator[str]:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True, cwd=Path.home())
        async with contextlib.aclosing(lines_until_closed(proc)) as lines:  # closed now, not at GC
            async for line in lines:
                yield line

    async def forward(self, host: str, port: int) -> tuple[str, int]:
        return host, port

    async def close(self) -> None:
        return None
