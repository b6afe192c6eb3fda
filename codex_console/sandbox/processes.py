"""Start-and-forget daemons tracked by pid file, stopped by pid (never by name)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..pids import cmdline, is_alive, wait_for


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# What each daemon's command line contains: a pid file outliving its process (a reboot, a
# killed session) may name a pid reused by something else, which must never count as ours.
PROGRAMS = {"bolt": "redis-server", "gateway": "sshd", "mfa": "sshd", "mariadb": "mariadbd"}


def running_pid(pid_file: Path) -> int | None:
    pid = read_pid(pid_file)
    if pid is None or not is_alive(pid):
        return None
    program = PROGRAMS.get(pid_file.stem, pid_file.stem).encode()
    # Substring: sshd and redis-server rewrite their argv[0] ("sshd: /usr/sbin/sshd -f ...").
    return pid if any(program in arg for arg in cmdline(pid)) else None


def start_daemon(argv: list[str], pid_file: Path, log_file: Path, timeout: float = 20.0) -> int:
    """Run a self-daemonizing program and wait until its pid file names a live process."""
    pid_file.unlink(missing_ok=True)
    with log_file.open("ab") as log:
        subprocess.run(argv, check=True, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    if not wait_for(lambda: running_pid(pid_file) is not None, timeout):
        raise RuntimeError(f"{argv[0]} did not start; see {log_file}")
    pid = running_pid(pid_file)
    assert pid is not None
    return pid
