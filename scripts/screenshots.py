"""Save SVG screenshots of the real app against the sandbox into screenshots/.

    .venv/bin/python scripts/screenshots.py

Needs the sandbox up (`codex-console sandbox up`); submits the services job if none runs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.bench import BenchScreen
from codex_console.tui.screens.confirm import ConfirmScreen
from codex_console.tui.screens.log import LogScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (110, 32)


async def until(pilot, predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("screenshots: the app did not get there in time")
        await pilot.pause(0.25)


async def main() -> int:
    cfg = config.load()
    for name in ("slurm", "gpu", "embed", "graph"):
        setattr(cfg.poll, name, 1.0)
    cluster = Cluster(cfg)
    if not await cluster.slurm.jobs():
        print(f"screenshots: submitted job {(await cluster.submit()).job_id}")
    app = CodexApp(cluster)
    OUT.mkdir(exist_ok=True)
    async with app.run_test(size=SIZE) as pilot:
        c = app.cluster
        await until(pilot, lambda: c.embed_health.reading.value is not None
                    and c.graph_health.reading.value is not None and c.gpus.reading.value is not None
                    and len(c.embed_health.reading.history) >= 8)
        app.save_screenshot(str(OUT / "dashboard.svg"))
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "confirm-cancel.svg"))
        await pilot.press("escape")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BenchScreen) and len(app.bench_results) == 6, 300)
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "benchmark.svg"))
        await pilot.press("escape")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen) and app.screen._seen)
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "job-log.svg"))
    for path in sorted(OUT.glob("*.svg")):
        print(f"screenshots: wrote {path.relative_to(OUT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
