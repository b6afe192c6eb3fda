"""`codex-console install-watchdog`: a systemd user timer (every 5 min) running the check with
--resubmit, or the equivalent cron line where systemd is not available."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

SERVICE = """[Unit]
Description=codex-console watchdog: check the codex services, resubmit the job when gone

[Service]
Type=oneshot
ExecStart={exe} --check --resubmit --quiet
"""

TIMER = """[Unit]
Description=Run the codex-console watchdog every 5 minutes

[Timer]
OnBootSec=2min
OnUnitActiveSec=5min
Persistent=true

[Install]
WantedBy=timers.target
"""


def executable() -> str:
    found = shutil.which("codex-console")
    return found or f"{sys.executable} -m codex_console.cli"


def cron_line(exe: str | None = None) -> str:
    return f"*/5 * * * * {exe or executable()} --check --resubmit --quiet"


def install(unit_dir: Path | None = None) -> list[Path]:
    unit_dir = unit_dir or Path.home() / ".config" / "systemd" / "user"
    unit_dir.mkdir(parents=True, exist_ok=True)
    exe = " ".join(shlex.quote(p) for p in executable().split())
    service = unit_dir / "codex-console-watchdog.service"
    timer = unit_dir / "codex-console-watchdog.timer"
    service.write_text(SERVICE.format(exe=exe))
    timer.write_text(TIMER)
    return [service, timer]
