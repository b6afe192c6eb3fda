"""Pick the runner the config asks for: local, asyncssh, or the user's OpenSSH."""

from __future__ import annotations

from ..config import Config
from .login_auth import Prompter
from .openssh import OpenSshRunner
from .runner import LocalRunner, Runner
from .ssh import SshRunner


def make_runner(cfg: Config, prompter: Prompter | None = None) -> Runner:
    """`prompter` answers keyboard-interactive questions (asyncssh only; OpenSSH asks by
    itself in `login_interactively`); None means never ask (the check, scripts)."""
    if cfg.login.local:
        return LocalRunner(cfg.login.command_timeout)
    if cfg.login.transport == "openssh":
        return OpenSshRunner(cfg.login)
    return SshRunner(cfg.login, prompter=prompter)
