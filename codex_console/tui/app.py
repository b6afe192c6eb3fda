"""The codex-console Textual app: starts the pollers, routes readings to the dashboard, and
turns key presses into backend actions (destructive ones confirmed first)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from ..backends.cluster import Cluster, service_job
from ..config import Config
from ..models import BenchPoint, Reading
from .screens.bench import BenchScreen
from .screens.confirm import ConfirmScreen
from .screens.dashboard import DashboardScreen
from .screens.help import HelpScreen
from .screens.log import LogScreen

# (key, action, footer label, description): the footer, the help screen and the command
# palette are all made from this one list.
KEYS: list[tuple[str, str, str, str]] = [
    ("s", "submit", "Submit", "Submit the services job"),
    ("c", "cancel_job", "Cancel", "Cancel the job (scancel)"),
    ("r", "requeue", "Requeue", "Requeue the job (scontrol requeue)"),
    ("R", "restart", "Restart", "Restart services (cancel + submit)"),
    ("t", "tunnels", "Tunnels", "Open / close tunnels"),
    ("b", "bench", "Bench", "Benchmark the embed server"),
    ("l", "log", "Log", "Job log (follows)"),
    ("ctrl+r", "refresh", "Refresh", "Refresh now"),
    ("question_mark", "help", "Help", "Help"),
    ("q", "quit", "Quit", "Quit"),
]
ACTIONS = {"submit", "cancel_job", "requeue", "restart", "tunnels", "bench"}


class CodexApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "codex-console"
    BINDINGS = [Binding(key, action, label, key_display="?" if key == "question_mark" else None)
                for key, action, label, _ in KEYS]

    @dataclass
    class SourceUpdated(Message):
        name: str

    def __init__(self, cluster: Cluster, *, readonly: bool = False, poll: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.cluster = cluster
        self.readonly = readonly
        self.poll = poll
        self.clock = clock
        self.wallclock = wallclock
        self.bench_results: list[BenchPoint] = []
        login = cluster.cfg.login
        self.sub_title = "local" if login.local else f"{login.user + '@' if login.user else ''}{login.host}"

    def get_default_screen(self) -> Screen:
        return DashboardScreen()

    def on_mount(self) -> None:
        for source in self.cluster.sources:
            source.listeners.append(self._reading_arrived)
            if self.poll:
                self.run_worker(source.run(), name=f"poll-{source.name}", group=f"poll-{source.name}",
                                exclusive=True, exit_on_error=False)
        self.set_interval(1.0, self._tick)

    async def on_unmount(self) -> None:
        await self.cluster.close()

    def _reading_arrived(self, name: str, reading: Reading) -> None:
        self.post_message(self.SourceUpdated(name))

    @on(SourceUpdated)
    def _show(self, message: SourceUpdated) -> None:
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.show_source(message.name)

    def _tick(self) -> None:
        dashboard = self._dashboard()
        if dashboard is not None:
            dashboard.show_status()

    def _dashboard(self) -> DashboardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen) and screen.composed:
                return screen
        return None

    # -- read-only mode and the command palette ----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.readonly and action in ACTIONS:
            return False
        return True

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key, action, _, description in KEYS:
            if action in ("quit", "help") or (self.readonly and action in ACTIONS):
                continue
            yield SystemCommand(description, f"key: {key}", getattr(self, f"action_{action}"))

    # -- actions ----------------------------------------------------------------------------
    def _job(self):
        return service_job(self.cluster.jobs.reading.value)

    def action_refresh(self) -> None:
        self.cluster.refresh()
        self.notify("refreshing all sources", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen([(k, a, d) for k, a, _, d in KEYS], self.readonly))

    def action_log(self) -> None:
        self.push_screen(LogScreen())

    def action_bench(self) -> None:
        self.push_screen(BenchScreen())

    def action_submit(self) -> None:
        job = self._job()
        if job is not None:
            self.notify(f"job {job.job_id} is already {job.state.name.lower()}; "
                        "a second one would only wait (singleton)", severity="warning")
            return
        self._run_action("submit", self.cluster.submit, "submitted")

    def action_cancel_job(self) -> None:
        self._confirm_then("Cancel the services job?", "cancel")

    def action_requeue(self) -> None:
        self._confirm_then("Requeue the services job?", "requeue")

    def action_restart(self) -> None:
        self._confirm_then("Restart the services (cancel, then submit again)?", "restart")

    def action_tunnels(self) -> None:
        tunnels = self.cluster.tunnel_status.reading.value or []
        if any(t.pid for t in tunnels):
            self._run_action("close tunnels", self.cluster.close_tunnels, "tunnels closed")
        else:
            self._run_action("open tunnels", self.cluster.open_tunnels, "tunnels open")

    def _confirm_then(self, title: str, what: str) -> None:
        job = self._job()
        if job is None:
            self.notify("no service job", severity="warning")
            return
        slurm = self.cluster.slurm
        commands = {"cancel": [slurm.cancel_argv(job.job_id)],
                    "requeue": [slurm.requeue_argv(job.job_id)],
                    "restart": [slurm.cancel_argv(job.job_id), ["sbatch", "--parsable", "<services.sbatch"]]}[what]
        detail = f"job {job.job_id} ({job.state.name.lower()}{' on ' + job.node if job.node else ''})"

        def decided(ok: bool | None) -> None:
            if not ok:
                self.notify("nothing done", timeout=2)
                return
            if what == "cancel":
                self._run_action("cancel", lambda: self.cluster.cancel(job.job_id), f"cancelled {job.job_id}")
            elif what == "requeue":
                self._run_action("requeue", lambda: self.cluster.requeue(job.job_id), f"requeued {job.job_id}")
            else:
                async def restart():
                    await self.cluster.cancel(job.job_id)
                    return await self.cluster.submit()
                self._run_action("restart", restart, "restarted")

        self.push_screen(ConfirmScreen(title, [" ".join(c) for c in commands], detail), decided)

    @work(group="actions", exit_on_error=False)
    async def _run_action(self, name: str, call, done: str) -> None:
        self.notify(f"{name}…", timeout=2)
        try:
            result = await call()
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none crashes the UI
            self.notify(f"{name} failed: {exc}", severity="error", timeout=8)
            return
        detail = ""
        if getattr(result, "job_id", None):
            detail = f": job {result.job_id} on {result.partition}" + (f" ({result.note})" if result.note else "")
        self.notify(done + detail, timeout=5)
        self.cluster.refresh()


def run_app(cfg: Config, readonly: bool = False) -> int:
    app = CodexApp(Cluster(cfg), readonly=readonly)
    app.run()
    return app.return_code or 0
