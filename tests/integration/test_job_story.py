"""On the real sandbox: a job that cannot start says why in words and what to do (on the job
card, in `serve status` and its JSON, and when sbatch refuses it); finished jobs are listed
with how and why each ended, by `history --json` and the dashboard's history screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from codex_console.backends.cluster import Cluster
from codex_console.models import JobState
from codex_console.session import ConsoleSession
from codex_console.tui.app import CodexApp
from codex_console.tui.screens.history import HistoryScreen
from codex_console.tui.widgets.job_card import card_text

from ..helpers import job_state, service_config, submit, wait_for, write_config


def cli(path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=dict(os.environ))


def test_more_gpus_than_any_node_has_is_refused_in_words(sandbox, tmp_path):
    # The nodes have 2 GPUs each; one partition, so no Neo4j-only fallback elsewhere.
    cfg = service_config(sandbox, tmp_path, "toomanygpus", slurm__gpus=3, slurm__partitions=["titan"])
    try:
        out = cli(write_config(cfg, tmp_path / "config.toml"), "serve", "start")
    finally:
        subprocess.run(["scancel", f"--name={cfg.slurm.job_name}"], check=False)
    assert out.returncode == 1 and "Requested node configuration is not available" in out.stderr, out.stderr
    assert "more GPUs, CPUs or memory than a node has" in out.stderr and "slurm.gpus" in out.stderr


async def test_a_job_that_can_never_start_says_why_and_what_to_do(sandbox, tmp_path, cleanup_jobs):
    # Longer than the partition allows: Slurm takes it and it waits for ever (PartitionTimeLimit).
    cfg = service_config(sandbox, tmp_path, "toolong", slurm__time_limit="8-00:00:00")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)

    async def waiting() -> bool:
        jobs = await cluster.slurm.jobs()
        return bool(jobs) and jobs[0].reason == "PartitionTimeLimit"

    assert await wait_for(waiting, 30), await cluster.slurm.jobs()
    assert await job_state(cluster, job_id) is JobState.PENDING
    card = card_text(await cluster.slurm.jobs(), None, time.time()).plain
    assert "waits: its time limit is longer than the partition allows (PartitionTimeLimit)" in card
    assert "expected start not known yet" in card and "slurm.time_limit" in card

    path = write_config(cfg, tmp_path / "config.toml")
    text = cli(path, "serve", "status")
    assert text.returncode == 2 and "PartitionTimeLimit: its time limit is longer" in text.stdout, text.stdout
    assert "what to do: it will not start as it is" in text.stdout
    waits = json.loads(cli(path, "serve", "status", "--json").stdout)["job"]["waits"]
    assert waits["code"] == "PartitionTimeLimit" and "MaxTime" in waits["action"] and waits["expected_start"] is None


def submit_ended(name: str, script: str, *extra: str) -> str:
    res = subprocess.run(["sbatch", "--parsable", f"--job-name={name}", "--output=/dev/null", *extra],
                         input=f"#!/bin/sh\n{script}\n", capture_output=True, text=True, check=True)
    return res.stdout.strip()


async def test_finished_jobs_are_listed_with_why_each_ended(accounting, tmp_path):
    cfg = service_config(accounting, tmp_path, "history")
    name = cfg.slurm.job_name
    done = submit_ended(name, "true")
    failed = submit_ended(name, "exit 3")
    cancelled = submit_ended(name, "sleep 300")

    def runs(job_id: str) -> bool:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True)
        return out.stdout.strip() == "RUNNING"

    deadline = time.monotonic() + 30
    while not runs(cancelled) and time.monotonic() < deadline:
        time.sleep(0.5)
    subprocess.run(["scancel", cancelled], check=True)
    ids = {done, failed, cancelled}

    path = write_config(cfg, tmp_path / "config.toml")

    def listed() -> dict[str, dict]:
        out = cli(path, "history", "--since", "1h", "--json")
        assert out.returncode == 0, out.stderr
        return {j["job_id"]: j for j in json.loads(out.stdout) if j["job_id"] in ids and j["finished"]}

    deadline = time.monotonic() + 60  # slurmdbd takes each end a moment after the controller
    while len(found := listed()) < 3 and time.monotonic() < deadline:
        time.sleep(1)
    assert (found[done]["state"], found[done]["exit_code"], found[done]["why"]) == (
        "COMPLETED", 0, "completed (exit code 0)")
    assert (found[failed]["state"], found[failed]["exit_code"], found[failed]["why"]) == (
        "FAILED", 3, "failed with exit code 3")
    assert found[cancelled]["state"] == "CANCELLED" and found[cancelled]["why"] == "cancelled by root"
    assert all(found[i]["node"] and found[i]["partition"] and found[i]["start"] and found[i]["elapsed"] for i in ids)

    # The dashboard's history screen (`h`) shows the same runs from the same query.
    cluster = Cluster(cfg)
    app = CodexApp(ConsoleSession(cluster))
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("h")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        table = screen.query_one("#history-table")
        deadline = time.monotonic() + 60
        while table.row_count < 3 and time.monotonic() < deadline:
            await pilot.pause(0.5)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[-1]) for i in range(table.row_count)}
    assert {rows[i] for i in ids} == {"completed (exit code 0)", "failed with exit code 3", "cancelled by root"}
