"""A team shares one services job: the job writes the endpoints and key files 0640 to the team's
group in a project folder; a second local user in the group finds and uses the services through
them, a user outside the group cannot read them, and the console shows who can."""

from __future__ import annotations

import json
import os
import shutil
import site
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import codex_console
from codex_console.backends.cluster import Cluster

from ..helpers import service_config, submit, wait_endpoints, write_config

ROOT = str(Path(codex_console.__file__).parent.parent)
SCRIPT = """
import json, sys
from codex_console.client import ClientError, EmbedClient, graph_driver
try:
    with EmbedClient.from_environment(deadline=20) as client:
        rows = client.embed(json.loads(sys.argv[1]), as_numpy=False)
        used = sorted(client.aio.replicas.seen)
    with graph_driver() as driver, driver.session() as session:
        one = session.run("RETURN 1 AS one").single()["one"]
    print(json.dumps({"rows": rows, "used": used, "one": one}))
except ClientError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
"""


def sh(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.fixture
def team() -> Iterator[tuple[str, str, str]]:
    """A group, a user in it and a user outside it (made here as root, removed after)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to add users")
    tag = f"{os.getpid() % 100000}"
    group, mate, outsider = f"cxteam{tag}", f"cxmate{tag}", f"cxout{tag}"
    for user in (mate, outsider):
        sh("userdel", user)
    sh("groupdel", group)
    try:
        assert sh("groupadd", group).returncode == 0
        assert sh("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", "-G", group, mate).returncode == 0
        assert sh("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", outsider).returncode == 0
        yield group, mate, outsider
    finally:
        for user in (mate, outsider):
            sh("userdel", user)
        sh("groupdel", group)


def python_for(user: str) -> str:
    """An interpreter that user may run, of this one's version (this one may live in /root)."""
    want = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        probe = sh("runuser", "-u", user, "--", exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
        if probe.returncode == 0 and probe.stdout.strip() == want:
            return exe
    pytest.skip(f"no python {want} that {user} may run")


def as_user(user: str, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join([ROOT, *site.getsitepackages()])  # this install's packages, readable by all
    clean = ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent", f"PYTHONPATH={path}",
             *(f"{k}={v}" for k, v in env.items())]
    return subprocess.run(["runuser", "-u", user, "--", *clean, *argv], capture_output=True, text=True, timeout=90)


async def test_a_teammate_uses_the_shared_services_and_an_outsider_cannot(sandbox, tmp_path, cleanup_jobs, team):
    group, mate, outsider = team
    project = Path(tempfile.mkdtemp(prefix="codex-project-"))
    project.chmod(0o755)  # anyone may look in the folder: only the files' modes keep outsiders out
    try:
        cfg = service_config(sandbox, tmp_path, "client-team", services__endpoints_file=str(project / "services.env"),
                             services__api_key_file=str(project / "embed.key"), services__endpoints_mode="0640",
                             services__group=group)
        cluster = Cluster(cfg)
        cleanup_jobs.append(cluster)
        ep = await wait_endpoints(cfg, await submit(cluster))
        for name in ("services.env", "embed.key"):
            st = (project / name).stat()
            assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o640, _gid(group)), name

        # The team's shared config says where the files are (nothing secret in it).
        shared = project / "codex-console.toml"
        shared.write_text(f'[login]\nlocal = true\n[services]\nendpoints_file = "{project}/services.env"\n'
                          f'api_key_file = "{project}/embed.key"\n')
        shared.chmod(0o644)
        env = {"CODEX_CONSOLE_CONFIG": str(shared)}
        texts = ["a tokamak", "a stellarator", "a divertor"]
        out = as_user(mate, env, python_for(mate), "-c", SCRIPT, json.dumps(texts))
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        key = (project / "embed.key").read_text().strip()
        want = httpx.post(ep.embed_url + "/embed", json={"texts": texts},
                          headers={"Authorization": f"Bearer {key}"}).json()["embeddings"]
        assert "error" not in got, got
        assert got["used"] == list(ep.embed_urls) and got["one"] == 1
        assert max(abs(a - b) for r, w in zip(got["rows"], want) for a, b in zip(r, w)) < 1e-5

        # Outside the group: neither file can be read, and the client says why at once.
        for name in ("services.env", "embed.key"):
            denied = as_user(outsider, {}, "cat", str(project / name))
            assert denied.returncode != 0 and "Permission denied" in denied.stderr
        # An old endpoints file of the outsider's own, further down the search, is not taken instead.
        old_home = project / "outsider-home"
        old_home.mkdir()
        (old_home / ".codex-services.env").write_text("EMBED_URLS=http://127.0.0.1:9\nSTALE=0\n")
        shutil.chown(old_home, outsider)
        out = as_user(outsider, {**env, "HOME": str(old_home)}, python_for(outsider), "-c", SCRIPT, json.dumps(texts))
        refused = json.loads(out.stdout)
        assert refused["error"] == "NotAllowed" and f"readable by root and group {group}" in refused["message"]

        # The console shows who can read both files (the job card, serve status --json).
        seen = await cluster.endpoints_reader.read(environ={})
        assert [(Path(a.path).name, a.mode, a.group, a.readers) for a in seen.access] == [
            ("services.env", "0640", group, f"root and group {group}"),
            ("embed.key", "0640", group, f"root and group {group}")]
        status = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config",
                                 str(write_config(cfg, tmp_path / "config.toml")), "serve", "status", "--json"],
                                capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
        access = json.loads(status.stdout)["endpoints"]["access"]
        assert [(a["mode"], a["owner"], a["group"]) for a in access] == [("0640", "root", group)] * 2, status.stderr
    finally:
        shutil.rmtree(project, ignore_errors=True)


def _gid(group: str) -> int:
    import grp

    return grp.getgrnam(group).gr_gid
