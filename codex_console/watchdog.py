"""`codex-console install-watchdog`: a systemd user timer (every 5 min) that runs the check with
--resubmit, or the equivalent cron line where systemd user timers cannot run.

What keeps it from wedging or stopping: the unit has a start timeout (a hung check is killed,
the next run starts on time); the timer uses OnCalendar= with Persistent=true, so a run missed
while the machine slept happens at wake-up; user timers stop at logout unless lingering is on,
which is checked and explained. The check reads the API key file itself: units get no login
environment and need none.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

SERVICE = """[Unit]
Description=codex-console watchdog: check the codex services, resubmit the job when gone

[Service]
Type=oneshot
ExecStart={exe} --check --resubmit --quiet --timeout 60
TimeoutStartSec=120
"""

TIMER = """[Unit]
Description=Run the codex-console watchdog every 5 minutes

[Timer]
OnCalendar=*:0/5
Persistent=true
RandomizedDelaySec=20

[Install]
WantedBy=timers.target
"""


def executable() -> str:
    found = shutil.which("codex-console")
    return found or f"{sys.executable} -m codex_console.cli"


def cron_line(exe: str | None = None) -> str:
    return f"*/5 * * * * {exe or executable()} --check --resubmit --quiet --timeout 60"


def install(unit_dir: Path | None = None) -> list[Path]:
    unit_dir = unit_dir or Path.home() / ".config" / "systemd" / "user"
    unit_dir.mkdir(parents=True, exist_ok=True)
    exe = " ".join(shlex.quote(p) for p in executable().split())
    service = unit_dir / "codex-console-watchdog.service"
    timer = unit_dir / "codex-console-watchdog.timer"
    service.write_text(SERVICE.format(exe=exe))
    timer.write_text(TIMER)
    return [service, timer]


def lingering() -> bool | None:
    """Whether this user's systemd instance outlives logout; None when it cannot be told."""
    if shutil.which("loginctl") is None:
        return None
    try:
        out = subprocess.run(["loginctl", "show-user", "--property=Linger", "--value"],
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = out.stdout.strip()
    return None if out.returncode or value not in ("yes", "no") else value == "yes"


def install_command(print_only: bool, cron_only: bool) -> int:
    if cron_only:
        print(cron_line())
        return 0
    if print_only:
        print(SERVICE.format(exe=executable()))
        print(TIMER)
    else:
        for path in install():
            print(f"wrote {path}")
        print("enable it with:  systemctl --user daemon-reload && "
              "systemctl --user enable --now codex-console-watchdog.timer")
    linger = lingering()
    if linger is False:
        print("\nwarning: lingering is off for this user, so the timer stops when you log out.\n"
              "  turn it on with `loginctl enable-linger` (many login nodes forbid it), or use cron "
              "instead (`crontab -e`):")
    elif linger is None:
        print("\nnote: could not tell whether lingering is on (`loginctl show-user`); without it the "
              "timer stops at logout. cron does not have that problem:")
    else:
        print("\nwithout systemd, add this line with `crontab -e`:")
    print(cron_line())
    return 0
