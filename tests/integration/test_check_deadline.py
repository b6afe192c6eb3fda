"""The check ends within its deadline however the login node fails: one that takes the TCP
connection and never speaks (a hung sshd) is the worst, and `-t 3` must still end the process
within 3.5 s of its start. Its output survives a reader that went away. No sandbox needed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

SILENT_CONFIG = """[login]
host = "127.0.0.1"
port = {port}
user = "nobody"
identity = "{home}/no-such-key"
known_hosts = "{home}/known_hosts"
ssh_config = "none"
"""


@pytest.fixture
def silent_login(tmp_path: Path) -> Iterator[Path]:
    """A config whose login node accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    (tmp_path / "known_hosts").write_text("")
    path = tmp_path / "config.toml"
    path.write_text(SILENT_CONFIG.format(port=server.getsockname()[1], home=tmp_path))
    try:
        yield path
    finally:
        server.close()
        for conn in held:
            conn.close()


def check_argv(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "codex_console.cli", "--config", str(config), "--check", *args]


def test_a_login_node_that_never_answers_ends_the_check_within_its_deadline(silent_login):
    start = time.monotonic()
    out = subprocess.run(check_argv(silent_login, "-t", "3:CRITICAL"), capture_output=True, text=True, timeout=60)
    took = time.monotonic() - start
    assert out.returncode == 2 and out.stdout.startswith("CODEX CRITICAL - job timed out after 3s"), out
    assert out.stderr == ""
    assert took < 3.5, f"the check ran {took:.2f}s with -t 3"  # Nagios kills a plugin that overruns


def test_a_reader_that_went_away_costs_the_output_not_the_exit_code(silent_login):
    """`--check | head -1` at its worst: the reader is gone before the check writes a byte."""
    read, write = os.pipe()
    os.close(read)
    try:
        out = subprocess.run(check_argv(silent_login, "-t", "1:WARNING"), stdout=write, stderr=subprocess.PIPE,
                             text=True, timeout=60)
    finally:
        os.close(write)
    assert out.returncode == 1 and out.stderr == ""  # WARNING, as -t asked, and no traceback
