"""Shared fixtures: the real sandbox cluster (Slurm, sshd, Bolt) and its console config."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
from pathlib import Path

import pytest

from codex_console import config
from codex_console.sandbox.layout import SandboxLayout
from codex_console.sandbox.processes import running_pid

from .helpers import for_this_stream

FIXTURES = Path(__file__).parent / "fixtures"


def _dump_tasks(nodeid: str) -> None:
    """Every unfinished asyncio task's stack: what a hung async test was waiting on (the
    timeout's own report shows threads only, and the event loop's thread is idle in select)."""
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    print(f"\n--- {nodeid}: {len(tasks)} asyncio tasks pending near the timeout ---", file=sys.stderr)
    for task in tasks:
        try:
            task.print_stack(limit=12, file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - a task that finished meanwhile
            print(f"{task.get_name()}: {exc!r}", file=sys.stderr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    marker = item.get_closest_marker("timeout")
    given = (marker.args[0] if marker.args else marker.kwargs.get("timeout")) if marker else None
    if given is None:
        given = item.config.getoption("timeout", None) or item.config.getini("timeout")
    limit = float(given or 0)
    timer = threading.Timer(max(1.0, limit - 10), _dump_tasks, args=(item.nodeid,)) if limit else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        return (yield)
    finally:
        if timer is not None:
            timer.cancel()


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


@pytest.fixture(scope="session")
def accounting(sandbox: SandboxLayout) -> SandboxLayout:
    """The sandbox with Slurm accounting (slurmdbd and its MariaDB) running."""
    missing = [n for n in ("mariadb", "slurmdbd") if running_pid(sandbox.pid_file(n)) is None]
    if missing:
        message = f"sandbox without accounting ({', '.join(missing)}): run `codex-console sandbox up`"
        if os.environ.get("CODEX_REQUIRE_SANDBOX") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return sandbox


@pytest.fixture
def sandbox_config(sandbox: SandboxLayout, tmp_path: Path) -> config.Config:
    """The sandbox's console config, with tunnel state and the endpoints file kept per test."""
    cfg = for_this_stream(config.load(str(sandbox.config_file), environ={}))
    cfg.tunnels.state_dir = str(tmp_path / "tunnels")
    return cfg
