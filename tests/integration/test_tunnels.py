"""The tunnel keeper, with no console running: one ssh for every forward, through the user's
alias and gateway; back within 20 s after ssh is killed, stopped (a laptop asleep), the gateway
restarts, or the job moves to another node."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from codex_console.backends.tunnels import TunnelManager
from codex_console.pids import is_alive
from codex_console.sandbox.manager import NODE2

from ..helpers import free_port, live, minilm_path
from .own_sshd import OwnSshd, own_sshd
from .test_field_login import alias_only, user_ssh_config

RECOVERY = 20.0


@pytest.fixture(scope="module")
def two_nodes():
    """An embed server on "the first node" (localhost) and one on the second (127.0.0.2), same port."""
    port = free_port()
    with live(minilm_path(), host="127.0.0.1", port=port, served_name="on-node-1") as one, \
            live(minilm_path(), host="127.0.0.2", port=port, served_name="on-node-2") as two:
        yield port, one, two


def served_by(local_port: int) -> str:
    """Which node answers through the tunnel ("" when nothing does)."""
    try:
        return httpx.get(f"http://127.0.0.1:{local_port}/health", timeout=2).json()["model"]
    except (httpx.HTTPError, ValueError, KeyError):
        return ""


def recovered(local_port: int, node: str, timeout: float = RECOVERY + 10) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if served_by(local_port) == node:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"no answer from {node} through the tunnel after {timeout:.0f}s")


def ssh_pid(manager: TunnelManager) -> int:
    [pid] = {t.pid for t in manager.status() if t.pid}
    return pid


def write_endpoints(path: Path, node: str, port: int) -> None:
    path.write_text(f"EMBED_URL=http://{node}:{port}\nNODE={node}\nJOB_ID=7\nSTALE=0\n")


def test_the_keeper_keeps_the_tunnel_up(sandbox, sandbox_config, tmp_path, two_nodes, capsys):
    with own_sshd(sandbox, tmp_path / "gateway", like="gateway") as gateway:
        keeps_the_tunnel_up(sandbox_config, user_ssh_config(sandbox, tmp_path, gateway), gateway,
                            tmp_path, two_nodes, capsys)


def keeps_the_tunnel_up(sandbox_config, ssh_config: Path, gateway: OwnSshd, tmp_path: Path, two_nodes,
                        capsys) -> None:
    port, _, _ = two_nodes
    cfg = alias_only(sandbox_config, ssh_config, "codex-login")
    cfg.tunnels.embed_local_port, cfg.tunnels.forwards, cfg.tunnels.check_interval = free_port(), ["embed"], 5.0
    cfg.services.embed_port = port
    cfg.services.endpoints_file = str(tmp_path / "services.env")
    write_endpoints(Path(cfg.services.endpoints_file), "localhost", port)
    manager = TunnelManager(cfg)
    local = cfg.tunnels.embed_local_port
    figures = {}
    import asyncio

    try:
        [tunnel] = asyncio.run(manager.start())
        assert tunnel.up and tunnel.remote_host == "localhost" and served_by(local) == "on-node-1"
        keeper = manager.keeper_pid()
        assert keeper and is_alive(keeper)

        os.kill(ssh_pid(manager), signal.SIGKILL)
        figures["ssh killed"] = recovered(local, "on-node-1")

        stopped = ssh_pid(manager)
        os.kill(stopped, signal.SIGSTOP)  # a laptop asleep: the process is there, nothing moves
        try:
            figures["ssh stopped (SIGSTOP)"] = recovered(local, "on-node-1")
        finally:
            if is_alive(stopped):
                os.kill(stopped, signal.SIGCONT)
        assert ssh_pid(manager) != stopped

        gateway.stop()  # the listener and the session carrying us
        time.sleep(1)
        gateway.start()
        figures["gateway sshd restarted"] = recovered(local, "on-node-1")

        write_endpoints(Path(cfg.services.endpoints_file), NODE2, port)  # the job moved
        figures["job moved to another node"] = recovered(local, "on-node-2")
        deadline = time.monotonic() + 5
        while not (status := manager.status()[0]).up and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.remote_host == NODE2 and status.restarts >= 4 and status.up, status
        assert manager.keeper_pid() == keeper  # one keeper all along
    finally:
        assert manager.stop() in (True, False)
    assert manager.keeper_pid() is None and not manager.status()[0].up
    with capsys.disabled():
        print("\n  tunnel back after: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items()))
    assert all(v <= RECOVERY for v in figures.values()), figures


def test_a_second_start_finds_the_running_keeper_and_a_taken_port_says_why(sandbox, sandbox_config, tmp_path):
    import asyncio
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    cfg = sandbox_config
    cfg.tunnels.embed_local_port, cfg.tunnels.forwards = blocker.getsockname()[1], ["embed"]
    cfg.services.endpoints_file = str(tmp_path / "services.env")
    write_endpoints(Path(cfg.services.endpoints_file), "localhost", free_port())
    manager = TunnelManager(cfg)
    try:
        [tunnel] = asyncio.run(manager.start(wait=8))
        assert not tunnel.up and "Address already in use" in tunnel.error + open(
            manager.state / "ssh.log").read()
        first = manager.keeper_pid()
        asyncio.run(TunnelManager(cfg).start(wait=1))
        assert TunnelManager(cfg).keeper_pid() == first  # one keeper per user and login node
    finally:
        manager.stop()
        blocker.close()
