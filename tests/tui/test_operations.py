"""One operations table: for every operation, the dashboard key, the palette entry, the
confirmation and the CLI subcommand run the same commands on the real sandbox."""

from __future__ import annotations

import argparse
import asyncio
import re
import time

import pytest

from codex_console import neo4j_operations
from codex_console.backends.cluster import Cluster
from codex_console.backends.runner import LocalRunner
from codex_console.backends.tunnels import TunnelManager
from codex_console.neo4j_operations import run_neo4j_request
from codex_console.operations import OPERATIONS, Operation, operation
from codex_console.session import ConsoleSession
from codex_console.subcommands import run_operation
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.confirm import ConfirmScreen

from ..helpers import partition_options, service_config, wait_for


class Recorder(LocalRunner):
    """The real local runner (on the sandbox's login node), writing down every action it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    async def run(self, argv, *, input=None, timeout=None):
        import shlex

        self.actions.append(shlex.join(argv) + (" <services.sbatch" if input else ""))
        return await super().run(argv, input=input, timeout=timeout)

    async def poll(self, argv, *, timeout=None):  # readings are not actions
        return await LocalRunner.run(self, argv, timeout=timeout)


class RecordingTunnels(TunnelManager):
    def __init__(self, cfg, actions: list[str]) -> None:
        super().__init__(cfg)
        self.actions = actions

    def spawn(self, argv: list[str]) -> None:
        import shlex

        self.actions.append(shlex.join(argv))
        super().spawn(argv)

    def stop(self) -> bool:
        pid = self.keeper_pid()
        if pid is not None:
            self.actions.append(f"kill -TERM {pid}")
        return super().stop()


def same(commands: list[str]) -> list[str]:
    """Commands with what differs between two runs (job ids, tokens, pids) taken out."""
    out = []
    for c in commands:
        c = re.sub(r"codex-submit:[0-9a-f]+", "codex-submit:TOKEN", c)
        c = re.sub(r"(scancel|requeue|--batch|kill -TERM)((?: \d+)+)", lambda m: m.group(1) + " ID", c)
        out.append(c)
    return out


def needs_job(op: Operation) -> bool:
    return op.group == "serve" and op.name != "start"


async def sleeper(cluster: Cluster, script: str = "#!/bin/sh\nsleep 300\n") -> str:
    res = await cluster.runner.run(["sbatch", "--parsable", f"--job-name={cluster.cfg.slurm.job_name}",
                                    "--output=/dev/null", *partition_options()], input=script)
    job_id = res.stdout.strip()

    async def running() -> bool:
        return any(j.job_id == job_id and j.state.name == "RUNNING" for j in await cluster.slurm.jobs())

    assert await wait_for(running, 30)
    return job_id


async def clean(cluster: Cluster) -> None:
    await LocalRunner().run(["scancel", "--name", cluster.cfg.slurm.job_name], timeout=30)
    await asyncio.to_thread(cluster.tunnels.stop)

    async def none() -> bool:
        return not await cluster.slurm.jobs()

    assert await wait_for(none, 30)


async def prepared(cluster: Cluster, op: Operation, recorder: Recorder) -> None:
    await clean(cluster)
    if needs_job(op):
        await sleeper(cluster)
    if op.group == "tunnel" and op.name == "stop":
        await cluster.tunnels.start(wait=1)
    recorder.actions.clear()


ASKS_THE_JOB = [op for op in OPERATIONS if op.run is run_neo4j_request]  # below: they wait for its report
PLAIN = [op for op in OPERATIONS if op not in ASKS_THE_JOB]


@pytest.mark.parametrize("op", PLAIN, ids=[f"{op.group}-{op.name}" for op in PLAIN])
async def test_key_palette_confirmation_and_cli_run_the_same_commands(sandbox, tmp_path, op):
    cfg = service_config(sandbox, tmp_path, f"ops-{op.name}", services__embed_command="sh -c 'sleep 300'",
                         services__neo4j_command="sleep 300", services__api_key_file="none")
    cfg.poll.slurm = 0.3
    recorder = Recorder()
    cluster = Cluster(cfg, runner=recorder)
    cluster.tunnels = RecordingTunnels(cfg, recorder.actions)
    ran: dict[str, list[str]] = {}
    shown: list[str] = []
    try:
        app = CodexApp(ConsoleSession(cluster))
        async with app.run_test(size=(120, 40)) as pilot:
            for path in ("key", "palette"):
                await prepared(cluster, op, recorder)
                assert await wait_for(lambda: _sees_jobs(app, needs_job(op)), 10, 0.1)
                if path == "key":
                    await pilot.press(op.key)
                else:
                    [command] = [c for c in app.get_system_commands(app.screen) if c.title == op.description]
                    command.callback()
                if op.destructive:
                    assert await wait_for(lambda: _confirming(app), 10, 0.1)
                    shown = list(app.screen.commands)
                    await pilot.pause()
                    await pilot.press("tab", "enter")  # from Cancel (the default) to Confirm
                assert await wait_for(lambda: _settled(recorder, op, cluster), 30, 0.2), (path, recorder.actions)
                ran[path] = list(recorder.actions)
            await prepared(cluster, op, recorder)
            await run_operation(cluster, op, argparse.Namespace(yes=True, json=False, sub_json=False))
            ran["cli"] = list(recorder.actions)
    finally:
        await clean(cluster)
        await cluster.close()
    assert ran["key"], f"{op.name}: the key ran nothing"
    assert same(ran["key"]) == same(ran["palette"]) == same(ran["cli"]), ran
    if op.destructive:
        assert same(shown) == same(ran["key"]), (shown, ran["key"])


async def _sees_jobs(app: CodexApp, wanted: bool) -> bool:
    """The dashboard's own reading shows a running job (or none), and it is fresh."""
    reading = app.readings.get("jobs")
    if reading is None or reading.taken is None or time.monotonic() - reading.taken > 1:
        return False
    running = any(j.state.name == "RUNNING" for j in reading.value or [])
    return running if wanted else not reading.value


async def _confirming(app: CodexApp) -> bool:
    return isinstance(app.screen, ConfirmScreen)


async def _settled(recorder: Recorder, op: Operation, cluster: Cluster) -> bool:
    """The operation's last command ran (its plan ends with the submission or the action)."""
    if not recorder.actions:
        return False
    if op.group == "tunnel" and op.name == "start" and cluster.tunnels.keeper_pid() is None:
        return False  # spawned, not yet running
    last = recorder.actions[-1]
    return {"serve start": "sbatch", "serve resubmit": "sbatch"}.get(f"{op.group} {op.name}", last.split()[0]) in last


async def test_a_neo4j_dump_by_key_and_by_cli_sends_the_job_the_same_request(sandbox, tmp_path, monkeypatch):
    """The job's side is tested on its own (test_neo4j_operations): here a stand-in job that never
    answers, so the console says so after its (shortened) wait."""
    monkeypatch.setattr(neo4j_operations, "REPORT_WAIT", 2.0)
    cfg = service_config(sandbox, tmp_path, "ops-dump", services__api_key_file="none")
    cfg.poll.slurm = 0.3
    recorder = Recorder()
    cluster = Cluster(cfg, runner=recorder)
    op = operation("serve", "neo4j-dump")
    try:
        await clean(cluster)
        job_id = await sleeper(cluster, "#!/bin/sh\ntrap '' USR1\nsleep 300\n")  # a job that never answers
        (tmp_path / "services.env").write_text(f"JOB_ID={job_id}\nNODE=vm\nNEO4J_URI=bolt://vm:7687\n"
                                               "EMBED_URLS=http://vm:1\nSTALE=0\n")
        app = CodexApp(ConsoleSession(cluster))
        async with app.run_test(size=(120, 40)) as pilot:
            assert await wait_for(lambda: _sees_jobs(app, True), 10, 0.1)
            recorder.actions.clear()
            await pilot.press(op.key)
            assert await wait_for(lambda: _confirming(app), 10, 0.1)
            shown = list(app.screen.commands)
            assert "Bolt is down while neo4j-admin dumps system and neo4j" in app.screen.detail
            await pilot.pause()
            await pilot.press("tab", "enter")
            async def sent() -> bool:
                return len(recorder.actions) == 2

            assert await wait_for(sent, 10, 0.1), recorder.actions
            by_key = list(recorder.actions)
        recorder.actions.clear()
        with pytest.raises(neo4j_operations.OperationFailed, match="did not report on the request"):
            await run_operation(cluster, op, argparse.Namespace(yes=True, json=False, sub_json=False, target=""))
    finally:
        await clean(cluster)
        await cluster.close()
    request = re.compile(r"neo4j-dump [0-9a-f]{12}")
    assert [request.sub("neo4j-dump ID", c) for c in same(by_key)] == [
        request.sub("neo4j-dump ID", c) for c in same(recorder.actions)] == [request.sub("neo4j-dump ID", c)
                                                                             for c in same(shown)]
    assert by_key[0].startswith("sh -c ") and f"services.env.job-{job_id}.restart" in by_key[0]
    assert same(by_key)[1] == "scancel --signal=USR1 --batch ID"
