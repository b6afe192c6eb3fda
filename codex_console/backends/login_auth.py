"""Logins that ask questions (password, one-time code): who answers them, and what to say when
nobody may (the headless check never prompts). Answers are passed on, never stored."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Awaitable, Callable, Sequence

import asyncssh

# (prompt text, echo) pairs in, answers out; None: do not answer (give up this method).
Prompter = Callable[[str, Sequence[tuple[str, bool]]], Awaitable[list[str] | None]]

NO_PROMPT_HINT = ("the login node asks keyboard-interactive questions (password, one-time code) "
                  "and this command never prompts: use an SSH key, or an OpenSSH master connection "
                  '(login.transport = "openssh", then `codex-console login` once), see README "Logins"')


class _AuthClient(asyncssh.SSHClient):
    def __init__(self, prompter: Prompter | None) -> None:
        self.prompter = prompter
        self.asked = False  # the server wanted answers (whether or not we could give them)

    def kbdint_auth_requested(self) -> str | None:
        self.asked = True
        return "" if self.prompter is not None else None

    async def kbdint_challenge_received(self, name: str, instructions: str, lang: str,
                                        prompts: Sequence[tuple[str, bool]]) -> list[str] | None:
        if not prompts:
            return []
        if self.prompter is None:
            return None
        header = "\n".join(x for x in (name, instructions) if x)
        return await self.prompter(header, prompts)

    def password_auth_requested(self) -> str | None:
        self.asked = True
        return None  # password logins go through keyboard-interactive, which can say more


def auth_client_factory(prompter: Prompter | None) -> Callable[[], asyncssh.SSHClient]:
    return lambda: _AuthClient(prompter)


def describe_failure(exc: BaseException, prompter: Prompter | None) -> str:
    """The reason a connection failed, never an empty string."""
    if isinstance(exc, asyncssh.PermissionDenied) and prompter is None:
        return f"permission denied ({exc.reason}); {NO_PROMPT_HINT}"
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


async def terminal_prompter(header: str, prompts: Sequence[tuple[str, bool]]) -> list[str] | None:
    """Ask on the terminal (before the dashboard takes it over); hidden input unless echo."""
    if not sys.stdin.isatty():
        return None

    def ask() -> list[str]:
        if header:
            print(header, file=sys.stderr)
        return [input(text) if echo else getpass.getpass(text) for text, echo in prompts]

    try:
        return await asyncio.to_thread(ask)
    except (EOFError, KeyboardInterrupt):
        return None
