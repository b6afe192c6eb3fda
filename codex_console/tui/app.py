"""The codex-console Textual app: routes readings to the screens and turns keys into operations.

Readings arrive from the session as messages (newest wins) and go to the dashboard; keys,
the palette and the confirmations are made from the operations table. The app never reads
the cluster: it only holds a `ConsoleSession` (see `startup.py`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable

from textual import on
from textual.app import App, SystemCommand
from textual.screen import Screen

from .. import bench_log
from ..bench_log import BenchRun, GraphBenchRun
from ..models import Job
from ..operations import OPERATIONS, NotPossible, Operation, operation
from ..readings import WINDOWS, Reading
from ..session import ConsoleSession
from .keys import LAST, app_bindings
from .messages import ReadingArrived
from .screens.bench import BenchScreen
from .screens.confirm import ConfirmScreen
from .screens.dashboard import DashboardScreen
from .screens.graph_bench import GraphBenchScreen
from .screens.help import HelpScreen
from .screens.history import HistoryScreen
from .screens.log import LogScreen
from .widgets.panel import SourcePanel

GATED = {"operation", "bench", "graph_bench"}  # disabled in read-only mode


class CodexApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "codex-console"
    BINDINGS = app_bindings()

    def __init__(self, session: ConsoleSession | None, *, readonly: bool = False, local: bool = False,
                 where: str = "", window: str = "5m", clock: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.session = session
        self.readonly = readonly
        self.local = local
        self.window = window
        self.clock = clock
        self.wallclock = wallclock
        self.readings: dict[str, Reading] = {}
        self.bench_runs: list[BenchRun] | None = None  # read from the benchmark log when first shown
        self.graph_runs: list[GraphBenchRun] | None = None  # the same, for Neo4j's queries
        self.sub_title = where

    def get_default_screen(self) -> Screen:
        return DashboardScreen(local=self.local, note="read-only" if self.readonly else "")

    def on_mount(self) -> None:
        if self.session is not None:
            self.session.subscribe(self.deliver)
            self.session.start()

    async def on_unmount(self) -> None:
        if self.session is not None:
            await self.session.close()

    # -- readings -------------------------------------------------------------------------------
    def deliver(self, source: str, reading: Reading) -> None:
        """A source has a new reading (called on the event loop by the session)."""
        self.post_message(ReadingArrived(source, reading))

    @on(ReadingArrived)
    def _route(self, message: ReadingArrived) -> None:
        self.readings[message.source] = message.reading
        for screen in self.screen_stack:
            if isinstance(screen, (DashboardScreen, HistoryScreen)):
                screen.post_message(ReadingArrived(message.source, message.reading))

    def _jobs(self) -> list[Job]:
        reading = self.readings.get("jobs")
        return list(reading.value or []) if reading is not None else []

    # -- read-only mode and the palette ----------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.readonly and action in GATED)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for op in OPERATIONS:
            if not self.readonly and op.key:
                yield SystemCommand(op.description, f"key {op.key} · {op.group} {op.name}",
                                    lambda op=op: self.action_operation(op.group, op.name))
        for key in LAST:
            if key.action not in ("command_palette",) and not (self.readonly and key.action in GATED):
                yield SystemCommand(key.description, f"key {key.display or key.key}",
                                    getattr(self, f"action_{key.action}"))

    # -- operations ------------------------------------------------------------------------------
    def action_operation(self, group: str, name: str) -> None:
        self.run_worker(self._operate(operation(group, name)), group="operations", exit_on_error=False)

    async def _operate(self, op: Operation) -> None:
        if self.session is None:
            self.notify("no connection to the cluster", severity="error")
            return
        try:
            plan = await self.session.plan(op, self._jobs())
        except NotPossible as exc:
            self.notify(f"{op.label}: {exc}", severity="warning")
            return
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none crashes the UI
            self.notify(f"{op.label}: {exc}", severity="error", timeout=8)
            return
        if op.destructive and not await self._confirmed(op, plan.summary, plan.commands):
            self.notify("nothing done", timeout=2)
            return
        self.notify(f"{op.label}…", timeout=2)
        try:
            outcome = await self.session.perform(op, plan)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"{op.label} failed: {exc}", severity="error", timeout=10)
            return
        self.notify(outcome.message, timeout=6)

    async def _confirmed(self, op: Operation, summary: str, commands: list[str]) -> bool:
        decided: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.push_screen(ConfirmScreen(f"{op.description}?", commands, summary),
                         lambda ok: decided.done() or decided.set_result(bool(ok)))
        return await decided

    # -- screens -----------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        if self.session is not None:
            self.session.refresh()
        self.notify("polling every source now", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.readonly))

    def action_log(self) -> None:
        if self.session is not None:
            self.push_screen(LogScreen(self.session.follow_log))

    def action_history(self) -> None:
        self.push_screen(HistoryScreen(self.readings.get("accounting")))

    def action_bench(self) -> None:
        if self.bench_runs is None:
            self.bench_runs = bench_log.load()
        if self.session is not None or self.bench_runs:
            run = self.session.benchmark if self.session is not None else _offline
            self.push_screen(BenchScreen(run, self.bench_runs, self.readonly))

    def action_graph_bench(self) -> None:
        if self.graph_runs is None:
            self.graph_runs = bench_log.load_graph()
        if self.session is not None or self.graph_runs:
            run = self.session.graph_benchmark if self.session is not None else _offline
            queries = len(self.session.config.neo4j.bench_queries) if self.session is not None else 3
            self.push_screen(GraphBenchScreen(run, self.graph_runs, queries, self.readonly))

    def action_window(self) -> None:
        names = list(WINDOWS)
        self.window = names[(names.index(self.window) + 1) % len(names)] if self.window in names else names[0]
        self.notify(f"charts: last {self.window}", timeout=2)
        for screen in self.screen_stack:
            for panel in screen.query(SourcePanel):
                panel.redraw()


async def _offline(*args: object) -> BenchRun:
    raise RuntimeError("no connection to the cluster")
