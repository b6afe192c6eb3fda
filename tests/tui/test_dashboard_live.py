"""The dashboard driven by Pilot against the real sandbox: it shows, it acts, it never freezes."""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Sequence

import httpx

from codex_console.backends.cluster import Cluster
from codex_console.models import CommandResult, JobState
from codex_console.session import ConsoleSession
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.confirm import ConfirmScreen
from codex_console.tui.screens.help import HelpScreen
from codex_console.tui.widgets.jobs import JobsTable

from ..helpers import free_port, service_config, submit, wait_endpoints


async def until(pilot, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s")
        await pilot.pause(0.2)


def jobs_in_table(app: CodexApp) -> dict[str, str]:
    table = app.screen.query_one(JobsTable)
    return {str(table.get_cell(k, "id")): str(table.get_cell(k, "state")) for k in table.rows}


def text_of(app: CodexApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def test_dashboard_shows_and_acts_on_the_real_job(sandbox, tmp_path):
    cfg = service_config(sandbox, tmp_path, "tui", slurm__gpus=1)
    for name in ("slurm", "gpu", "embed", "neo4j", "tunnels"):
        setattr(cfg.poll, name, 1.0)
    cfg.tunnels.embed_local_port = free_port()
    cfg.tunnels.bolt_local_port = free_port()
    cluster = Cluster(cfg, stream_gpu=True)
    job_id = await submit(cluster)
    await wait_endpoints(cfg, job_id)
    app = CodexApp(ConsoleSession(cluster))
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await until(pilot, lambda: jobs_in_table(app).get(job_id) == "RUNNING")
            await until(pilot, lambda: "HEALTHY" in text_of(app, "#neo4j-panel .service-text"))
            port = f":{cfg.services.embed_port}"  # the job's one replica has its row
            await until(pilot, lambda: "READY 1/1" in text_of(app, "#embed-summary")
                        and f"{port} READY" in text_of(app, "#embed-replicas")
                        and " ms" in text_of(app, "#embed-replicas"))
            await until(pilot, lambda: "(sandbox)" in text_of(app, "#gpu-table"), 20)

            # c opens the confirmation with the exact command, Cancel focused; Escape does nothing.
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            assert f"scancel --name={cfg.slurm.job_name} --user=" in text_of(app, "#command")
            assert app.focused.id == "cancel"
            await pilot.press("escape")
            await pilot.pause(1.5)
            assert not isinstance(app.screen, ConfirmScreen)
            assert (await cluster.slurm.job(job_id)).state is JobState.RUNNING

            # t opens tunnels (a keeper outside the console) that carry a real request; T closes.
            await pilot.press("t")
            await until(pilot, lambda: any(t.up for t in (app.readings["tunnels"].value or [])), 30)
            key = open(cfg.services.api_key_file).read()
            r = httpx.post(f"http://127.0.0.1:{cfg.tunnels.embed_local_port}/embed", json={"texts": ["tui"]},
                           headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200
            await pilot.press("T")
            await until(pilot, lambda: not any(t.up for t in (app.readings["tunnels"].value or [])), 15)

            # r requeues (after confirming).
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            assert f"scontrol requeue {job_id}" in text_of(app, "#command")
            await pilot.click("#confirm")
            await until(pilot, lambda: jobs_in_table(app).get(job_id) in ("PENDING", "COMPLETING"), 30)
            assert (await cluster.slurm.job(job_id)).restarts == 1
            await until(pilot, lambda: "requeues 1 " in text_of(app, "#job-card-text"), 30)  # Slurm's count, named so

            # c + confirm cancels the real job; s submits a new one.
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.click("#confirm")
            await until(pilot, lambda: job_id not in jobs_in_table(app), 30)
            await pilot.press("s")
            await until(pilot, lambda: any(k != job_id for k in jobs_in_table(app)), 30)
    finally:
        subprocess.run(["scancel", "--name", cfg.slurm.job_name], check=False)
        cluster.tunnels.stop()


class HangingRunner:
    """A login node that never answers anything."""

    connections_opened = 0

    async def run(self, argv: Sequence[str], *, input=None, timeout=None) -> CommandResult:
        await asyncio.Event().wait()
        raise AssertionError

    async def poll(self, argv: Sequence[str], *, timeout=None) -> CommandResult:
        await asyncio.Event().wait()
        raise AssertionError

    async def stream(self, argv: Sequence[str]):
        await asyncio.Event().wait()
        yield ""

    async def forward(self, host: str, port: int):
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


async def test_keys_are_handled_while_every_backend_hangs(sandbox_config):
    sandbox_config.poll.slurm = 0.2
    app = CodexApp(ConsoleSession(Cluster(sandbox_config, runner=HangingRunner())))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)  # every source is now stuck in a call that never returns
        for key, screen in (("question_mark", HelpScreen), ("escape", None), ("question_mark", HelpScreen)):
            start = time.perf_counter()
            await pilot.press(key)
            while not (isinstance(app.screen, screen) if screen else not isinstance(app.screen, HelpScreen)):
                await asyncio.sleep(0.005)
                assert time.perf_counter() - start < 0.2, f"{key} not handled within 200 ms"
        await pilot.press("escape")
        await pilot.press("c")  # no job known: says so instead of blocking
        await pilot.pause(0.2)
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
