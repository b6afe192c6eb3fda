"""Starting and stopping the services' processes: TERM, then KILL after the time each may take.

Behind a small interface (`Launcher`, `Proc`) so that the supervisor's tests use fake processes.
Services inherit the job's stdout and stderr (the job log) and its process group: Slurm's own
signals (a cancel, a requeue) reach them as they reach the supervisor.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Protocol

from .clock import Clock, within


class Proc(Protocol):
    pid: int

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...


class Launcher(Protocol):
    async def spawn(self, argv: list[str], env: dict[str, str]) -> Proc: ...


class OsLauncher:
    async def spawn(self, argv: list[str], env: dict[str, str]) -> Proc:
        return await asyncio.create_subprocess_exec(*argv, env=env, stdin=asyncio.subprocess.DEVNULL)


def exit_code(returncode: int) -> int:
    """As a shell reports it: a process killed by signal N exited 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


async def stop(proc: Proc, limit: float, clock: Clock) -> tuple[float, bool]:
    """TERM, then KILL after `limit` seconds: (seconds it took, whether it had to be killed)."""
    start = clock.monotonic()
    if proc.returncode is not None:
        return 0.0, False
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
    done, _ = await within(clock, proc.wait(), limit)
    killed = False
    if not done:
        killed = True
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
    return clock.monotonic() - start, killed


def child_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(extra)
    return env
