"""The real services job on the sandbox Slurm: deploy, discovery, singleton, requeue, restarts."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from codex_console import deploy
from codex_console.backends.cluster import Cluster
from codex_console.backends.neo4j import Neo4jProbe
from codex_console.backends.runner import LocalRunner
from codex_console.models import JobState

from ..helpers import (
    embed_calls,
    embed_pids,
    job_state,
    read_endpoints,
    service_config,
    start_now,
    submit,
    wait_endpoints,
    wait_for,
    write_config,
)


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_services_job_lifecycle(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "lifecycle", slurm__gpus=1)
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    ep = await wait_endpoints(cfg, job_id)
    assert await job_state(cluster, job_id) is JobState.RUNNING
    assert stat.S_IMODE(os.stat(cfg.services.endpoints_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cfg.services.api_key_file).st_mode) == 0o600
    assert ready(ep.embed_url)
    key = Path(cfg.services.api_key_file).read_text()
    assert httpx.post(ep.embed_url + "/embed", json={"texts": ["x"]}).status_code == 401
    assert httpx.post(ep.embed_url + "/embed", json={"texts": ["x"]},
                      headers={"Authorization": f"Bearer {key}"}).status_code == 200
    probe = Neo4jProbe(LocalRunner())
    assert (await probe.probe(ep.neo4j_uri)).ready
    await probe.close()
    # The replica is pinned to the GPU Slurm gave the job, not to a guess.
    [pid] = embed_pids(cfg.services.embed_port)
    env = dict(e.split("=", 1) for e in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in e)
    assert env["CUDA_VISIBLE_DEVICES"] in ("0", "1")

    # Singleton: a second job of the name (bypassing the console's guard) waits.
    script = deploy.render(cfg, home=str(Path.home()), api_key_file=cfg.services.api_key_file)
    second = (await cluster.runner.run(["sbatch", "--parsable"], input=script)).stdout.strip()
    assert await wait_for(lambda: _reason(cluster, second, "Dependency"), 15)
    await cluster.runner.run(["scancel", second])

    # Requeue: back with a fresh endpoints file.
    await cluster.runner.run(cluster.slurm.requeue_argv(job_id))
    assert await wait_for(lambda: _state_is(cluster, job_id, JobState.PENDING), 30)
    await start_now(cluster, job_id)
    fresh = await wait_endpoints(cfg, job_id, started=ep.started)
    assert ready(fresh.embed_url)
    assert "RESTART_COUNT=1" in Path(cfg.services.endpoints_file).read_text()

    # Cancel marks the file stale, with the reason.
    await cluster.runner.run(cluster.slurm.cancel_argv([job_id]))
    assert await wait_for(_stale(cfg), 30)
    assert "ending" in read_endpoints(cfg).reason


async def _reason(cluster: Cluster, job_id: str, reason: str) -> bool:
    jobs = {j.job_id: j for j in await cluster.slurm.jobs()}
    return job_id in jobs and jobs[job_id].state is JobState.PENDING and jobs[job_id].reason == reason


async def _state_is(cluster: Cluster, job_id: str, state: JobState) -> bool:
    return await job_state(cluster, job_id) is state


def _stale(cfg):
    async def check() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and ep.stale)
    return check


async def test_a_killed_embed_server_is_restarted_in_the_same_job(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "killed")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    ep = await wait_endpoints(cfg, job_id)
    [pid] = embed_pids(cfg.services.embed_port)
    os.kill(pid, signal.SIGKILL)

    async def back() -> bool:
        pids = embed_pids(cfg.services.embed_port)
        return bool(pids) and pids != [pid] and ready(ep.embed_url)

    assert await wait_for(back, 60), "embed did not come back within 60 s"
    assert await job_state(cluster, job_id) is JobState.RUNNING

    async def logged() -> bool:  # the supervisor notices readiness on its next 1 s tick
        log = (await cluster.runner.poll(await cluster.log_argv(200, follow=False))).stdout
        return "embed0 exited (137)" in log and "embed0 is back" in log

    assert await wait_for(logged, 10)


async def test_watchdog_resubmits_only_when_no_job_of_any_unfinished_state_exists(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "watchdog", services__embed_command="sh -c 'sleep 300'",
                         services__neo4j_command="sleep 300")
    path = write_config(cfg, tmp_path / "config.toml")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    sleeper = f"#!/bin/sh\n#SBATCH --job-name={cfg.slurm.job_name}\n#SBATCH --output=/dev/null\nsleep 300\n"

    def watchdog() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "codex_console.cli", "--config", str(path), "--check",
                                 "--resubmit", "--json"], stdout=subprocess.PIPE, text=True)

    held = (await cluster.runner.run(["sbatch", "--parsable", "--hold"], input=sleeper)).stdout.strip()  # PD
    assert await wait_for(lambda: _state_is(cluster, held, JobState.PENDING), 10)
    assert '"resubmitted": null' in watchdog().communicate(timeout=60)[0]
    await cluster.runner.run(["scontrol", "requeuehold", held])  # not finished either, whatever squeue shows
    assert '"resubmitted": null' in watchdog().communicate(timeout=60)[0]
    await cluster.runner.run(["scancel", held])
    assert await wait_for(lambda: _none(cluster), 30)

    # Two watchdogs at the same moment (a cron line and a laptop): one submission.
    runs = [watchdog(), watchdog()]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    jobs = await cluster.slurm.jobs()
    assert len(jobs) == 1, (jobs, outputs)
    assert sum('"resubmitted": null' not in out for out in outputs) == 1


async def _none(cluster: Cluster) -> bool:
    return not await cluster.slurm.jobs()


async def test_requests_keep_succeeding_during_a_rolling_restart_in_place(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "rolling", slurm__gpus=2, services__api_key_file="none")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    await wait_endpoints(cfg, job_id)  # published as soon as one replica is ready

    async def both_ready() -> bool:
        return len(read_endpoints(cfg).embed_urls) == 2

    assert await wait_for(both_ready, 90), read_endpoints(cfg)
    ep = read_endpoints(cfg)
    before = {pid for port in (cfg.services.embed_port, cfg.services.embed_port + 1) for pid in embed_pids(port)}
    from codex_console.operations import operation, perform

    def url(n: int) -> str:  # a tool that reads the endpoints file before each call
        urls = read_endpoints(cfg).embed_urls
        return urls[n % len(urls)] if urls else ep.embed_url

    async with embed_calls(url, "rolling") as calls:
        op = operation("serve", "restart")
        plan = await op.plan(cluster, await cluster.slurm.jobs())
        assert plan.commands == [f"scancel --signal=USR1 --batch {job_id}"]
        await perform(cluster, op, plan)

        async def restarted() -> bool:
            now = {pid for port in (cfg.services.embed_port, cfg.services.embed_port + 1) for pid in embed_pids(port)}
            e = read_endpoints(cfg)
            return (len(now) == 2 and not now & before and len(e.embed_urls) == 2
                    and "embed restarted in place" in e.get("EVENTS"))

        assert await wait_for(restarted, 120), read_endpoints(cfg)
    assert calls.failures == [] and calls.made > 20
    after = read_endpoints(cfg)
    assert after.job_id == job_id and after.node == ep.node and after.neo4j_uri and not after.stale
    assert await job_state(cluster, job_id) is JobState.RUNNING
