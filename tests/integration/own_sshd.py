"""An sshd of a test's own: a copy of one of the sandbox's, on a free port, for the tests that
kill sshd or its sessions. The sandbox's sshds carry the sessions of the tests that run beside."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from codex_console.pids import stop_pid
from codex_console.sandbox.layout import SandboxLayout
from codex_console.sandbox.manager import _children
from codex_console.sandbox.processes import running_pid, start_daemon
from codex_console.sandbox.sshd import sshd_config

from ..helpers import free_port


@dataclass
class OwnSshd:
    layout: SandboxLayout
    like: str  # "sshd" (the login node) or "gateway"
    directory: Path
    port: int

    @property
    def pid_file(self) -> Path:
        return self.directory / "sshd.pid"

    @property
    def known_hosts(self) -> Path:
        """The sandbox's known_hosts and this port, one file."""
        return self.directory / "known_hosts"

    def start(self) -> None:
        conf = self.directory / "sshd_config"
        conf.write_text(sshd_config(self.layout, self.like, self.port, self.pid_file))
        start_daemon(["/usr/sbin/sshd", "-f", str(conf), "-E", str(self.directory / "sshd.log")],
                     self.pid_file, self.directory / "start.log")

    def sessions(self) -> list[int]:
        pid = running_pid(self.pid_file)
        return _children(pid) if pid else []

    def kill_sessions(self) -> None:
        for pid in self.sessions():
            stop_pid(pid)

    def stop(self) -> None:
        """The listener and every session it serves."""
        pid = running_pid(self.pid_file)
        if pid:
            for p in [pid, *_children(pid)]:
                stop_pid(p)


@contextmanager
def own_sshd(layout: SandboxLayout, directory: Path, like: str = "sshd") -> Iterator[OwnSshd]:
    directory.mkdir(parents=True, exist_ok=True)
    own = OwnSshd(layout, like, directory, free_port())
    key_type, key = (layout.ssh / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    own.known_hosts.write_text(layout.known_hosts.read_text() + f"[127.0.0.1]:{own.port} {key_type} {key}\n")
    own.start()
    try:
        yield own
    finally:
        own.stop()
