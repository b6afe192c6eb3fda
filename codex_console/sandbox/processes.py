"""Start-and-forget daemons tracked by pid file, stopped by pid (never by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# What each daemon's command line contains: a pid file outliving its process (a reboot, a
# killed session) may name a pid reused by something else, which must never count as ours.
PROGRAMS = {"bolt": "redis-server"}


def running_pid(pid_file: Path) -> int | None:
    pid = read_pid(pid_file)
    if pid is None or not is_alive(pid):
        return None
    program = PROGRAMS.get(pid_file.stem, pid_file.stem)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if program.encode() in cmdline else None


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


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


def stop_pid(pid: int, timeout: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`. True when the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    if wait_for(lambda: not is_alive(pid), timeout):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    return wait_for(lambda: not is_alive(pid), 5.0)
