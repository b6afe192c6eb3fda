"""Save SVG screenshots of the real app against the sandbox into screenshots/.

    .venv/bin/python scripts/screenshots.py

Needs the sandbox up (`codex-console sandbox up`). Submits the services job if none runs (with
one more model server in its catalogue), dumps Neo4j once, runs the check a few times (the
availability panel's history), opens the tunnels, restarts the embed replica once (the events
pane has something to say), and draws the dashboard at 80x24, 120x40 and 200x60, then the
confirmation, the benchmark and the job log at 120x40.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.catalogue import ServiceTable
from codex_console.operations import operation, perform
from codex_console.session import ConsoleSession
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.bench import BenchScreen
from codex_console.tui.screens.confirm import ConfirmScreen
from codex_console.tui.screens.log import LogScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZES = ((80, 24), (120, 40), (200, 60))


async def until(pilot, predicate, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("screenshots: the app did not get there in time")
        await pilot.pause(0.25)


def with_a_model_server(cfg: config.Config) -> config.Config:
    """One more service in the catalogue, as the group's other GPUs will have: a small HTTP
    server stands in for an LLM (the sandbox has no GPU for one)."""
    cfg.catalogue.append(ServiceTable(
        name="llm", kind="http", port=18800, gpus=0, health="/", local_port=28800,
        command=f"{sys.executable} -m http.server {{port}} --bind {{host}} --directory /tmp"))
    return cfg


async def prepare(cfg: config.Config) -> None:
    cluster = Cluster(cfg)
    try:
        if not await cluster.slurm.jobs():
            op = operation("serve", "start")
            print("screenshots:", (await perform(cluster, op, await op.plan(cluster, []))).message)
        while not (await cluster.endpoints_reader.read()).neo4j_uri:
            await asyncio.sleep(1)
        dump = operation("serve", "neo4j-dump")  # the Neo4j panel's "last dump"
        plan = await dump.plan(cluster, await cluster.slurm.jobs())
        print("screenshots:", (await perform(cluster, dump, plan)).message)
        for _ in range(3):  # history for the availability panel
            subprocess.run([sys.executable, "-m", "codex_console.cli", "--check", "--quiet"], check=False)
        await cluster.tunnels.start()
    finally:
        await cluster.close()


async def shoot(cfg: config.Config, history: int) -> None:
    """One app for every picture, so the charts show minutes of readings at every size."""
    app = CodexApp(ConsoleSession(Cluster(cfg, stream_gpu=True)), where=f"{cfg.login.host}")
    async with app.run_test(size=(120, 40)) as pilot:
        def latency_points() -> int:  # the probes of the first replica
            history = app.readings["embed"].history
            return max((len(history["latency_ms", url]) for url in history.subjects("latency_ms")), default=0)

        await until(pilot, lambda: all(app.readings.get(n) is not None and app.readings[n].value is not None
                                       for n in ("jobs", "gpu", "embed", "neo4j", "health", "tunnels"))
                    and latency_points() >= history // 2, 2 * history)
        # An in-place restart of the replica: the events pane has something to say.
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.5)
        app.save_screenshot(str(OUT / "confirm-restart.svg"))
        await pilot.press("tab", "enter")
        await until(pilot, lambda: latency_points() >= history, 3 * history)
        for width, height in SIZES:
            await pilot.resize_terminal(width, height)
            await pilot.pause(2)
            app.save_screenshot(str(OUT / f"dashboard-{width}x{height}.svg"))
        await pilot.resize_terminal(120, 40)
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BenchScreen) and app.bench_runs
                    and time.time() - app.bench_runs[-1].at < 600, 600)
        await pilot.pause(1)
        app.save_screenshot(str(OUT / "benchmark.svg"))
        await pilot.press("escape", "l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen) and len(app.screen.lines) > 10)
        await pilot.pause(1)
        app.save_screenshot(str(OUT / "job-log.svg"))


async def main() -> int:
    cfg = with_a_model_server(config.load())
    for name in ("slurm", "gpu", "embed", "neo4j"):
        setattr(cfg.poll, name, 1.0)
    OUT.mkdir(exist_ok=True)
    await prepare(cfg)
    await shoot(cfg, history=150)  # readings each second: two and a half minutes on the charts
    for path in sorted(OUT.glob("*.svg")):
        print(f"screenshots: wrote {path.relative_to(OUT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
