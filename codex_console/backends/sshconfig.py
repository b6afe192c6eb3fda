"""The login node as the user's OpenSSH sees it: `ssh -G` resolves aliases, Match blocks,
Include, ProxyJump and the rest of ~/.ssh/config; the console's own settings override it.

Both transports use this: the asyncssh connection takes the resolved values, and every `ssh`
argv (tunnels, the OpenSSH transport) carries the same overrides, so the two never disagree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..config import LoginConfig
from .runner import Unreachable

NO_CHECKING = {"/dev/null", "none"}


class SshConfigError(Unreachable):
    """The user's ssh setup cannot be used safely (no known_hosts, checking turned off)."""


@dataclass(frozen=True)
class SshTarget:
    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]
    identities_only: bool
    known_hosts: tuple[str, ...]  # existing, readable files only
    proxy_jump: tuple[str, ...]  # hops, as written (aliases or user@host:port)
    proxy_command: str
    options: dict[str, str]  # everything `ssh -G` said

    @property
    def label(self) -> str:
        return self.alias if self.alias == self.hostname else f"{self.alias} ({self.hostname}:{self.port})"


def config_file_args(login: LoginConfig) -> list[str]:
    """`-F` when the console names an ssh config file other than ~/.ssh/config (or none)."""
    if not login.ssh_config:
        return []
    return ["-F", login.ssh_config if login.ssh_config == "none" else str(Path(login.ssh_config).expanduser())]


def override_args(login: LoginConfig) -> list[str]:
    """The `ssh` options the console's config sets; unset keys leave ~/.ssh/config in charge."""
    args = config_file_args(login)
    if login.port:
        args += ["-p", str(login.port)]
    if login.user:
        args += ["-l", login.user]
    if login.identity:
        args += ["-i", str(Path(login.identity).expanduser()), "-o", "IdentitiesOnly=yes"]
    if login.known_hosts:
        args += ["-o", f"UserKnownHostsFile={Path(login.known_hosts).expanduser()}"]
    return args


def _expand(path: str) -> str:
    return os.path.expanduser(path)


def parse_dump(text: str) -> dict[str, list[str]]:
    """`ssh -G` output: `key value` lines; some keys repeat (identityfile)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            found.setdefault(key.lower(), []).append(value.strip())
    return found


def resolve(host: str, extra: list[str] | None = None, *, check_keys: bool = True) -> SshTarget:
    """What OpenSSH would use to reach `host` (an alias or a name), with `extra` overrides."""
    if shutil.which("ssh") is None:
        raise SshConfigError("the OpenSSH client (`ssh`) is not installed: it reads ~/.ssh/config "
                             "for the console; install openssh-client")
    try:
        out = subprocess.run(["ssh", "-G", *(extra or []), host], capture_output=True, text=True,
                             timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SshConfigError(f"`ssh -G {host}` failed: {exc}") from None
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise SshConfigError(f"your ssh config does not resolve {host!r}: {reason}")
    opts = parse_dump(out.stdout)
    one = {k: v[0] for k, v in opts.items()}
    known = [_expand(p) for v in opts.get("userknownhostsfile", []) for p in v.split()]
    globals_ = [p for v in opts.get("globalknownhostsfile", []) for p in v.split()]
    if check_keys:
        _check_checking(host, one, known)
    usable = tuple(p for p in known + globals_ if os.access(p, os.R_OK))
    if check_keys and not any(os.access(p, os.R_OK) for p in known + globals_):
        raise SshConfigError(
            f"no known_hosts file to check {host}'s host key against: "
            f"{', '.join(known) or '(none configured)'} missing or unreadable. Connect once with "
            f"`ssh {host}` to record the key, or set login.known_hosts.")
    jump = one.get("proxyjump", "none")
    return SshTarget(
        alias=host, hostname=one.get("hostname", host), port=int(one.get("port", "22")),
        user=one.get("user", ""), identity_files=tuple(_expand(p) for p in opts.get("identityfile", [])),
        identities_only=one.get("identitiesonly", "no") == "yes", known_hosts=usable,
        proxy_jump=() if jump == "none" else tuple(h for h in jump.split(",") if h),
        proxy_command="" if one.get("proxycommand", "none") == "none" else one["proxycommand"],
        options=one)


def _check_checking(host: str, one: dict[str, str], known: list[str]) -> None:
    off = [p for p in known if p in NO_CHECKING]
    if off or one.get("stricthostkeychecking") in ("no", "off") and not known:
        raise SshConfigError(
            f"your ssh config turns host-key checking off for {host} "
            f"(UserKnownHostsFile {' '.join(off) or '?'}); the console never accepts an unchecked "
            "host key: point UserKnownHostsFile at a real file (or set login.known_hosts)")
