"""The real services job on the sandbox Slurm: deploy, discovery, singleton, requeue, supervision."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import httpx

from codex_console.backends.cluster import Cluster
from codex_console.backends.graph import GraphProbe
from codex_console.backends.runner import LocalRunner
from codex_console.check import Checker
from codex_console.models import JobState

from .conftest import read_endpoints, service_config, wait_endpoints, wait_for


def ready(url: str) -> bool:
    try:
        return httpx.get(url + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def embed_pids(port: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(b"codex-embed-server" in c for c in cmd) and str(port).encode() in cmd and b"--port" in cmd:
                pids.append(int(entry))
    return pids


async def start_now(cluster: Cluster, job_id: str) -> None:
    """A requeued job waits ~2 min (EligibleTime = requeue + 121 s); tests skip the wait, but
    only once the old run has settled: pending on its BeginTime for a few seconds with no
    process left. A new run started while the old one's end is still in flight gets marked
    FAILED by it; that race is what Slurm's own delay avoids."""
    settled_since: list[float] = []

    async def started() -> bool:
        jobs = {j.job_id: j for j in await cluster.slurm.jobs()}
        job = jobs.get(job_id)
        if job is not None and job.state is JobState.RUNNING:
            return True
        leftovers = subprocess.run(["scontrol", "listpids", job_id], capture_output=True, text=True)
        settled = (job is not None and job.state is JobState.PENDING and job.reason == "BeginTime"
                   and (leftovers.returncode != 0 or len(leftovers.stdout.splitlines()) <= 1))
        if not settled:
            settled_since.clear()
        elif not settled_since:
            settled_since.append(time.monotonic())
        elif time.monotonic() - settled_since[0] >= 5:
            subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=False,
                           capture_output=True)
        return False

    assert await wait_for(started, 90, step=1), f"job {job_id} did not start again"


async def job_state(cluster: Cluster, job_id: str) -> JobState | None:
    jobs = {j.job_id: j for j in await cluster.slurm.jobs()}
    return jobs[job_id].state if job_id in jobs else None


async def test_services_job_lifecycle(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "lifecycle", slurm__gpus=1)
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    sub = await cluster.submit()
    assert sub.template == "services" and sub.partition == "titan"
    ep = await wait_endpoints(cfg, sub.job_id)
    assert await job_state(cluster, sub.job_id) is JobState.RUNNING
    assert stat.S_IMODE(os.stat(cfg.services.endpoints_file).st_mode) == 0o600
    assert ready(ep.embed_url)
    probe = GraphProbe(LocalRunner())
    assert (await probe.probe(ep.neo4j_uri)).ok
    await probe.close()
    # The replica is pinned to the GPU Slurm gave the job, not to a guess.
    job_env = subprocess.run(["scontrol", "listpids", sub.job_id], capture_output=True, text=True)
    [pid] = embed_pids(cfg.services.embed_port)
    env = dict(e.split("=", 1) for e in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in e)
    assert env["CUDA_VISIBLE_DEVICES"] in ("0", "1") and job_env.returncode == 0

    # Singleton: a second submit waits instead of running beside the first.
    second = await cluster.slurm.submit(await cluster.render())
    assert await wait_for(lambda: _reason(cluster, second, "Dependency"), 15)
    await cluster.slurm.cancel(second)

    # Requeue: back with a fresh endpoints file.
    await cluster.requeue(sub.job_id)
    assert await wait_for(lambda: _pending(cluster, sub.job_id), 30)
    await start_now(cluster, sub.job_id)
    fresh = await wait_endpoints(cfg, sub.job_id, started=ep.started)
    assert ready(fresh.embed_url)
    assert "RESTART_COUNT=1" in Path(cfg.services.endpoints_file).read_text()

    # Cancel marks the file stale.
    await cluster.cancel(sub.job_id)
    assert await wait_for(_stale(cfg), 30)


async def _reason(cluster: Cluster, job_id: str, reason: str) -> bool:
    jobs = {j.job_id: j for j in await cluster.slurm.jobs()}
    return job_id in jobs and jobs[job_id].state is JobState.PENDING and jobs[job_id].reason == reason


async def _pending(cluster: Cluster, job_id: str) -> bool:
    return await job_state(cluster, job_id) is JobState.PENDING


def _stale(cfg):
    async def check() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and ep.stale)
    return check


async def test_a_killed_embed_server_is_restarted_in_the_same_job(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "killed")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    sub = await cluster.submit()
    ep = await wait_endpoints(cfg, sub.job_id)
    [pid] = embed_pids(cfg.services.embed_port)
    os.kill(pid, signal.SIGKILL)

    async def back() -> bool:
        pids = embed_pids(cfg.services.embed_port)
        return bool(pids) and pids != [pid] and ready(ep.embed_url)

    assert await wait_for(back, 60), "embed did not come back within 60 s"
    assert await job_state(cluster, sub.job_id) is JobState.RUNNING
    async def logged() -> bool:  # the supervisor notices readiness on its next 1 s tick
        log = await cluster.log_tail()
        return "embed0 exited (137)" in log and "embed0 is back" in log

    assert await wait_for(logged, 10)


async def test_a_service_failing_at_start_makes_the_job_requeue_itself(sandbox, tmp_path, cleanup_jobs):
    real = sandbox_embed_command(sandbox)
    # Fails on the first run of the job, works once Slurm has restarted it.
    flaky = f"sh -c '[ \"${{SLURM_RESTART_COUNT:-0}}\" -ge 1 ] || exit 3; exec {real} \"$@\"' embed"
    cfg = service_config(sandbox, tmp_path, "flaky", services__embed_command=flaky,
                         services__restart_limit=2)
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    sub = await cluster.submit()

    async def requeued() -> bool:
        return (await cluster.slurm.job(sub.job_id)).restarts == 1

    assert await wait_for(requeued, 60), "the job did not requeue itself"
    log = await cluster.log_tail()
    assert "failed 3 times" in log and "requeueing the job" in log
    await start_now(cluster, sub.job_id)
    ep = await wait_endpoints(cfg, sub.job_id, timeout=90)
    assert ready(ep.embed_url) and "RESTART_COUNT=1" in Path(cfg.services.endpoints_file).read_text()


def sandbox_embed_command(sandbox) -> str:
    from codex_console import config
    return config.load(str(sandbox.config_file), environ={}).services.embed_command


async def test_watchdog_resubmits_only_when_the_job_is_gone(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "watchdog")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    sleeper = f"#!/bin/sh\n#SBATCH --job-name={cfg.slurm.job_name}\n#SBATCH --output=/dev/null\nsleep 300\n"

    held = await cluster.slurm.submit(sleeper, ["--hold"])  # PD
    assert await wait_for(lambda: _pending(cluster, held), 10)
    result = await Checker(cfg, cluster).run(10, resubmit=True)
    assert result.resubmitted is None and result.job.state is JobState.PENDING
    await cluster.slurm.cancel(held)

    running = await cluster.slurm.submit(sleeper)  # R
    assert await wait_for(lambda: _running(cluster, running), 20)
    result = await Checker(cfg, cluster).run(10, resubmit=True)
    assert result.resubmitted is None and result.job.state is JobState.RUNNING
    await cluster.slurm.cancel(running)
    assert await wait_for(lambda: _gone(cluster), 30)

    result = await Checker(cfg, cluster).run(10, resubmit=True)  # none
    assert result.resubmitted and result.job is None
    assert any("resubmitted" in note for note in result.notes)
    assert result.resubmitted in {j.job_id for j in await cluster.slurm.jobs()}


async def _running(cluster: Cluster, job_id: str) -> bool:
    return await job_state(cluster, job_id) is JobState.RUNNING


async def _gone(cluster: Cluster) -> bool:
    return not await cluster.slurm.jobs()
