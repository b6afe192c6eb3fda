"""Starting the dashboard: the one place in the TUI that builds the cluster facade.

Before the dashboard takes the terminal, the login node is reached once: a login that asks
questions (password, one-time code) asks them here, in the plain terminal, and the connection
that answers them is the one the console keeps. The answers are never stored.
"""

from __future__ import annotations

import asyncio
import sys

from ..backends.cluster import Cluster
from ..backends.login_auth import terminal_prompter
from ..backends.openssh import OpenSshRunner
from ..backends.runner import RemoteError
from ..backends.ssh import SshRunner
from ..config import Config
from ..session import ConsoleSession
from .app import CodexApp


async def connect_first(cluster: Cluster) -> None:
    """Log in before the dashboard opens; a failure is shown by the dashboard, not here."""
    runner = cluster.runner
    try:
        if isinstance(runner, OpenSshRunner) and not await runner.master_up() and sys.stdin.isatty():
            print(f"codex-console: logging in to {cluster.cfg.login.host} (OpenSSH asks its own questions)")
            await asyncio.to_thread(runner.login_interactively)
        elif isinstance(runner, SshRunner):
            await runner.connection()
    except RemoteError as exc:
        print(f"codex-console: {exc}", file=sys.stderr)
    if isinstance(runner, SshRunner):
        runner.prompter = None  # the dashboard owns the terminal from here on


async def _main(cfg: Config) -> int:
    cluster = Cluster(cfg, prompter=terminal_prompter, stream_gpu=True)
    await connect_first(cluster)
    app = CodexApp(ConsoleSession(cluster), readonly=cfg.ui.readonly, local=cfg.login.local,
                   where=cluster.describe(), window=cfg.ui.chart_window)
    await app.run_async()
    return app.return_code or 0


def run_app(cfg: Config) -> int:
    return asyncio.run(_main(cfg))
