"""Measure the console as an operator runs it: in a real terminal (tmux) against the sandbox.

    .venv/bin/python scripts/measure_console.py [--seconds 60]

Prints: time to first full paint (every panel with data), CPU use of the console process while
it idle-polls, and how many SSH connections it opened to the login node in that time (from
sshd's own log).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.sandbox.layout import SandboxLayout
from codex_console.session import ConsoleSession
from codex_console.tui.app import CodexApp

TICKS = os.sysconf("SC_CLK_TCK")


async def first_paint() -> float:
    """Seconds from app start to a dashboard with every source drawn (in-process, headless)."""
    start = time.perf_counter()
    app = CodexApp(ConsoleSession(Cluster(config.load(), stream_gpu=True)))
    async with app.run_test(size=(120, 40)) as pilot:
        while not all(app.readings.get(name) is not None and app.readings[name].value is not None
                      for name in ("jobs", "gpu", "embed", "neo4j")):
            await pilot.pause(0.01)
        return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def console_pid(shell_pid: int) -> int:
    for _ in range(100):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"codex-console" in cmd and int(stat.rsplit(")", 1)[1].split()[1]) == shell_pid:
                    return int(entry)
        time.sleep(0.1)
    raise SystemExit("console process not found")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60)
    args = p.parse_args()
    print(f"first full paint: {asyncio.run(first_paint()):.2f} s (in-process, sources polled once)")
    log = SandboxLayout.from_env().log / "sshd.log"
    accepted_before = log.read_text().count("Accepted publickey")
    exe = Path(sys.executable).with_name("codex-console")
    subprocess.run(["tmux", "kill-session", "-t", "measure"], capture_output=True)
    env = " ".join(f"{k}={os.environ[k]}" for k in ("PYTHONPATH", "CODEX_SANDBOX_DIR") if os.environ.get(k))
    subprocess.run(["tmux", "new-session", "-d", "-s", "measure", "-x", "120", "-y", "40",
                    f"exec env {env} {exe}" if env else f"exec {exe}"], check=True)
    shell = int(subprocess.run(["tmux", "display", "-p", "-t", "measure", "#{pane_pid}"],
                               capture_output=True, text=True).stdout)
    pid = shell if b"codex-console" in Path(f"/proc/{shell}/cmdline").read_bytes() else console_pid(shell)
    time.sleep(10)  # start-up done, every source has polled
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(args.seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    subprocess.run(["tmux", "kill-session", "-t", "measure"], capture_output=True)
    connections = log.read_text().count("Accepted publickey") - accepted_before
    print(f"idle polling for {t1 - t0:.0f} s: {100 * (cpu1 - cpu0) / (t1 - t0):.2f}% of one core")
    print(f"SSH connections opened to the login node: {connections} (over {t1 - t0 + 10:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
