"""Three sshds on 127.0.0.1: the login node (key only), a gateway in front of it for ProxyJump
tests, and a login that asks keyboard-interactive questions through PAM (a password; the
field's one-time codes come the same way). Each has its own host key in one known_hosts."""

from __future__ import annotations

import getpass
import secrets
import subprocess
from pathlib import Path

from .layout import SandboxLayout
from .processes import running_pid, start_daemon

MFA_USER = "codex-mfa"
COMMON = """ListenAddress 127.0.0.1
HostKey {ssh}/ssh_host_ed25519_key
AllowTcpForwarding yes
StrictModes no
MaxSessions 64
MaxStartups 64:30:128
ClientAliveInterval 15
Subsystem sftp internal-sftp
"""


def sshd_config(layout: SandboxLayout, name: str, port: int = 0, pid_file: Path | None = None) -> str:
    """One sshd's config; a port and pid file of its own make a copy that a test may kill."""
    port = port or {"sshd": layout.ssh_port, "gateway": layout.gateway_port, "mfa": layout.mfa_port}[name]
    head = f"Port {port}\nPidFile {pid_file or layout.pid_file(name)}\n" + COMMON.format(ssh=layout.ssh)
    if name == "mfa":
        return head + f"""UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
AllowUsers {MFA_USER}
"""
    return head + f"""AuthorizedKeysFile {layout.ssh}/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
"""


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True)


def _mfa_user(layout: SandboxLayout) -> None:
    """A local user whose login asks for a password (keyboard-interactive through PAM)."""
    if subprocess.run(["id", MFA_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", MFA_USER], check=True)
    if not layout.mfa_password.exists():
        layout.mfa_password.write_text(secrets.token_urlsafe(12))
        layout.mfa_password.chmod(0o600)
    subprocess.run(["chpasswd"], input=f"{MFA_USER}:{layout.mfa_password.read_text().strip()}\n", text=True,
                   check=True)


def write_files(layout: SandboxLayout) -> None:
    _keygen(layout.ssh / "ssh_host_ed25519_key", "codex-sandbox-host")
    _keygen(layout.identity, "codex-sandbox-user")
    (layout.ssh / "authorized_keys").write_text(layout.identity.with_suffix(".pub").read_text())
    key_type, key = (layout.ssh / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    layout.known_hosts.write_text("".join(f"[127.0.0.1]:{port} {key_type} {key}\n" for port in
                                          (layout.ssh_port, layout.gateway_port, layout.mfa_port)))
    for name in ("sshd", "gateway", "mfa"):
        (layout.ssh / f"{name}_config").write_text(sshd_config(layout, name))
    _mfa_user(layout)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)


def start(layout: SandboxLayout) -> list[str]:
    started = []
    for name in ("sshd", "gateway", "mfa"):
        if running_pid(layout.pid_file(name)) is None:
            start_one(layout, name)
            started.append(name)
    return started


def start_one(layout: SandboxLayout, name: str) -> None:
    sshd = "/usr/sbin/sshd"  # sshd insists on an absolute path
    start_daemon([sshd, "-f", str(layout.ssh / f"{name}_config"), "-E", str(layout.log / f"{name}.log")],
                 layout.pid_file(name), layout.log / f"{name}.start.log")


def login_user() -> str:
    return getpass.getuser()
