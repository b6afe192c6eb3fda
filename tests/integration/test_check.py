"""`codex-console --check`: each exit code from a real condition on the sandbox, JSON schema."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from importlib import resources

import jsonschema
import pytest

from codex_console import config
from codex_console.backends.cluster import Cluster

from ..helpers import service_config, submit, wait_endpoints


@pytest.fixture(scope="module")
def services(sandbox, tmp_path_factory):
    """One running services job (CPU model, sandbox Bolt) for the whole module."""
    tmp = tmp_path_factory.mktemp("check")
    cfg = service_config(sandbox, tmp, "check")
    cfg.tunnels.state_dir = str(tmp / "tunnels")

    async def up():
        cluster = Cluster(cfg)
        try:
            job_id = await submit(cluster)
            await wait_endpoints(cfg, job_id)
            return job_id
        finally:
            await cluster.close()

    job_id = asyncio.run(up())
    path = tmp / "config.toml"
    path.write_text(config.to_toml(cfg))
    yield path, job_id
    subprocess.run(["scancel", job_id], check=False)


def check(path, *args: str, env: dict[str, str] | None = None, timeout: float = 60):
    import os

    env = {**os.environ, **(env or {})}
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), "--check", *args],
                         capture_output=True, text=True, env=env, timeout=timeout)
    return out, time.monotonic() - start


def test_all_up_is_ok_with_perfdata(services):
    path, job_id = services
    out, _ = check(path)
    assert out.returncode == 0, out.stdout + out.stderr
    head = out.stdout.splitlines()[0]
    assert head.startswith(f"CODEX OK - job {job_id} R on ")
    assert "'embed_latency'=" in head and "ms;5000;20000;0" in head and "'neo4j_latency'=" in head
    assert len(out.stdout.splitlines()) == 1


def test_json_validates_against_the_documented_schema(services):
    path, job_id = services
    out, _ = check(path, "--json")
    data = json.loads(out.stdout)
    schema = json.loads(resources.files("codex_console.check").joinpath("schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["exit_code"] == out.returncode == 0 and data["job"]["job_id"] == job_id
    # Concurrent probes: the whole check is shorter than its probes one after another.
    assert data["elapsed_s"] < sum(p["elapsed_s"] for p in data["probes"])
    assert data["ssh_connections"] == 1


def test_embed_stopped_is_critical(services):
    path, _ = services
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    out, _ = check(path, env={"IMAS_CODEX_EMBED_REMOTE_URL": f"http://127.0.0.1:{dead}"})
    assert out.returncode == 2, out.stdout
    assert out.stdout.startswith("CODEX CRITICAL - embed ")
    assert any(line.startswith("embed: CRITICAL") for line in out.stdout.splitlines()[1:])


def test_latency_over_the_warning_threshold_is_warning(services):
    path, _ = services
    out, _ = check(path, "--embed-warn", "0.01")
    assert out.returncode == 1, out.stdout
    assert out.stdout.startswith("CODEX WARNING - embed embed ready")
    inside = check(path, "--embed-warn", "@0:100000", "--embed-crit", "~:100000")[0]  # alert inside
    assert inside.returncode == 1, inside.stdout


def test_unreachable_login_node_is_unknown_within_the_timeout(services):
    path, _ = services
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    out, took = check(path, "--timeout", "4", "--resubmit", "--set", f"login.port={closed}")
    assert out.returncode == 3, out.stdout
    assert "cannot reach login node" in out.stdout and took < 4 + 1 + 2  # + interpreter start
    assert "resubmit" not in out.stdout  # "no job" was never established: no resubmit


def test_a_hung_probe_is_unknown_and_the_check_ends_at_its_timeout(services):
    path, _ = services
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(16)], daemon=True).start()
    silent = {"NEO4J_URI": f"bolt://127.0.0.1:{server.getsockname()[1]}"}
    try:
        out, took = check(path, "--timeout", "2", "--json", env=silent)
        critical, _ = check(path, "-t", "2:critical", env=silent)  # the state a timeout means
    finally:
        server.close()
    data = json.loads(out.stdout)
    assert out.returncode == 3 and data["state"] == "UNKNOWN"
    assert [p["summary"] for p in data["probes"] if p["name"] == "neo4j"] == ["timed out after 2s"]
    assert data["elapsed_s"] < 2 + 1
    assert critical.returncode == 2 and "neo4j: CRITICAL - timed out after 2s" in critical.stdout


def test_quiet_prints_nothing_when_ok(services):
    path, _ = services
    out, _ = check(path, "--quiet")
    assert out.returncode == 0 and out.stdout == ""


@pytest.mark.parametrize("args,words", [
    (["--bogus"], "usage: unrecognized arguments: --bogus"),
    (["--embed-warn", "fast"], "config: command line: thresholds.embed_latency_warn = 'fast'"),
    (["-t", "nan"], "not a finite number"), (["-t", "5:SOMETIMES"], "timeout_state"),
    (["--set", "poll.gpu=0"], "poll.gpu = 0.0: out of range"),
])
def test_bad_flags_and_config_are_one_unknown_line(services, args, words):
    path, _ = services
    out, _ = check(path, *args)
    assert out.returncode == 3 and out.stderr == "", out
    assert out.stdout.startswith("CODEX UNKNOWN - ") and words in out.stdout and out.stdout.count("\n") == 1


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_are_unknown_on_stdout(services, flag):
    path, _ = services
    out, _ = check(path, flag)
    assert out.returncode == 3 and out.stdout and out.stderr == ""


def test_a_missing_config_file_is_unknown(tmp_path):
    out = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(tmp_path / "none.toml"),
                          "--check"], capture_output=True, text=True)
    assert out.returncode == 3 and out.stdout.startswith("CODEX UNKNOWN - config: config file")
