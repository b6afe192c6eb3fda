"""The job's files next to the endpoints file (shared home): written atomically with the team's
mode and group, read without trusting them (a missing or half-written file is no answer)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any


def expand(path: str) -> str:
    """`~/x` and `$HOME/x` as the job's user means them (on the node)."""
    return os.path.expanduser(os.path.expandvars(path)) if path else path


def write_atomic(path: str, text: str, mode: str = "0600", group: str = "") -> None:
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, int(mode, 8))
        if group:
            shutil.chown(tmp, group=group)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str) -> dict[str, Any]:
    """The file's object, or {} when it is missing, unreadable or not (yet) JSON."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class StateFile:
    """A job's (or a node's) own state: merged updates, written whole each time."""

    def __init__(self, path: str, mode: str = "0600", group: str = "") -> None:
        self.path, self.mode, self.group = path, mode, group
        self.data: dict[str, Any] = {}
        self.error = ""

    def update(self, **values: Any) -> bool:
        """Merge and write; a failed write keeps the data (the next update writes it) and is said
        in `error`: the other job reads a missing or old file as no news, never as an answer."""
        self.data.update(values)
        try:
            write_atomic(self.path, json.dumps(self.data, sort_keys=True), self.mode, self.group)
        except OSError as exc:
            self.error = f"cannot write {self.path}: {exc.strerror or exc}"
            return False
        self.error = ""
        return True

    def remove(self) -> None:
        remove(self.path)
