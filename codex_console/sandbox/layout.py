"""Where the sandbox keeps its files, and the ports it uses."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/var/lib/codex-sandbox")
NODE_B = "codex-node-b"  # the second node (node_b.py)


@dataclass(frozen=True)
class SandboxLayout:
    root: Path
    ssh_port: int = 2222  # the login node
    gateway_port: int = 2223  # a jump host in front of it (ProxyJump)
    mfa_port: int = 2224  # a login that asks keyboard-interactive questions (PAM)
    bolt_port: int = 17688
    node: str = socket.gethostname().split(".")[0]

    @classmethod
    def from_env(cls) -> SandboxLayout:
        return cls(root=Path(os.environ.get("CODEX_SANDBOX_DIR", DEFAULT_ROOT)))

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def ssh(self) -> Path:
        return self.root / "ssh"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    @property
    def slurm(self) -> Path:
        return self.root / "slurm"

    @property
    def identity(self) -> Path:
        return self.ssh / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh / "known_hosts"

    @property
    def mfa_password(self) -> Path:
        return self.ssh / "mfa-password"

    @property
    def config_file(self) -> Path:
        return self.root / "config.toml"

    def pid_file(self, name: str) -> Path:
        """Each slurmd writes its own (slurm.conf: `slurmd-%n.pid`)."""
        stem = {"slurmd": f"slurmd-{self.node}", "slurmd-b": f"slurmd-{NODE_B}"}.get(name, name)
        return self.run / f"{stem}.pid"

    def make_dirs(self) -> None:
        for path in (self.run, self.log, self.ssh, self.bin, self.dev, self.slurm):
            path.mkdir(parents=True, exist_ok=True)
        self.ssh.chmod(0o700)
