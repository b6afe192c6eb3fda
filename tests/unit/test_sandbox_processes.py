"""Sandbox pid files: a reused pid is never mistaken for (or killed as) one of ours."""

from __future__ import annotations

import os

from codex_console.sandbox.processes import running_pid


def test_a_pid_counts_only_when_it_runs_the_expected_program(tmp_path):
    me = str(os.getpid())
    (tmp_path / "munged.pid").write_text(me)  # alive, but this is pytest, not munged
    assert running_pid(tmp_path / "munged.pid") is None
    (tmp_path / "python.pid").write_text(me)
    assert running_pid(tmp_path / "python.pid") == os.getpid()
    (tmp_path / "gone.pid").write_text("999999999")
    assert running_pid(tmp_path / "gone.pid") is None
    assert running_pid(tmp_path / "missing.pid") is None
