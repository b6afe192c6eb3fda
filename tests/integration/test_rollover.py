"""No gap at the wall time, on the real sandbox Slurm: the successor is ready before the old
job ends, Neo4j moves once, the old job ends by itself; with no room for a successor the job
warns, then stops cleanly and requeues itself at its limit."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
import time

from codex_console.backends.cluster import Cluster
from codex_console.backends.neo4j import Neo4jProbe
from codex_console.backends.runner import LocalRunner, ServiceDown
from codex_console.client import AsyncEmbedClient
from codex_console.models import JobState

from ..helpers import (
    read_endpoints,
    service_config,
    submit,
    wait_endpoints,
    wait_for,
    write_config,
)


def shorten(job_id: str, minutes: int) -> None:
    """The job's limit, `minutes` after its start: the hand-over comes within the test."""
    subprocess.run(["scontrol", "update", f"JobId={job_id}", f"TimeLimit={minutes}"], check=True)


async def jobs(cluster: Cluster) -> dict[str, JobState]:
    return {j.job_id: j.state for j in await cluster.slurm.jobs()}


def move_times(moved: str) -> dict[str, float]:
    """NEO4J_MOVED's seconds: "... (Neo4j started in 0.5s (let go 0.2s, stop 0.1s, seen 0.1s,
    launch 0.1s); Bolt down 0.3s)"."""
    words = {"start": "Neo4j started in ", "let go": "let go ", "stop": "stop ", "seen": "seen ",
             "launch": "launch ", "down": "Bolt down "}
    return {name: float(moved.split(word)[1].split("s")[0]) for name, word in words.items()}


def assert_moved_quickly(moved: str, bolt_down: list[float]) -> None:
    t = move_times(moved)
    # The parts add up (each is rounded to the tenth): the start runs from the successor's claim
    # on the store, Bolt is down from the old Neo4j's stop until the new one answers.
    assert abs(t["let go"] + t["stop"] + t["seen"] + t["launch"] - t["start"]) <= 0.25, moved
    assert abs(t["stop"] + t["seen"] + t["launch"] - t["down"]) <= 0.2, moved
    # Both jobs watch closely while Neo4j moves: the successor sees the free store within a
    # tenth of a second (give or take a loaded machine), the old job lets go within a tick (1 s).
    assert t["seen"] <= 0.4 and t["let go"] <= 2.0, moved
    # A probe every 0.2 s saw Bolt down no longer than the job says (to its fifth of a second).
    assert len(bolt_down) <= 1 and (not bolt_down or bolt_down[0] <= t["down"] + 0.3), (bolt_down, moved)


async def watch_bolt(uri: str, bolt_down: list[float], done: asyncio.Event) -> None:
    """Every 0.2 s a Bolt handshake; each stretch without one goes into bolt_down (seconds)."""
    probe = Neo4jProbe(LocalRunner(), timeout=1)
    since = None
    try:
        while not done.is_set():
            try:
                await probe.probe(uri)
                if since is not None:
                    bolt_down.append(time.monotonic() - since)
                    since = None
            except ServiceDown:
                since = since or time.monotonic()
            await asyncio.sleep(0.2)
    finally:
        await probe.close()


async def rolling_job(sandbox, tmp_path, cleanup_jobs, name: str, **overrides: object):
    """A services job with a 10-minute limit and 110 s of lead (`shorten` brings the hand-over
    in), serving: its config, cluster, job id and first endpoints."""
    cfg = service_config(sandbox, tmp_path, name, slurm__time_limit="10", services__rollover_lead="110s",
                         services__stop_timeout=20, services__api_key_file="none", **overrides)
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    old = await submit(cluster)
    return cfg, cluster, old, await wait_endpoints(cfg, old)


async def test_the_successor_is_ready_before_the_old_job_ends(sandbox, tmp_path, cleanup_jobs, capsys):
    cfg, cluster, old, first = await rolling_job(sandbox, tmp_path, cleanup_jobs, "rollover", slurm__gpus=1)
    here = copy.deepcopy(cfg)
    here.login.local = True  # the client runs where the endpoints file is: this machine
    client = AsyncEmbedClient.from_environment(here, environ={}, deadline=60)
    calls, failures, bolt_down = 0, [], []
    done = asyncio.Event()

    async def embed_all_along() -> None:
        nonlocal calls
        while not done.is_set():
            try:
                vectors = await client.embed(["hand-over", "no gap"])
                assert len(vectors) == 2
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none may happen
                failures.append(repr(exc))
            calls += 1
            await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(embed_all_along()), asyncio.create_task(watch_bolt(first.neo4j_uri, bolt_down, done))]
    shorten(old, 2)  # 110 s of lead: the hand-over starts about 10 s into the job's 2 minutes
    try:
        async def handed_over() -> bool:
            now = await jobs(cluster)
            ep = read_endpoints(cfg)
            return old not in now and len(now) == 1 and bool(ep and ep.job_id != old and not ep.stale)

        assert await wait_for(handed_over, 100, step=1), (await jobs(cluster), read_endpoints(cfg))
        await asyncio.sleep(3)  # calls keep working on the successor alone
    finally:
        done.set()
        await asyncio.gather(*tasks)
        await client.aclose()
    [(successor, state)] = (await jobs(cluster)).items()
    ep = read_endpoints(cfg)
    assert state is JobState.RUNNING and ep.job_id == successor and ep.get("PREDECESSOR") == old
    assert (await cluster.slurm.job(old)).state is JobState.COMPLETED  # it ended by itself
    assert failures == [] and calls > 50, failures[:3]
    moved = ep.get("NEO4J_MOVED")
    assert_moved_quickly(moved, bolt_down)
    with capsys.disabled():
        print(f"\n  hand-over: {calls} embed calls, 0 failed; Bolt down {bolt_down[0] if bolt_down else 0:.1f} s "
              f"as seen by a probe every 0.2 s; the job says: {moved}")


async def test_a_neo4j_only_job_hands_over_as_soon_as_its_successor_runs(sandbox, tmp_path, cleanup_jobs, capsys):
    """No replicas to wait for: the successor claims the store at once, long before the limit."""
    cfg, cluster, old, first = await rolling_job(sandbox, tmp_path, cleanup_jobs, "neo4jonly", slurm__template="neo4j")
    bolt_down: list[float] = []
    done = asyncio.Event()
    watcher = asyncio.create_task(watch_bolt(first.neo4j_uri, bolt_down, done))
    shorten(old, 2)  # the hand-over is due about 10 s into the job's 2 minutes
    try:
        async def handed_over() -> bool:
            ep = read_endpoints(cfg)
            return bool(ep and ep.job_id != old and not ep.stale and ep.get("NEO4J_MOVED"))

        assert await wait_for(handed_over, 60, step=0.5), read_endpoints(cfg)  # not at the limit
        assert await wait_for(lambda: _gone(cluster, old), 30, step=1), await jobs(cluster)
    finally:
        done.set()
        await watcher
    assert (await cluster.slurm.job(old)).state is JobState.COMPLETED
    moved = read_endpoints(cfg).get("NEO4J_MOVED")
    assert_moved_quickly(moved, bolt_down)
    with capsys.disabled():
        print(f"\n  Neo4j-only hand-over: Bolt down {bolt_down[0] if bolt_down else 0:.1f} s as seen by a probe "
              f"every 0.2 s; the job says: {moved}")


async def _gone(cluster: Cluster, job_id: str) -> bool:
    return job_id not in await jobs(cluster)


async def test_a_limit_within_the_lead_does_not_hand_over(sandbox, tmp_path, cleanup_jobs):
    """Else every successor would hand over as soon as it serves, one job after another."""
    cfg = service_config(sandbox, tmp_path, "shortlimit", slurm__template="neo4j", slurm__time_limit="3",
                         services__rollover_lead="5m", services__api_key_file="none")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    await wait_endpoints(cfg, job_id)

    async def said_so() -> bool:
        return "no hand-over: the time limit (180s) is within rollover_lead (300s)" in read_endpoints(cfg).get("EVENTS")

    assert await wait_for(said_so, 20), read_endpoints(cfg)
    await asyncio.sleep(3)
    assert list(await jobs(cluster)) == [job_id] and not read_endpoints(cfg).get("SUCCESSOR")


async def test_no_room_for_a_successor_warns_then_requeues_at_the_limit(sandbox, tmp_path, cleanup_jobs):
    cfg = service_config(sandbox, tmp_path, "noroom", slurm__gpus=1, slurm__time_limit="10",
                         services__rollover_lead="100s", services__stop_timeout=20,
                         services__api_key_file="none")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    blocker = (await cluster.runner.run(
        ["sbatch", "--parsable", f"--job-name={cfg.slurm.job_name}-blocker", "--gres=gpu:1", "--output=/dev/null"],
        input="#!/bin/sh\nsleep 600\n")).stdout.strip()
    try:
        old = await submit(cluster)
        await wait_endpoints(cfg, old)
        shorten(old, 2)
        path = write_config(cfg, tmp_path / "config.toml")

        def check() -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), "--check"],
                                  capture_output=True, text=True, timeout=60)

        async def warned() -> bool:
            out = check()
            return out.returncode in (1, 2) and "handover" in out.stdout and "successor" in out.stdout and "waits (" in out.stdout

        assert await wait_for(warned, 60, step=2)

        async def requeued() -> bool:
            return (await cluster.slurm.job(old)).restarts == 1

        assert await wait_for(requeued, 120, step=2)
        ep = read_endpoints(cfg)
        assert ep.stale and "no successor could start before the time limit" in ep.reason
        assert len([j for j in await cluster.slurm.jobs() if j.comment.startswith("codex-rollover:")]) == 0
        out = check()
        assert out.returncode == 2 and "no successor could start before the time limit" in out.stdout
    finally:
        await cluster.runner.run(["scancel", blocker])


async def test_a_successor_that_dies_before_taking_over_gives_neo4j_back(sandbox, tmp_path, cleanup_jobs):
    import shlex

    from codex_console.sandbox.bolt import falkordb_argv

    cfg = service_config(sandbox, tmp_path, "lostsucc", slurm__gpus=1, slurm__time_limit="10",
                         services__rollover_lead="110s", services__stop_timeout=20,
                         services__api_key_file="none", services__restart_limit=0)
    bolt = shlex.join(falkordb_argv(cfg.services.bolt_port, daemonize=False, workdir="/tmp",
                                    socket=f"/tmp/codex-t-{cfg.services.bolt_port}.sock"))
    # A successor's Neo4j cannot start (its store is broken, say): it never takes over.
    script = '[ -z "$CODEX_PREDECESSOR" ] || exit 1; exec ' + bolt
    cfg.services.neo4j_command = "sh -c " + shlex.quote(script)
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    old = await submit(cluster)
    await wait_endpoints(cfg, old)
    shorten(old, 2)

    async def released() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and ep.get("HANDOVER") in ("neo4j-moving", "ready") and ep.get("SUCCESSOR"))

    assert await wait_for(released, 90, step=0.5), read_endpoints(cfg)
    successor = read_endpoints(cfg).get("SUCCESSOR")
    await cluster.runner.run(["scancel", successor])

    async def back() -> bool:
        ep = read_endpoints(cfg)
        return bool(ep and ep.job_id == old and ep.neo4j_uri and not ep.stale and "ended" in ep.get("EVENTS"))

    assert await wait_for(back, 60, step=1), read_endpoints(cfg)
    probe = Neo4jProbe(LocalRunner())
    try:
        assert (await probe.probe(read_endpoints(cfg).neo4j_uri)).ready
    finally:
        await probe.close()
    assert "failed: the successor ended" in read_endpoints(cfg).get("HANDOVER")
