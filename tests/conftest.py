"""Shared fixtures: the real sandbox cluster (Slurm, sshd, Bolt) and its console config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_console import config
from codex_console.sandbox.layout import SandboxLayout
from codex_console.sandbox.processes import running_pid

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def sandbox() -> SandboxLayout:
    """The running sandbox. Under scripts/run-tests (CODEX_REQUIRE_SANDBOX=1) its absence fails."""
    layout = SandboxLayout.from_env()
    missing = [n for n in ("munged", "slurmctld", "slurmd", "sshd", "gateway", "mfa", "bolt")
               if running_pid(layout.pid_file(n)) is None]
    if missing or not layout.config_file.exists():
        message = f"sandbox not up ({', '.join(missing) or 'no config'}): run `codex-console sandbox up`"
        if os.environ.get("CODEX_REQUIRE_SANDBOX") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return layout


@pytest.fixture
def sandbox_config(sandbox: SandboxLayout, tmp_path: Path) -> config.Config:
    """The sandbox's console config, with tunnel state and the endpoints file kept per test."""
    cfg = config.load(str(sandbox.config_file), environ={})
    cfg.tunnels.state_dir = str(tmp_path / "tunnels")
    return cfg
