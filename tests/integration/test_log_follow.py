"""The job log as the console follows it (one `tail -F` stream over SSH): repeated identical lines
and a log rotated underneath arrive once each, in order; the log screen shows exactly them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from codex_console.backends.cluster import Cluster
from codex_console.session import ConsoleSession
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.log import LogScreen

from ..helpers import partition_options, wait_for


async def test_repeated_lines_and_a_rotation_lose_or_double_nothing(sandbox_config, tmp_path):
    cfg = sandbox_config
    cfg.slurm.job_name = "codex-t-logfollow"
    log = tmp_path / "job.log"
    cluster = Cluster(cfg)
    res = await cluster.runner.run(["sbatch", "--parsable", "--job-name=codex-t-logfollow", f"--output={log}",
                                    *partition_options()],
                                   input="#!/bin/sh\necho started\nsleep 300\n")
    job_id = res.stdout.strip()
    session = ConsoleSession(cluster)
    app = CodexApp(session)
    written = ["started"]
    try:
        assert await wait_for(lambda: _has(log, "started"), 30)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("l")
            screen = app.screen
            assert isinstance(screen, LogScreen)
            assert await wait_for(lambda: _shown(screen, written), 15, 0.2)

            def append(lines: list[str]) -> None:
                with log.open("a") as fh:
                    fh.write("".join(line + "\n" for line in lines))
                written.extend(lines)

            append(["same line"] * 5 + ["a", "a", "b"])
            assert await wait_for(lambda: _shown(screen, written), 15, 0.2), (screen.lines, written)
            os.rename(log, tmp_path / "job.log.1")  # logrotate's way: move, then a new file
            append(["after rotation"] * 3)
            await asyncio.sleep(1.5)  # tail -F looks for the new file every second
            append(["last", "last"])
            assert await wait_for(lambda: _shown(screen, written), 20, 0.2), (screen.lines, written)
            await pilot.pause(1.0)
            assert _received(screen) == written  # nothing more came, nothing twice
    finally:
        await cluster.runner.run(["scancel", job_id])


def _received(screen: LogScreen) -> list[str]:
    return [line for line in screen.lines if not line.startswith("tail: ")]  # tail's own notices


async def _shown(screen: LogScreen, written: list[str]) -> bool:
    return _received(screen) == written


async def _has(path: Path, text: str) -> bool:
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return True
        await asyncio.sleep(0.05)
    return False
