"""The Neo4j store contract the sandbox's stand-ins share: where things live, and the store locks.

The names are Neo4j 5's: `<data>/databases/store_lock` is the DBMS's lock and
`<data>/databases/<db>/database_lock` each database's. Both are fcntl (POSIX) record locks, as
the JVM takes them on Linux: held while the holder lives, released by the kernel when it dies,
and the files stay behind unlocked. What is stored differs (the sandbox serves Bolt with
FalkorDB): the `neo4j` database is FalkorDB's RDB file, `system` a small JSON file.
"""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DATABASES = ("neo4j", "system")  # what the stand-in serves
STORE_FILES = {"neo4j": "neo4j.rdb", "system": "system.json"}  # a database exists when its file does
DATABASE_LOCK = "database_lock"
# Neo4j's rule for database names: 3 to 63 characters, a letter first, then letters, digits, dots, dashes.
DATABASE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.-]{2,62}")


class StoreInUse(Exception):
    """A live process holds one of the store's locks."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is locked by {holder}")
        self.path = path
        self.holder = holder


@dataclass(frozen=True)
class StoreLayout:
    data: Path  # Neo4j's data directory (`/data` in the image)

    @property
    def databases(self) -> Path:
        return self.data / "databases"

    @property
    def store_lock(self) -> Path:
        return self.databases / "store_lock"

    def database_dir(self, database: str) -> Path:
        return self.databases / database

    def database_lock(self, database: str) -> Path:
        return self.database_dir(database) / DATABASE_LOCK

    def store_file(self, database: str) -> Path:
        return self.database_dir(database) / STORE_FILES[database]

    def exists(self, database: str) -> bool:
        return self.store_file(database).is_file()

    def contents(self, database: str) -> list[Path]:
        """The database's files, its lock left out (what a dump holds and a load replaces)."""
        folder = self.database_dir(database)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.name != DATABASE_LOCK)

    def locks(self, database: str | None = None) -> list[Path]:
        """The DBMS lock, then the given database's lock (or every database's)."""
        return [self.store_lock, *(self.database_lock(db) for db in ([database] if database else DATABASES))]


def lock_holder(path: Path) -> int | None:
    """The pid holding a lock on `path`, from /proc/locks (None when no process on this machine does)."""
    try:
        st = path.stat()
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    device = (os.major(st.st_dev), os.minor(st.st_dev))
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6 or not fields[4].isdigit():  # a waiter, not a holder
            continue
        major, minor, inode = (fields[5].split(":") + ["", "", ""])[:3]
        try:
            if inode == str(st.st_ino) and (int(major, 16), int(minor, 16)) == device:
                return int(fields[4])
        except ValueError:
            continue
    return None


def take_lock(path: Path) -> IO[bytes]:
    """Lock `path` (created when missing) for as long as the returned file stays open in this
    process; raises StoreInUse, naming the holder, when a live process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "ab+")  # noqa: SIM115 - the open file is the lock
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        pid = lock_holder(path)
        raise StoreInUse(path, f"pid {pid}" if pid else "a process on another node") from None
    return handle


def take_locks(paths: list[Path]) -> list[IO[bytes]]:
    """Every lock or none: on a held one, those already taken are let go."""
    taken: list[IO[bytes]] = []
    try:
        for path in paths:
            taken.append(take_lock(path))
    except StoreInUse:
        for handle in taken:
            handle.close()
        raise
    return taken


def keep_across_exec(handles: list[IO[bytes]]) -> None:
    """Let the locks' file descriptors survive exec, so the program exec'd holds the locks."""
    for handle in handles:
        os.set_inheritable(handle.fileno(), True)
