"""A remote `sh` that runs one framed command at a time: the poll path of both SSH transports.

Each command gets its own random nonce; its output is what lies between that nonce's start and
end markers, so nothing another command left behind (a cancelled poll, a login banner) can be
read as its answer. The command runs under `timeout`, so one that overruns is killed on the
remote side even when this side has gone away; `kill_running` stops it on purpose. A shell
whose command was cancelled or timed out is thrown away by its owner, never reused.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
import uuid
from typing import Awaitable, Callable, Protocol, Sequence

from ..models import CommandResult
from .runner import CommandTimeout, RemoteError, Unreachable

log = logging.getLogger(__name__)


class ByteReader(Protocol):
    async def readuntil(self, separator: bytes) -> bytes: ...


class ByteWriter(Protocol):
    def write(self, data: bytes) -> None: ...


class ShellBroken(ConnectionError):
    """The shell's streams ended or broke: the channel or the connection is gone."""


class PersistentShell:
    def __init__(self, stdin: ByteWriter, stdout: ByteReader, stderr: ByteReader,
                 closer: object = None) -> None:
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.closer = closer  # what close() closes: the channel or the ssh process
        self.pid: int | None = None  # the remote shell's own pid, for killing its children
        self.broken = False

    async def start(self) -> None:
        """Learn the remote shell's own pid; whatever a login banner printed is skipped."""
        rc, out, _ = await self._exchange('echo "$$"')
        self.pid = int(out.strip()) if rc == 0 and out.strip().isdigit() else None

    async def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
        """(exit code, stdout, stderr). The remote `timeout` ends it after `timeout` seconds
        (exit 124; 137 if it had to be killed); this side waits a little longer for that."""
        seconds = max(1, int(timeout))
        return await self._exchange(f"timeout -k 2 {seconds} {shlex.join(argv)} </dev/null")

    async def _exchange(self, command: str) -> tuple[int, str, str]:
        nonce = uuid.uuid4().hex
        script = (f"printf '\\nS{nonce}\\n'; printf '\\nS{nonce}\\n' >&2; {command}; "
                  f"__rc=$?; printf '\\nE{nonce} %d\\n' $__rc; printf '\\nE{nonce}\\n' >&2\n")
        try:
            self.stdin.write(script.encode())
            await self._until(self.stdout, f"\nS{nonce}\n")
            out = await self._until(self.stdout, f"\nE{nonce} ")
            rc = int((await self._until(self.stdout, "\n")).strip() or 255)
            await self._until(self.stderr, f"\nS{nonce}\n")
            err = await self._until(self.stderr, f"\nE{nonce}\n")
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError) as exc:
            self.broken = True
            raise ShellBroken(f"remote shell ended: {type(exc).__name__}") from None
        except BaseException:
            self.broken = True  # cancelled mid-command: the shell's state is unknown
            raise
        return rc, out.decode(errors="replace"), err.decode(errors="replace")

    @staticmethod
    async def _until(reader: ByteReader, marker: str) -> bytes:
        data = await reader.readuntil(marker.encode())
        return data[: -len(marker)]

    def kill_argv(self) -> list[str] | None:
        """What stops this shell's running command: TERM to the `timeout` wrapper, which passes
        it on to the command's whole process group."""
        return None if self.pid is None else ["pkill", "-TERM", "-P", str(self.pid)]

    def close(self) -> None:
        closer = self.closer
        if closer is None:
            return
        if hasattr(closer, "close"):
            closer.close()  # an asyncssh channel
        elif hasattr(closer, "kill"):
            try:
                closer.kill()  # an ssh subprocess
            except ProcessLookupError:
                pass


class ShellSession:
    """The poll path shared by both transports: one shell at a time, commands queued on it.

    Waiting for the shell costs a command no deadline. A command that overruns or is cancelled
    is killed on the login node and its shell thrown away; a broken shell is replaced once."""

    def __init__(self, open_shell: Callable[[], Awaitable[PersistentShell]],
                 run_action: Callable[[list[str]], Awaitable[object]],
                 on_broken: Callable[[], None], where: Callable[[], str]) -> None:
        self.open_shell, self.run_action = open_shell, run_action
        self.on_broken, self.where = on_broken, where
        self.shell: PersistentShell | None = None
        self._lock = asyncio.Lock()
        self._chores: set[asyncio.Task] = set()

    async def poll(self, argv: Sequence[str], timeout: float) -> CommandResult:
        for attempt in (0, 1):
            async with self._lock:
                if self.shell is None or self.shell.broken:
                    try:
                        self.shell = await self.open_shell()
                    except TimeoutError:
                        raise Unreachable(f"no shell on {self.where()} in time (slow login?)") from None
                shell, start = self.shell, time.monotonic()
                try:
                    async with asyncio.timeout(timeout + 3):
                        rc, out, err = await shell.run(argv, timeout)
                except ShellBroken as exc:
                    self.discard(kill=False)
                    self.on_broken()
                    if attempt:
                        raise RemoteError(f"{argv[0]}: {exc} ({self.where()})") from None
                    continue
                except TimeoutError:
                    self.discard(kill=True)
                    raise CommandTimeout(f"{argv[0]} did not finish within {timeout:.0f}s") from None
                except asyncio.CancelledError:  # the caller gave up: nothing of it may keep running
                    self.discard(kill=True)
                    raise
            elapsed = time.monotonic() - start
            if rc == 124 or (rc == 137 and elapsed >= timeout):
                raise CommandTimeout(f"{argv[0]} did not finish within {timeout:.0f}s (killed there)")
            return CommandResult(tuple(argv), rc, out, err, elapsed)
        raise AssertionError("unreachable")

    def discard(self, kill: bool) -> None:
        shell, self.shell = self.shell, None
        if shell is None:
            return
        shell.close()
        kill_argv = shell.kill_argv()
        if kill and kill_argv:
            task = asyncio.get_running_loop().create_task(self._quietly(kill_argv))
            self._chores.add(task)
            task.add_done_callback(self._chores.discard)

    async def _quietly(self, argv: list[str]) -> None:
        try:
            await self.run_action(argv)
        except (RemoteError, OSError) as exc:
            log.info("could not stop a remote command: %s", exc)

    async def close(self) -> None:
        self.discard(kill=False)
        if self._chores:  # let a kill in flight reach the login node
            await asyncio.wait(list(self._chores), timeout=3)
