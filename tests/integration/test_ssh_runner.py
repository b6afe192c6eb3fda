"""The SSH runner against the sandbox's real sshd: one connection, fast polls, quoting, recovery."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from codex_console.backends.runner import CommandTimeout, LocalRunner
from codex_console.backends.ssh import HostKeyMismatch, SshRunner
from codex_console.sandbox import sshd
from codex_console.sandbox.manager import _children
from codex_console.pids import stop_pid
from codex_console.sandbox.processes import running_pid


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


async def test_a_hung_poll_is_killed_and_the_next_one_works(sandbox_config):
    runner = SshRunner(sandbox_config.login)
    try:
        with pytest.raises(CommandTimeout):
            await runner.poll(["sleep", "30"], timeout=1)
        assert (await runner.poll(["echo", "alive"])).stdout == "alive\n"
        assert runner.connections_opened == 1
    finally:
        await runner.close()


async def test_reconnects_by_itself_after_sshd_restarts(sandbox, sandbox_config):
    runner = SshRunner(sandbox_config.login, max_backoff=1)
    try:
        assert (await runner.poll(["echo", "before"])).ok
        pid = running_pid(sandbox.pid_file("sshd"))
        for p in [pid, *_children(pid)]:  # the listener and the session it serves us on
            stop_pid(p)
        sshd.start(sandbox)
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
    with pytest.raises(HostKeyMismatch, match="not trusted"):
        await runner.poll(["true"])
    await runner.close()
