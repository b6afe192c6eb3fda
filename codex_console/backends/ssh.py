"""The asyncssh transport: one reused connection to the login node, set up as ~/.ssh/config says.

Polls go through one persistent remote shell on it (about 20 ms a command instead of 120 ms for
a new channel); actions get their own exec channel and are never repeated after a lost
connection; compute-node ports are forwarded over the same connection. A dropped connection is
re-opened with capped backoff; a broken shell is replaced without touching the connection.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from typing import AsyncIterator, Sequence

import asyncssh

from ..config import LoginConfig
from ..models import CommandResult
from .login_auth import Prompter, auth_client_factory, describe_failure
from .runner import ActionInDoubt, CommandTimeout, RemoteError, Unreachable
from .shell import PersistentShell, ShellSession
from .sshconfig import SshTarget, config_file_args, override_args, resolve

log = logging.getLogger(__name__)
_LOST = (asyncssh.ConnectionLost, asyncssh.DisconnectError, asyncssh.ChannelOpenError,
         BrokenPipeError, ConnectionError, OSError)


class HostKeyMismatch(Unreachable):
    pass


def _hop_destination(hop: str) -> str:
    """ProxyJump hops are `[user@]host[:port]`; `ssh -G` reads the port from a URI."""
    return f"ssh://{hop}" if ":" in hop.rpartition("@")[2] else hop


class SshRunner:
    def __init__(self, login: LoginConfig, *, max_backoff: float = 30.0,
                 prompter: Prompter | None = None) -> None:
        self.login = login
        self.max_backoff = max_backoff
        self.prompter = prompter  # answers keyboard-interactive questions; None: never ask
        self.connections_opened = 0
        self.target: SshTarget | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._hops: list[asyncssh.SSHClientConnection] = []
        self._connect_lock = asyncio.Lock()
        self.shells = ShellSession(self._open_shell, lambda argv: self.run(argv, timeout=5),
                                   self._lost, self._where)
        self._forwards: dict[tuple[str, int], asyncssh.SSHListener] = {}
        self._failures = 0
        self._next_attempt = 0.0

    # -- connection -------------------------------------------------------------------------
    def _options(self, target: SshTarget) -> dict[str, object]:
        keys = [p for p in target.identity_files if _readable(p)]
        opts: dict[str, object] = {
            "port": target.port, "username": target.user, "known_hosts": list(target.known_hosts),
            "connect_timeout": self.login.connect_timeout, "config": [],
            "keepalive_interval": self.login.keepalive, "keepalive_count_max": 3,
            "client_factory": auth_client_factory(self.prompter),
        }
        if keys or target.identities_only:
            opts["client_keys"] = keys
        if target.identities_only:
            opts["agent_path"] = None
        if target.proxy_command:
            opts["proxy_command"] = target.proxy_command
        return opts

    async def _open(self) -> asyncssh.SSHClientConnection:
        target = await asyncio.to_thread(resolve, self.login.host, override_args(self.login))
        self.target = target
        tunnel: asyncssh.SSHClientConnection | None = None
        for hop in target.proxy_jump:  # hops are read from the same ssh config file
            hop_target = await asyncio.to_thread(resolve, _hop_destination(hop), config_file_args(self.login))
            tunnel = await asyncssh.connect(hop_target.hostname, tunnel=tunnel, **self._options(hop_target))
            self._hops.append(tunnel)
        return await asyncssh.connect(target.hostname, tunnel=tunnel, **self._options(target))

    async def connection(self) -> asyncssh.SSHClientConnection:
        async with self._connect_lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                raise Unreachable(f"login node {self.login.host} unreachable; retrying in {wait:.0f}s")
            self._close_hops()
            # A person answering a password and a one-time code needs longer than a handshake.
            deadline = self.login.connect_timeout * 2 + 5 + (300 if self.prompter is not None else 0)
            try:
                async with asyncio.timeout(deadline):
                    conn = await self._open()
            except Unreachable:
                self._backoff()
                raise
            except asyncssh.HostKeyNotVerifiable as exc:
                self._backoff()
                files = ", ".join(self.target.known_hosts) if self.target else "known_hosts"
                raise HostKeyMismatch(
                    f"host key of {self.login.host} is not trusted by {files}: {exc.reason}. "
                    "Check it, then update known_hosts.") from None
            except (asyncio.TimeoutError, *_LOST, asyncssh.Error) as exc:
                self._backoff()
                raise Unreachable(f"cannot reach login node {self._where()}: "
                                  f"{describe_failure(exc, self.prompter)}") from None
            self._conn, self._failures = conn, 0
            self.shells.discard(kill=False)
            self._forwards.clear()
            self.connections_opened += 1
            log.info("connected to %s", self._where())
            return conn

    def _where(self) -> str:
        return self.target.label if self.target else self.login.host

    def _backoff(self) -> None:
        self._close_hops()
        self._failures += 1
        self._next_attempt = time.monotonic() + min(self.max_backoff, 0.5 * 2 ** (self._failures - 1))

    def _close_hops(self) -> None:
        for hop in self._hops:
            hop.close()
        self._hops.clear()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._close_hops()
        self._conn = None
        self.shells.discard(kill=False)
        self._forwards.clear()

    def _lost(self) -> None:
        """A channel failed: drop the connection only if it is the connection that is gone."""
        if self._conn is None or self._conn.is_closed():
            self._drop()

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    # -- actions: their own channel, never repeated -------------------------------------------
    async def run(self, argv: Sequence[str], *, input: str | None = None,
                  timeout: float | None = None) -> CommandResult:
        timeout = timeout or self.login.command_timeout
        start = time.monotonic()
        conn = await self.connection()
        try:
            res = await conn.run(shlex.join(argv), input=input, timeout=timeout, check=False)
        except asyncssh.TimeoutError:
            raise CommandTimeout(f"{argv[0]} did not finish within {timeout:.0f}s") from None
        except _LOST:
            self._lost()
            raise ActionInDoubt(f"connection to {self.login.host} lost during {argv[0]}; "
                                "it may or may not have run") from None
        code = res.exit_status if res.exit_status is not None else 255
        return CommandResult(tuple(argv), code, _text(res.stdout), _text(res.stderr), time.monotonic() - start)

    # -- readings: the persistent shell --------------------------------------------------------
    async def poll(self, argv: Sequence[str], *, timeout: float | None = None) -> CommandResult:
        return await self.shells.poll(argv, timeout or self.login.command_timeout)

    async def _open_shell(self) -> PersistentShell:
        conn = await self.connection()
        try:
            process = await conn.create_process("exec sh", encoding=None)
        except _LOST as exc:
            self._lost()
            raise Unreachable(f"cannot open a shell on {self._where()}: {exc}") from None
        shell = PersistentShell(process.stdin, process.stdout, process.stderr, closer=process)
        try:
            async with asyncio.timeout(self.login.command_timeout):
                await shell.start()
        except BaseException:
            shell.close()
            raise
        return shell

    # -- streams and forwards -----------------------------------------------------------------
    async def stream(self, argv: Sequence[str]) -> AsyncIterator[str]:
        """Lines of a long-running command. It runs on a pty, so when this side stops reading
        (or the connection dies) sshd hangs it up and it ends on the login node too."""
        conn = await self.connection()
        try:
            process = await conn.create_process(shlex.join(argv), term_type="dumb", encoding=None)
        except _LOST as exc:
            self._lost()
            raise RemoteError(f"cannot start {argv[0]}: {exc}") from None
        try:
            async for line in process.stdout:
                yield line.decode(errors="replace").rstrip("\r\n")
        except _LOST:
            self._lost()
        finally:
            process.close()

    async def forward(self, host: str, port: int) -> tuple[str, int]:
        """A local port that reaches host:port through the login node, on this connection."""
        key = (host, port)
        listener = self._forwards.get(key)
        if listener is None or not self.connected:
            conn = await self.connection()
            listener = await conn.forward_local_port("127.0.0.1", 0, host, port)
            self._forwards[key] = listener
        return "127.0.0.1", listener.get_port()

    async def close(self) -> None:
        await self.shells.close()
        for listener in self._forwards.values():
            listener.close()
        conn = self._conn
        self._drop()
        if conn is not None:
            await conn.wait_closed()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value or "")


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
