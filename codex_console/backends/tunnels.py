"""SSH tunnels from this machine through the login node to the job's node.

Each forward is an `ssh -N -L 127.0.0.1:LOCAL:NODE:PORT` process in its own session, so it
outlives the console; its pid file (JSON) records the target, which lets a later console find,
check, stop or re-target it when the job moves to another node.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..config import Config
from ..models import Tunnel
from ..pids import cmdline, is_alive, stop_pid


class TunnelError(RuntimeError):
    pass


@dataclass(frozen=True)
class Forward:
    name: str
    local_port: int
    remote_port: int


def forwards(cfg: Config) -> list[Forward]:
    t, s = cfg.tunnels, cfg.services
    every = [Forward("embed", t.embed_local_port, s.embed_port),
             Forward("bolt", t.bolt_local_port, s.bolt_port),
             Forward("http", t.http_local_port, s.http_port)]
    return [f for f in every if f.name in t.forwards]


def ssh_argv(cfg: Config, local_port: int, node: str, remote_port: int) -> list[str]:
    login = cfg.login
    argv = ["ssh", "-N", "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=3", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={Path(login.known_hosts).expanduser()}", "-p", str(login.port),
            "-L", f"127.0.0.1:{local_port}:{node}:{remote_port}"]
    if login.identity:
        argv += ["-i", str(Path(login.identity).expanduser()), "-o", "IdentitiesOnly=yes"]
    if not login.ssh_config:
        argv += ["-F", "none"]
    return argv + [f"{login.user}@{login.host}" if login.user else login.host]


def _is_our_ssh(pid: int, spec: str) -> bool:
    """The pid is alive and still the ssh we started for `spec` (pids get reused)."""
    return is_alive(pid) and spec.encode() in cmdline(pid)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def port_open(port: int, timeout: float = 1.0) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


class TunnelManager:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.state_dir = Path(cfg.tunnels.state_dir).expanduser()

    def _pid_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def _record(self, name: str) -> dict | None:
        try:
            return json.loads(self._pid_file(name).read_text())
        except (OSError, ValueError):
            return None

    def _running(self, name: str) -> dict | None:
        rec = self._record(name)
        if rec and _is_our_ssh(rec["pid"], rec["spec"]):
            return rec
        return None

    async def start(self, node: str, names: list[str] | None = None, wait: float = 10.0) -> list[Tunnel]:
        """Open (or re-target) the forwards to `node`. Raises TunnelError with ssh's own words."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for fwd in forwards(self.cfg):
            if names and fwd.name not in names:
                continue
            rec = self._running(fwd.name)
            if rec and rec["node"] == node and rec["remote_port"] == fwd.remote_port:
                continue
            if rec:
                self._stop_one(fwd.name)  # the job moved: re-target
            await self._spawn(fwd, node, wait)
        return await self.status()

    async def _spawn(self, fwd: Forward, node: str, wait: float) -> None:
        if not _port_free(fwd.local_port):
            raise TunnelError(f"tunnel {fwd.name}: local port {fwd.local_port} is already in use "
                              f"(another tunnel or program); set tunnels.{fwd.name}_local_port")
        argv = ssh_argv(self.cfg, fwd.local_port, node, fwd.remote_port)
        log = self.state_dir / f"{fwd.name}.log"
        with log.open("wb") as fh:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=fh, stderr=fh, start_new_session=True)
        spec = f"127.0.0.1:{fwd.local_port}:{node}:{fwd.remote_port}"
        self._pid_file(fwd.name).write_text(json.dumps({
            "pid": proc.pid, "spec": spec, "node": node, "local_port": fwd.local_port,
            "remote_port": fwd.remote_port, "started": time.time()}))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                break
            if await port_open(fwd.local_port, 0.5):
                return
            try:
                await asyncio.wait_for(proc.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        if proc.returncode is None:
            proc.kill()
        self._pid_file(fwd.name).unlink(missing_ok=True)
        reason = log.read_text(errors="replace").strip().splitlines()
        raise TunnelError(f"tunnel {fwd.name} ({spec}) failed: {reason[-1] if reason else 'no listener'}")

    def _stop_one(self, name: str) -> bool:
        rec = self._running(name)
        self._pid_file(name).unlink(missing_ok=True)
        if rec is None:
            return False
        stop_pid(rec["pid"], timeout=1.0)
        return True

    def stop(self, names: list[str] | None = None) -> list[str]:
        return [f.name for f in forwards(self.cfg)
                if (not names or f.name in names) and self._stop_one(f.name)]

    async def status(self, check: bool = True) -> list[Tunnel]:
        tunnels = []
        for fwd in forwards(self.cfg):
            rec = self._running(fwd.name)
            if rec is None:
                tunnels.append(Tunnel(fwd.name, fwd.local_port, "", fwd.remote_port, None, False))
                continue
            up, error = True, ""
            if check:
                up, error = await self._check(fwd)
            tunnels.append(Tunnel(fwd.name, fwd.local_port, rec["node"], fwd.remote_port, rec["pid"],
                                  up, started=rec["started"], checked=time.time(), error=error))
        return tunnels

    async def _check(self, fwd: Forward) -> tuple[bool, str]:
        """Through the forward, talk to the service itself: ssh accepts on the local port even
        when nothing answers on the node, so a bare connect proves nothing."""
        if fwd.name == "embed":
            try:
                async with httpx.AsyncClient(timeout=3) as client:
                    r = await client.get(f"http://127.0.0.1:{fwd.local_port}/health")
                return True, "" if r.status_code == 200 else f"/health answered {r.status_code}"
            except httpx.HTTPError as exc:
                return False, f"{type(exc).__name__} through the tunnel"
        hello = BOLT_HANDSHAKE if fwd.name == "bolt" else b"HEAD / HTTP/1.0\r\n\r\n"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", fwd.local_port), 2)
            try:
                writer.write(hello)
                answer = await asyncio.wait_for(reader.read(4), 3)
            finally:
                writer.close()
        except (OSError, asyncio.TimeoutError):
            return False, "no answer through the tunnel"
        return (True, "") if answer else (False, "closed by the far end (service down?)")


# Bolt magic + four protocol versions (5.x, 4.4, 4.3, 3): any Bolt server answers 4 bytes.
BOLT_HANDSHAKE = bytes.fromhex("6060b017" "00000405" "00000404" "00000304" "00000003")
