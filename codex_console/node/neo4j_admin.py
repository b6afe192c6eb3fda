"""Running one `neo4j-admin` command for the job: in its own process group, stopped at its
deadline (and killed with the job), and said in one line: Neo4j's own reason on a failure."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .neo4j_dump import admin_target

LOG_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T][\d:.]+\S*\s+)?(INFO|WARN|WARNING|ERROR|DEBUG)\s+(\[[^\]]*\]\s*)?")
OUTPUT_KEPT = 8000  # characters of neo4j-admin's output kept in a result

@dataclass(frozen=True)
class AdminResult:
    argv: tuple[str, ...]
    action: str  # "dump", "load" ("" for another command)
    database: str
    exit_code: int | None  # None: stopped at its deadline
    seconds: float
    archive: str  # the <db>.dump written or read ("" when the command names none)
    bytes: int | None  # the archive's size after the run (None when there is none)
    message: str  # one line saying what happened, taken from its output
    output: str  # the end of its output, stdout and stderr together

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def summarize(output: str, exit_code: int, what: str = "neo4j-admin") -> str:
    """The line that says what happened: Neo4j's `Failed to ... : <why>` on a failure, its last
    line on success, without the log's time and level prefix."""
    lines = [line for line in (LOG_PREFIX.sub("", raw).strip() for raw in output.splitlines()) if line]
    if exit_code == 0:
        return lines[-1] if lines else f"{what}: done"
    found = (next((line for line in lines if marker in line), None) for marker in ("Failed to ", "FATAL", "rror"))
    return next((line for line in found if line), lines[-1] if lines else f"{what}: exit code {exit_code}")


async def run_admin(argv: Sequence[str], timeout: float, *, clock: Callable[[], float] = time.monotonic) -> AdminResult:
    """Run one neo4j-admin command (in its own process group, stopped at `timeout` s) and say how it went."""
    action, database, folder = admin_target(argv)
    archive = str(Path(folder) / f"{database}.dump") if folder and database else ""
    start, code = clock(), None
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                                                    start_new_session=True)
    except OSError as exc:
        return AdminResult(tuple(argv), action, database, 127, clock() - start, archive, None,
                           f"cannot run {argv[0]}: {exc.strerror or exc}", "")
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            while chunk := await proc.stdout.read(65536):  # type: ignore[union-attr]
                chunks.append(chunk)
            code = await proc.wait()
    except TimeoutError:
        await _stop(proc)
    except asyncio.CancelledError:  # the job ends: neo4j-admin (its own session) must not outlive it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    output = b"".join(chunks).decode(errors="replace")[-OUTPUT_KEPT:]
    what = " ".join(filter(None, [action or argv[0], database]))
    message = f"{what} did not finish within {timeout:g}s: stopped" if code is None else summarize(output, code, what)
    # a failed dump's archive is not its own (an older one it refused to overwrite, or none)
    size = os.stat(archive).st_size if archive and os.path.isfile(archive) and (code == 0 or action == "load") else None
    return AdminResult(tuple(argv), action, database, code, clock() - start, archive, size, message, output)


async def _stop(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    """TERM to its process group (apptainer and the JVM under it), KILL after `grace` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            async with asyncio.timeout(grace):
                await proc.wait()
            return
        except ProcessLookupError:
            return
        except TimeoutError:
            continue
