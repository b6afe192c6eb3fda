"""Neo4j's operations on the real sandbox Slurm, against the stand-ins that keep Neo4j's contract
(its store lock, neo4j-admin's command line): a dump while the embed service answers every
request, its age on the dashboard, a load that restores what was written before the dump, a dump
refused while a live process holds the store, and a failed dump that leaves Neo4j running."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import neo4j

from codex_console.backends.cluster import Cluster
from codex_console.session import ConsoleSession
from codex_console.tui.app import CodexApp

from ..helpers import embed_calls, read_endpoints, service_config, submit, wait_endpoints, wait_for, write_config


def standin_config(sandbox, tmp_path: Path, name: str):
    data = tmp_path / "neo4j-data"
    python = shlex.quote(sys.executable)
    cfg = service_config(sandbox, tmp_path, name, services__api_key_file="none")
    cfg.services.neo4j_command = (f"{python} -m codex_console.sandbox.neo4j_standin --data-dir {data} "
                                  f"--bolt-port {cfg.services.bolt_port}")
    cfg.services.neo4j_lock = str(data / "databases" / "store_lock")
    cfg.neo4j.admin_command = f"{python} -m codex_console.sandbox.neo4j_admin_standin --data-dir {data}"
    cfg.neo4j.dump_dir = str(tmp_path / "dumps")
    return cfg


def cli(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), *args],
                          capture_output=True, text=True, timeout=300)


def cypher(uri: str, query: str, **params: object) -> list:
    """One query; a handshake left unanswered is tried again (FalkorDB leaves the first one after
    another client's goodbye unanswered, as the console's probe knows)."""
    for attempt in range(5):
        try:
            with neo4j.GraphDatabase.driver(uri, connection_timeout=3, connection_acquisition_timeout=4) as driver, \
                    driver.session() as session:
                return list(session.run(query, **params))
        except neo4j.exceptions.ServiceUnavailable:
            if attempt == 4:
                raise
    return []


def count(uri: str) -> int:
    return cypher(uri, "MATCH (n:Plasma) RETURN count(n) AS c")[0]["c"]


def write(uri: str, nodes: int) -> None:
    cypher(uri, "UNWIND range(1, $n) AS i CREATE (:Plasma {shot: i})", n=nodes)


async def test_dump_while_embedding_then_load_it_back(sandbox, tmp_path, cleanup_jobs):
    cfg = standin_config(sandbox, tmp_path, "neo4jdump")
    path = write_config(cfg, tmp_path / "config.toml")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    ep = await wait_endpoints(cfg, job_id, timeout=90)
    await asyncio.to_thread(write, ep.neo4j_uri, 25)
    async with embed_calls(lambda n: ep.embed_url, "during the dump") as calls:
        out = await asyncio.to_thread(cli, path, "serve", "neo4j-dump", "--yes")
    assert out.returncode == 0 and "Neo4j dumped" in out.stdout and "Bolt down" in out.stdout, out.stderr
    assert calls.failures == [] and calls.made > 10
    [folder] = (tmp_path / "dumps").iterdir()
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    assert set(sizes) == {"neo4j.dump", "system.dump"} and all(sizes.values())

    # The dashboard shows the dump's age on the Neo4j panel.
    app = CodexApp(ConsoleSession(Cluster(cfg)))
    async with app.run_test(size=(160, 50)) as pilot:
        async def aged() -> bool:
            await pilot.pause(0.2)
            return "dump " in (text := str(app.screen.query_one("#neo4j-panel .service-text").render())) and \
                "dump N/A" not in text
        assert await wait_for(aged, 30)

    # More nodes after the dump, then the dump loaded back: the count before it returns.
    await asyncio.to_thread(write, read_endpoints(cfg).neo4j_uri, 10)
    assert await asyncio.to_thread(count, read_endpoints(cfg).neo4j_uri) == 35
    out = await asyncio.to_thread(cli, path, "serve", "neo4j-load", str(folder), "--yes")
    assert out.returncode == 0 and "loaded" in out.stdout and "verified:" in out.stdout, (out.stdout, out.stderr)
    assert await asyncio.to_thread(count, read_endpoints(cfg).neo4j_uri) == 25


async def test_a_dump_refused_by_a_held_store_or_failing_leaves_neo4j_running(sandbox, tmp_path, cleanup_jobs):
    cfg = standin_config(sandbox, tmp_path, "neo4jheld")
    path = write_config(cfg, tmp_path / "config.toml")
    cluster = Cluster(cfg)
    cleanup_jobs.append(cluster)
    job_id = await submit(cluster)
    await wait_endpoints(cfg, job_id, timeout=90)

    async def serving() -> bool:
        e = read_endpoints(cfg)
        return bool(e and e.neo4j_uri and not e.stale and e.job_id == job_id)

    # A live process (not Neo4j) takes the store as soon as Neo4j lets go of it: neo4j-admin refuses,
    # and Neo4j starts again once that process is gone.
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, cfg.services.neo4j_lock], stdout=subprocess.PIPE, text=True)
    try:
        out = await asyncio.to_thread(cli, path, "serve", "neo4j-dump", "--yes")
        assert out.returncode == 1 and "in use" in out.stderr, (out.stdout, out.stderr)
        assert holder.stdout.readline().strip() == "held"
    finally:
        holder.kill()
        holder.wait()
    assert await wait_for(serving, 30), read_endpoints(cfg)
    # A dump that fails by itself (its folder cannot be made: a file is in the way): Neo4j is back at once.
    shutil.rmtree(cfg.neo4j.dump_dir, ignore_errors=True)
    Path(cfg.neo4j.dump_dir).write_text("in the way")
    out = await asyncio.to_thread(cli, path, "serve", "neo4j-dump", "--yes")
    assert out.returncode == 1 and "Neo4j dump failed" in out.stderr, (out.stdout, out.stderr)
    assert await serving() and "Neo4j dump failed" in read_endpoints(cfg).get("EVENTS")


HOLDER = """import fcntl, sys, time
f = open(sys.argv[1], "a+")
while True:
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
    except OSError:
        time.sleep(0.01)
print("held", flush=True)
time.sleep(600)
"""
