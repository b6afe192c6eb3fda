"""The API key: read from a file only when the file is safe to trust, and where serving needs one."""

from __future__ import annotations

import ipaddress
import os
import stat


class KeyFileError(ValueError):
    """A key file the server refuses to start with."""


def read_key_file(path: str) -> str:
    """The key in `path`: refused when missing, empty, or readable or writable by others.

    Group-readable (0640) is fine: teams share a key through a group."""
    try:
        mode = os.stat(path).st_mode
        with open(path, encoding="utf-8") as fh:
            key = fh.read().strip()
    except OSError as exc:
        raise KeyFileError(f"cannot read the API key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"the API key file {path} is not text") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise KeyFileError(f"the API key file {path} is readable or writable by others (mode "
                           f"{stat.S_IMODE(mode):04o}); run: chmod o-rwx {path}")
    if not key:
        raise KeyFileError(f"the API key file {path} is empty")
    return key


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
