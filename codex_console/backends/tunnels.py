"""The user-facing tunnels: start, stop and read the tunnel keeper (one per user and login node).

The keeper is a process of its own (`tunnel_keeper.py`) that outlives the console; this side
only spawns it, signals it and reads the status file it writes. Its state lives under
`$XDG_STATE_HOME/codex-console/tunnels/<login host>/`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from .. import config as config_mod
from ..config import Config
from ..models import Tunnel
from ..pids import cmdline, is_alive, wait_for
from .tunnel_probe import wanted_forwards


class TunnelError(RuntimeError):
    pass


def state_dir(cfg: Config) -> Path:
    if cfg.tunnels.state_dir:
        return Path(cfg.tunnels.state_dir).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    key = re.sub(r"[^A-Za-z0-9_.@-]", "_", f"{cfg.login.user + '@' if cfg.login.user else ''}{cfg.login.host}")
    return base / "codex-console" / "tunnels" / key


class TunnelManager:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.state = state_dir(cfg)

    def keeper_pid(self) -> int | None:
        """The running keeper's pid, else None. Read from its pid file and checked against what
        that pid runs (pids get reused); never by taking its lock, which a starting keeper
        could then find taken."""
        try:
            pid = int((self.state / "keeper.pid").read_text())
        except (OSError, ValueError):
            return None
        argv = cmdline(pid)
        ours = is_alive(pid) and b"codex_console.backends.tunnel_keeper" in argv and str(self.state).encode() in argv
        return pid if ours else None

    def spawn_argv(self) -> list[str]:
        return [sys.executable, "-m", "codex_console.backends.tunnel_keeper", str(self.state)]

    def forward_names(self) -> list[str]:
        return [f.name for f in wanted_forwards(self.cfg)]

    async def start(self, wait: float = 20.0) -> list[Tunnel]:
        """Start the keeper (if none runs) and wait until every forward answers, or `wait` s."""
        if self.keeper_pid() is None:
            self.state.mkdir(parents=True, exist_ok=True)
            self.state.chmod(0o700)
            (self.state / "config.toml").write_text(config_mod.to_toml(self.cfg, show_secrets=False))
            (self.state / "status.json").unlink(missing_ok=True)
            self.spawn(self.spawn_argv())
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.keeper_pid() is None and time.monotonic() > deadline - wait + 5:
                raise TunnelError(f"the tunnel keeper did not start: see {self.state / 'keeper.out'}")
            tunnels = self.status()
            if tunnels and all(t.up for t in tunnels):
                break
            await asyncio.sleep(0.2)
        return self.status()

    def spawn(self, argv: list[str]) -> None:
        """Start the keeper in a session of its own: it outlives this process."""
        with open(self.state / "keeper.out", "ab") as out:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)

    def stop(self) -> bool:
        """Stop the keeper and its ssh; True if one was running."""
        pid = self.keeper_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGTERM)
            if not wait_for(lambda: self.keeper_pid() is None, 10):
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return True

    def status(self) -> list[Tunnel]:
        """One Tunnel per configured forward, as the keeper last saw it."""
        running = self.keeper_pid() is not None
        try:
            data = json.loads((self.state / "status.json").read_text()) if running else None
        except (OSError, ValueError):
            data = None
        if data is None:
            return [Tunnel(name=f.name, local_port=f.local_port, remote_host="", remote_port=f.remote_port,
                           up=False, error="keeper starting" if running else "")
                    for f in wanted_forwards(self.cfg)]
        old = time.time() - float(data.get("checked") or 0) > 3 * self.cfg.tunnels.check_interval + 10
        by_name = {f["name"]: f for f in data.get("forwards", [])}
        tunnels = []
        for f in wanted_forwards(self.cfg):
            seen = by_name.get(f.name, {})
            error = "the keeper stopped answering" if old else str(seen.get("error") or "")
            tunnels.append(Tunnel(
                name=f.name, local_port=f.local_port, remote_host=str(data.get("node") or ""),
                remote_port=int(seen.get("remote_port") or f.remote_port), up=bool(seen.get("up")) and not old,
                pid=data.get("ssh_pid") if data.get("ssh_pid") and is_alive(int(data["ssh_pid"])) else None,
                started=data.get("started"), checked=data.get("checked"),
                restarts=int(data.get("restarts") or 0), error=error))
        return tunnels
