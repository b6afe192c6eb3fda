"""Logins as people have them: a ~/.ssh/config alias behind a ProxyJump gateway, a login that
asks questions (asyncssh asks once; the OpenSSH master transport asks once for everything;
the check never asks), and a connection lost just after sbatch took the job."""

from __future__ import annotations

import asyncio
import copy
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from codex_console import config
from codex_console.backends.cluster import Cluster
from codex_console.backends.openssh import OpenSshRunner
from codex_console.backends.runner import Unreachable
from codex_console.backends.ssh import SshRunner
from codex_console.backends.tunnels import TunnelManager
from codex_console.operations import operation, perform
from codex_console.sandbox.sshd import MFA_USER

from ..helpers import free_port, write_config
from .own_sshd import OwnSshd, own_sshd


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


def accepted(sandbox, name: str) -> int:
    log = sandbox.log / f"{name}.log"
    return len(re.findall(r"Accepted (publickey|keyboard-interactive)", log.read_text())) if log.exists() else 0


def user_ssh_config(sandbox, tmp_path: Path, gateway: OwnSshd | None = None) -> Path:
    """What a user's ~/.ssh/config holds: aliases, the login node behind a gateway (the
    sandbox's, or one of the test's own)."""
    path = tmp_path / "ssh_config"
    known_hosts = gateway.known_hosts if gateway else sandbox.known_hosts
    common = (f"    HostName 127.0.0.1\n    User root\n    IdentityFile {sandbox.identity}\n"
              f"    UserKnownHostsFile {known_hosts}\n    IdentitiesOnly yes\n")
    path.write_text(f"Host codex-gw\n    Port {gateway.port if gateway else sandbox.gateway_port}\n{common}"
                    f"Host codex-login\n    Port {sandbox.ssh_port}\n    ProxyJump codex-gw\n{common}"
                    f"Host codex-mfa\n    HostName 127.0.0.1\n    Port {sandbox.mfa_port}\n    User {MFA_USER}\n"
                    f"    UserKnownHostsFile {sandbox.known_hosts}\n    PubkeyAuthentication no\n")
    return path


def alias_only(sandbox_config, ssh_config: Path, host: str) -> config.Config:
    """A console config holding nothing but the alias (and where the user's ssh config is)."""
    login = sandbox_config.login
    login.host, login.ssh_config, login.port, login.user, login.identity, login.known_hosts = (
        host, str(ssh_config), 0, "", "", "")
    return sandbox_config


async def test_an_alias_behind_a_proxyjump_gateway_is_all_the_console_needs(sandbox, sandbox_config, tmp_path):
    cfg = alias_only(sandbox_config, user_ssh_config(sandbox, tmp_path), "codex-login")
    before = accepted(sandbox, "gateway")
    runner = SshRunner(cfg.login)
    try:
        assert (await runner.poll(["squeue", "--version"])).stdout.startswith("slurm")
        assert runner.target is not None and runner.target.proxy_jump == ("codex-gw",)
        assert accepted(sandbox, "gateway") == before + 1  # the login went through the gateway
    finally:
        await runner.close()
    path = write_config(cfg, tmp_path / "config.toml")
    status = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert "cannot reach" not in status.stdout and status.stdout.startswith("CODEX "), status.stdout


async def test_a_login_that_asks_questions_is_asked_once(sandbox, sandbox_config, tmp_path):
    cfg = alias_only(sandbox_config, user_ssh_config(sandbox, tmp_path), "codex-mfa")
    password = sandbox.mfa_password.read_text().strip()
    asked: list[list[str]] = []

    async def answer(header, prompts):
        asked.append([text for text, _ in prompts])
        return [password for _ in prompts]

    runner = SshRunner(cfg.login, prompter=answer)
    try:
        for _ in range(3):
            assert (await runner.poll(["id", "-un"])).stdout.strip() == MFA_USER
        await runner.run(["true"])
        assert len(asked) == 1 and "Password" in asked[0][0]
    finally:
        await runner.close()
    silent = SshRunner(cfg.login, prompter=None)  # what the check and scripts use
    with pytest.raises(Unreachable, match="never prompts.*SSH key.*master connection"):
        await silent.poll(["true"])
    await silent.close()
    path = write_config(cfg, tmp_path / "config.toml")
    out = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), "--check", "-t", "15"],
                         capture_output=True, text=True, timeout=40, stdin=subprocess.DEVNULL)
    assert out.returncode == 3 and out.stdout.startswith("CODEX UNKNOWN") and "never prompts" in out.stdout


async def test_the_openssh_master_transport_asks_once_for_everything(sandbox, sandbox_config, tmp_path):
    cfg = alias_only(sandbox_config, user_ssh_config(sandbox, tmp_path), "codex-mfa")
    cfg.login.transport = "openssh"
    askpass = tmp_path / "askpass"
    counter = tmp_path / "asked"
    askpass.write_text(f"#!/bin/sh\necho x >> {counter}\ncat {sandbox.mfa_password}\n")
    askpass.chmod(0o755)
    os.environ.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    runner = OpenSshRunner(cfg.login)
    endpoints = Path(tempfile.mkdtemp(prefix="codex-mfa-", dir="/tmp")) / "services.env"
    endpoints.parent.chmod(0o755)
    endpoints.write_text(f"NODE=localhost\nNEO4J_URI=bolt://localhost:{sandbox.bolt_port}\nSTALE=0\n")
    endpoints.chmod(0o644)  # the login's user (codex-mfa) reads it
    cfg.services.endpoints_file = str(endpoints)
    cfg.tunnels.forwards, cfg.tunnels.bolt_local_port = ["bolt"], free_port()
    tunnels = TunnelManager(cfg)
    try:
        path = write_config(cfg, tmp_path / "config.toml")
        env = {**os.environ, "SSH_ASKPASS": "/bin/false"}  # from here on nobody may answer
        before = subprocess.run([sys.executable, "-m", "codex_console.cli", "--config", str(path), "--check",
                                 "-t", "15"], capture_output=True, text=True, timeout=40, env=env)
        assert before.returncode == 3 and "never prompts" in before.stdout  # no master yet: no hang
        assert runner.login_interactively() == 0  # the one prompt (answered by askpass)
        del os.environ["SSH_ASKPASS"], os.environ["SSH_ASKPASS_REQUIRE"]
        assert await runner.master_up()
        for _ in range(3):
            assert (await runner.poll(["id", "-un"])).stdout.strip() == MFA_USER
        assert (await runner.run(["echo", "action"])).stdout == "action\n"
        host, port = await runner.forward("127.0.0.1", sandbox.bolt_port)
        assert host == "127.0.0.1" and port != sandbox.bolt_port
        # The tunnel keeper rides the same master: its forwards live there, no second login.
        [bolt] = await tunnels.start(wait=20)
        assert bolt.up, bolt
        assert tunnels.stop()
        assert not await port_open(cfg.tunnels.bolt_local_port)  # cancelled in the master too
        assert counter.read_text().count("x") == 1
    finally:
        os.environ.pop("SSH_ASKPASS", None)
        os.environ.pop("SSH_ASKPASS_REQUIRE", None)
        tunnels.stop()
        await runner.close()
        subprocess.run(runner.ssh_argv("-O", "exit"), capture_output=True)


async def test_a_connection_lost_right_after_sbatch_took_the_job_submits_once(sandbox, sandbox_config,
                                                                              tmp_path, cleanup_jobs):
    from ..helpers import service_config

    cfg = service_config(sandbox, tmp_path, "lostanswer", services__embed_command="sh -c 'sleep 300'",
                         services__neo4j_command="sleep 300")
    cleanup_jobs.append(Cluster(copy.deepcopy(cfg)))  # through the sandbox's sshd: it outlives ours
    with own_sshd(sandbox, tmp_path / "sshd") as login:
        cfg.login.port, cfg.login.known_hosts = login.port, str(login.known_hosts)
        await submits_once_though_the_answer_is_lost(cfg, login)


async def submits_once_though_the_answer_is_lost(cfg: config.Config, login: OwnSshd) -> None:
    class DropsAfterSbatch(SshRunner):
        """sbatch runs for real; then the connection dies before its answer is read."""

        async def run(self, argv, *, input=None, timeout=None):
            result = await super().run(argv, input=input, timeout=timeout)
            if "sbatch" in argv and not getattr(self, "dropped", False):
                self.dropped = True
                login.kill_sessions()  # the session serving this connection
                await super().run(["true"])  # the dead connection shows itself
            return result

    cluster = Cluster(cfg, runner=DropsAfterSbatch(cfg.login, max_backoff=1))
    try:
        op = operation("serve", "start")
        outcome = await perform(cluster, op, await op.plan(cluster, []))
        jobs = await cluster.slurm.jobs()
        assert [j.job_id for j in jobs] == [outcome.job_id]
        assert cluster.runner.connections_opened == 2
    finally:
        await cluster.close()
