"""Pick the runner the config asks for."""

from __future__ import annotations

from ..config import Config
from .runner import LocalRunner, Runner
from .ssh import SshRunner


def make_runner(cfg: Config) -> Runner:
    if cfg.login.local:
        return LocalRunner(cfg.login.command_timeout)
    return SshRunner(cfg.login)
