"""The OpenSSH transport: every call runs the user's own `ssh`, multiplexed over one master
connection (ControlMaster), so one login (password, one-time code) serves the console, the
tunnels and the cron check until ControlPersist runs out.

Background calls never prompt (BatchMode): only `login()` talks to the terminal, once, before
the dashboard opens or from `codex-console login`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path
from typing import AsyncIterator, Sequence

from ..config import LoginConfig
from ..models import CommandResult
from .login_auth import NO_PROMPT_HINT
from .runner import ActionInDoubt, CommandTimeout, RemoteError, Unreachable, _kill_group, lines_until_closed
from .shell import PersistentShell, ShellBroken, ShellSession
from .sshconfig import override_args, resolve

READ_LIMIT = 64 * 2**20  # a poll's answer (squeue of a busy cluster) fits in one read


def control_path(login: LoginConfig) -> str:
    """The user's own ControlPath when their config sets one, else ours (short: sockets have
    a 108-byte path limit)."""
    own = resolve(login.host, override_args(login), check_keys=False).options.get("controlpath", "none")
    if own != "none":
        return own
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path("~/.ssh").expanduser())
    if len(base) > 40:  # %C is 40 characters, and ssh adds a temporary suffix while it binds
        base = f"/tmp/codex-{os.getuid()}"
    os.makedirs(base, mode=0o700, exist_ok=True)
    return f"{base}/codex-%C"


class OpenSshRunner:
    def __init__(self, login: LoginConfig) -> None:
        self.login = login
        self.connections_opened = 0  # master connections this runner made
        self._path: str | None = None
        self._forwards: dict[tuple[str, int], int] = {}
        self.shells = ShellSession(self._open_shell, lambda argv: self.run(argv, timeout=5),
                                   lambda: None, lambda: login.host)

    def ssh_argv(self, *extra: str, batch: bool = True) -> list[str]:
        if self._path is None:
            resolve(self.login.host, override_args(self.login))  # known_hosts checks, as for asyncssh
            self._path = control_path(self.login)
        login = self.login
        return ["ssh", *override_args(login), "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=auto",
                "-o", f"ControlPath={self._path}", "-o", f"ControlPersist={login.control_persist}",
                "-o", f"ConnectTimeout={int(login.connect_timeout)}", "-o", "ServerAliveInterval=15",
                "-o", "ServerAliveCountMax=3", *(["-o", "BatchMode=yes"] if batch else []),
                *extra, login.host]

    # -- the master connection ------------------------------------------------------------------
    async def master_up(self) -> bool:
        argv = await asyncio.to_thread(self.ssh_argv, "-O", "check")
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        return await proc.wait() == 0

    def login_interactively(self) -> int:
        """Open the master on this terminal: ssh itself asks its questions. Blocking; call it
        before the dashboard takes the terminal."""
        argv = self.ssh_argv("-o", "ControlPersist=" + self.login.control_persist, batch=False)
        self.connections_opened += 1
        return subprocess.run([*argv, "true"]).returncode

    # -- calls ----------------------------------------------------------------------------------
    async def _spawn(self, argv: Sequence[str], *, pty: bool = False, stdin: int | None = None,
                     stderr: int | None = asyncio.subprocess.PIPE) -> asyncio.subprocess.Process:
        if not await self.master_up():
            self.connections_opened += 1  # ssh will open the master itself (keys, agent)
        ssh = await asyncio.to_thread(self.ssh_argv, "-tt" if pty else "-T")
        return await asyncio.create_subprocess_exec(
            *ssh, shlex.join(argv), stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=stderr, start_new_session=True, limit=READ_LIMIT)

    async def run(self, argv: Sequence[str], *, input: str | None = None,
                  timeout: float | None = None) -> CommandResult:
        timeout = timeout or self.login.command_timeout
        start = time.monotonic()
        proc = await self._spawn(argv, stdin=asyncio.subprocess.PIPE if input is not None else None)
        try:
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate(input.encode() if input else None)
        except TimeoutError:
            _kill_group(proc)
            raise CommandTimeout(f"{argv[0]} did not finish within {timeout:.0f}s") from None
        except asyncio.CancelledError:
            _kill_group(proc)
            raise
        text = err.decode(errors="replace")
        if proc.returncode == 255 and _never_connected(text):  # ssh could not even log in
            raise Unreachable(_ssh_failure(self.login.host, text))
        if proc.returncode == 255 and _dropped(text):  # the command may or may not have run
            raise ActionInDoubt(f"connection to {self.login.host} lost during {argv[0]}; it may or may not have run")
        return CommandResult(tuple(argv), proc.returncode or 0, out.decode(errors="replace"), text,
                             time.monotonic() - start)

    async def poll(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        return await self.shells.poll(argv, timeout or self.login.command_timeout)

    async def _open_shell(self) -> PersistentShell:
        proc = await self._spawn(["exec", "sh"], stdin=asyncio.subprocess.PIPE)
        assert proc.stdin and proc.stdout and proc.stderr
        shell = PersistentShell(proc.stdin, proc.stdout, proc.stderr, closer=proc)
        try:
            async with asyncio.timeout(self.login.command_timeout):
                await shell.start()
        except ShellBroken:  # ssh itself failed (no login, no route): say what ssh said
            async with asyncio.timeout(5):
                code = await proc.wait()
            said = (await proc.stderr.read()).decode(errors="replace")
            raise Unreachable(_ssh_failure(self.login.host, said or f"ssh exited {code}")) from None
        except BaseException:
            shell.close()
            raise
        return shell

    async def stream(self, argv: Sequence[str]) -> AsyncIterator[str]:
        proc = await self._spawn(argv, pty=True, stderr=asyncio.subprocess.STDOUT)
        async with contextlib.aclosing(lines_until_closed(proc)) as lines:  # closed now, not at GC
            async for line in lines:
                yield line

    async def forward(self, host: str, port: int) -> tuple[str, int]:
        key = (host, port)
        if self._forwards and not await self.master_up():
            self._forwards.clear()  # forwards live in the master: a new master has none
        if key not in self._forwards:
            local = _free_port()
            spec = f"127.0.0.1:{local}:{host}:{port}"
            await self.run(["true"])  # the master is up before it is asked to forward
            argv = await asyncio.to_thread(self.ssh_argv, "-O", "forward", "-L", spec)
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise RemoteError(f"forward to {host}:{port} failed: {err.decode().strip()}")
            self._forwards[key] = local
        return "127.0.0.1", self._forwards[key]

    async def close(self) -> None:
        await self.shells.close()
        for (host, port), local in list(self._forwards.items()):
            argv = self.ssh_argv("-O", "cancel", "-L", f"127.0.0.1:{local}:{host}:{port}")
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()
        self._forwards.clear()


def _ssh_failure(host: str, stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else "ssh exited 255"
    if "Permission denied" in reason and "keyboard-interactive" in reason:
        return f"cannot log in to {host}: {reason}; {NO_PROMPT_HINT}"
    return f"cannot reach login node {host}: {reason}"


NEVER_CONNECTED = ("Permission denied", "Could not resolve", "Connection refused", "Connection timed out",
                   "No route to host", "Host key verification failed", "REMOTE HOST IDENTIFICATION",
                   "Network is unreachable", "connect to host", "ProxyJump", "kex_exchange")


def _never_connected(stderr: str) -> bool:
    return any(marker in stderr for marker in NEVER_CONNECTED)


def _dropped(stderr: str) -> bool:
    return any(m in stderr for m in ("Connection closed", "Broken pipe", "Connection reset", "closed by remote"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
