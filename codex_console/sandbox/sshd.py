"""sshd on 127.0.0.1 with its own host key, a key-only login, and a known_hosts entry."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

from .layout import SandboxLayout
from .processes import running_pid, start_daemon


def sshd_config(layout: SandboxLayout) -> str:
    return f"""Port {layout.ssh_port}
ListenAddress 127.0.0.1
HostKey {layout.ssh}/ssh_host_ed25519_key
PidFile {layout.pid_file('sshd')}
AuthorizedKeysFile {layout.ssh}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowTcpForwarding yes
StrictModes no
MaxSessions 64
MaxStartups 64:30:128
ClientAliveInterval 15
Subsystem sftp internal-sftp
"""


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True)


def write_files(layout: SandboxLayout) -> None:
    _keygen(layout.ssh / "ssh_host_ed25519_key", "codex-sandbox-host")
    _keygen(layout.identity, "codex-sandbox-user")
    (layout.ssh / "authorized_keys").write_text(layout.identity.with_suffix(".pub").read_text())
    host_key = (layout.ssh / "ssh_host_ed25519_key.pub").read_text().split()
    layout.known_hosts.write_text(f"[127.0.0.1]:{layout.ssh_port} {host_key[0]} {host_key[1]}\n")
    (layout.ssh / "sshd_config").write_text(sshd_config(layout))
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)


def start(layout: SandboxLayout) -> list[str]:
    if running_pid(layout.pid_file("sshd")) is not None:
        return []
    sshd = "/usr/sbin/sshd"  # sshd insists on an absolute path
    start_daemon([sshd, "-f", str(layout.ssh / "sshd_config"), "-E", str(layout.log / "sshd.log")],
                 layout.pid_file("sshd"), layout.log / "sshd.start.log")
    return ["sshd"]


def login_user() -> str:
    return getpass.getuser()
