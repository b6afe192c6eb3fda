"""The SSH runner against the sandbox's real sshd: one connection, fast polls, quoting, a shell
that cannot lie, remote processes that never outlive their deadline, recovery, clear errors."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from codex_console.backends.runner import CommandTimeout, LocalRunner, Unreachable
from codex_console.backends.ssh import HostKeyMismatch, SshRunner
from codex_console.backends.sshconfig import SshConfigError

from ..helpers import free_port
from .own_sshd import OwnSshd, own_sshd


def remote_left(marker: str) -> list[str]:
    """Processes on the "login node" (this machine) whose command line has the marker."""
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


async def gone(marker: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while remote_left(marker) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return not remote_left(marker)


async def test_polls_reuse_one_connection_and_beat_new_channels(sandbox_config, capsys):
    runner = SshRunner(sandbox_config.login)
    local = LocalRunner()
    try:
        await runner.poll(["squeue"])  # connect + start the shell
        timings = {}
        for name, call in (("local", lambda: local.run(["squeue", "-h"])),
                           ("ssh exec channel", lambda: runner.run(["squeue", "-h"])),
                           ("ssh persistent shell", lambda: runner.poll(["squeue", "-h"]))):
            start = time.perf_counter()
            for _ in range(10):
                assert (await call()).ok
            timings[name] = (time.perf_counter() - start) / 10 * 1000
        assert runner.connections_opened == 1
        assert timings["ssh persistent shell"] < timings["ssh exec channel"]
        with capsys.disabled():
            print("\n  squeue cost: " + ", ".join(f"{k} {v:.1f} ms" for k, v in timings.items()))
    finally:
        await runner.close()


@pytest.mark.parametrize("via", ["run", "poll"])
async def test_shell_metacharacters_arrive_as_one_literal_argument(sandbox_config, via):
    hostile = "x; touch ~/pwned-codex $(id) `id` 'q' \"d\" | cat"
    marker = Path.home() / "pwned-codex"
    marker.unlink(missing_ok=True)
    runner = SshRunner(sandbox_config.login)
    try:
        res = await getattr(runner, via)(["printf", "%s|%s", hostile, "second"])
        assert res.stdout == f"{hostile}|second"
        assert not marker.exists()
    finally:
        await runner.close()


async def test_no_poll_ever_reads_another_commands_output(sandbox_config):
    """Cancelled, timed out, or waiting behind a hung one: each poll reads only its own answer,
    and no remote process of an abandoned command survives."""
    runner = SshRunner(sandbox_config.login)
    tag = uuid.uuid4().hex[:8]
    slow = ["sh", "-c", f"sleep 3 # {tag}-gpu\necho gpu-output-{tag}"]
    try:
        # The GPU poll gives up (its source's deadline); the jobs poll right after reads its own.
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(runner.poll(slow), 0.5)
        assert (await runner.poll(["echo", "jobs"])).stdout == "jobs\n"
        assert await gone(f"{tag}-gpu")
        # A poll past its own deadline: killed on the login node, the next one is clean.
        with pytest.raises(CommandTimeout):
            await runner.poll(["sh", "-c", f"sleep 30 # {tag}-timeout\necho late"], timeout=1)
        assert (await runner.poll(["echo", "after"])).stdout == "after\n"
        assert await gone(f"{tag}-timeout")
        # One poll waits for the shell while another holds it; the waiter is cancelled. The
        # holder's answer is its own, and the waiter's wait cost it no deadline.
        holder = asyncio.create_task(runner.poll(["sh", "-c", "sleep 1; echo holder"], timeout=2))
        await asyncio.sleep(0.1)
        waiter = asyncio.create_task(runner.poll(["echo", "waiter"]))
        await asyncio.sleep(0.1)
        waiter.cancel()
        assert (await holder).stdout == "holder\n"
        queued = [asyncio.create_task(runner.poll(["sh", "-c", f"sleep 0.6; echo {i}"], timeout=1))
                  for i in range(4)]  # 2.4 s of queue, 1 s each: nobody times out waiting
        assert [(await q).stdout for q in queued] == ["0\n", "1\n", "2\n", "3\n"]
        # A stream left behind (leaving the log screen) ends on the login node too.
        async def follow() -> None:
            async for _ in runner.stream(["sh", "-c", f"while :; do sleep 1 # {tag}-tail\ndone"]):
                pass
        task = asyncio.create_task(follow())
        await asyncio.sleep(1.5)
        assert remote_left(f"{tag}-tail")
        task.cancel()
        assert await gone(f"{tag}-tail")
        assert runner.connections_opened == 1
    finally:
        await runner.close()


async def test_reconnects_by_itself_after_sshd_restarts(sandbox, sandbox_config, tmp_path):
    with own_sshd(sandbox, tmp_path / "sshd") as login:
        sandbox_config.login.port, sandbox_config.login.known_hosts = login.port, str(login.known_hosts)
        await reconnects_after_a_restart(SshRunner(sandbox_config.login, max_backoff=1), login)


async def reconnects_after_a_restart(runner: SshRunner, login: OwnSshd) -> None:
    try:
        assert (await runner.poll(["echo", "before"])).ok
        login.stop()  # the listener and the session it serves us on
        login.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                res = await runner.poll(["echo", "after"])
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        assert res.stdout == "after\n"
        assert runner.connections_opened == 2
    finally:
        await runner.close()


async def test_unknown_host_key_is_refused_with_a_clear_error(sandbox_config, tmp_path):
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.0.1]:{sandbox_config.login.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIBLSDhL0SDhL0SDhL0SDhL0SDhL0SDhL0SDhL0SDhL0S\n")
    sandbox_config.login.known_hosts = str(other)
    runner = SshRunner(sandbox_config.login)
    with pytest.raises(HostKeyMismatch, match=f"not trusted by {other}"):
        await runner.poll(["true"])
    await runner.close()


async def test_a_missing_known_hosts_file_is_an_error_naming_it(sandbox_config, tmp_path):
    sandbox_config.login.known_hosts = str(tmp_path / "nowhere")
    runner = SshRunner(sandbox_config.login)
    with pytest.raises(SshConfigError, match=f"{tmp_path / 'nowhere'} missing or unreadable"):
        await runner.poll(["true"])
    await runner.close()


async def test_an_ssh_config_that_turns_checking_off_is_refused(sandbox_config, tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n    UserKnownHostsFile /dev/null\n    StrictHostKeyChecking no\n")
    sandbox_config.login.known_hosts = ""
    sandbox_config.login.ssh_config = str(config)
    runner = SshRunner(sandbox_config.login)
    with pytest.raises(SshConfigError, match="turns host-key checking off"):
        await runner.poll(["true"])
    await runner.close()


async def test_every_connection_error_says_why(sandbox_config):
    sandbox_config.login.port = free_port()  # nothing listens
    runner = SshRunner(sandbox_config.login)
    with pytest.raises(Unreachable) as failure:
        await runner.poll(["true"])
    message = str(failure.value)
    assert message.startswith("cannot reach login node ") and message.split(": ", 1)[1].strip(), message
    await runner.close()
