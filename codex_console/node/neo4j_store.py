"""Neo4j's store on the node: its lock, its memory, and the filesystem it lives on.

A store opens only once: its lock file is removed only when no live process holds an OS lock
on it (Neo4j's own fcntl lock, or one held from another node of a shared filesystem), else
Neo4j waits and the job says who holds it. Heap (initial = max) and page cache are sized from
the job's memory by Neo4j's rule: leave the system its share, give the heap a part, the page
cache the rest. Network filesystems (NFS, Lustre...) do not keep Neo4j's locks reliably
(neo4j/neo4j#10625, #12698): the job warns when the store lives on one.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

UNTRUSTED = ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "cifs", "smb3", "fuse.sshfs", "ceph", "fuse.glusterfs")
MB = 1024 * 1024


def lock_holder(path: str) -> str:
    """Who holds an OS-level lock (fcntl or flock) on the file; "" when it is free or missing."""
    try:
        inode = os.stat(path).st_ino
    except OSError:
        return ""
    pids = set()
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            words = line.split()
            # 1: POSIX  ADVISORY  WRITE 1234 08:01:5678 0 EOF   (or "-> ..." for a waiter)
            if len(words) >= 6 and words[1] != "->" and words[5].rsplit(":", 1)[-1] == str(inode):
                pids.add(words[4])
    except OSError:
        pass
    if pids:
        return "pid " + " ".join(sorted(pids, key=int))
    try:  # not held on this node; a shared filesystem may hold it for another node
        with open(path, "rb+") as fh:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return "a process on another node"
    return ""


def store_free(path: str) -> tuple[bool, str]:
    """(may Neo4j start, what happened): a stale lock file is removed; a held one keeps Neo4j waiting."""
    if not path or not os.path.exists(path):
        return True, ""
    holder = lock_holder(path)
    if holder:
        return False, f"Neo4j store is in use: {path} is held by {holder}; not starting a second Neo4j"
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return False, f"cannot remove the stale Neo4j lock {path}: {exc.strerror}"
    return True, f"removing stale Neo4j lock {path} (no live process holds it)"


@dataclass(frozen=True)
class Memory:
    heap: str  # e.g. "12g": initial and max
    pagecache: str
    source: str  # "set" or what it was sized from

    def env(self) -> dict[str, str]:
        """The settings as Neo4j's image entrypoint reads them (`apptainer run`, docker), Neo4j 5 and 4
        names; a `neo4j console` of its own reads neo4j.conf instead (the README says how)."""
        return {"NEO4J_server_memory_heap_initial__size": self.heap,
                "NEO4J_server_memory_heap_max__size": self.heap,
                "NEO4J_server_memory_pagecache_size": self.pagecache,
                "NEO4J_dbms_memory_heap_initial__size": self.heap,
                "NEO4J_dbms_memory_heap_max__size": self.heap,
                "NEO4J_dbms_memory_pagecache_size": self.pagecache}


def system_reserve_mb(total_mb: int) -> int:
    """What the system keeps: 1 GB on small allocations, 2 GB from 16 GB up."""
    return 1024 if total_mb < 16 * 1024 else 2048


def size_memory(total_mb: int, heap: str = "", pagecache: str = "", other_mb: int = 0) -> Memory:
    """Heap and page cache for a Neo4j that may use `total_mb` minus what the job's other services
    on the node take (`other_mb`): the system keeps 1-2 GB, the heap gets 40% of the rest (at most
    31 GB: compressed pointers), the page cache what is left. Settings given win."""
    free = max(512, total_mb - other_mb - system_reserve_mb(total_mb))
    auto_heap = max(256, min(31 * 1024, free * 2 // 5))
    auto_cache = max(128, free - auto_heap)
    source = "set" if heap and pagecache else f"sized from {total_mb} MB of the job's memory"
    return Memory(heap or f"{auto_heap}m", pagecache or f"{auto_cache}m", source)


def filesystem(path: str) -> str:
    """The type of the filesystem `path` (or its nearest existing parent) lives on."""
    target = os.path.realpath(path)
    while not os.path.exists(target) and target != "/":
        target = os.path.dirname(target)
    best, kind = "", ""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        words = line.split()
        if len(words) >= 3:
            mount = words[1].replace("\\040", " ")
            if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                best, kind = mount, words[2]
    return kind


def locking_warning(path: str) -> str:
    """A warning when the store is on a filesystem whose locks Neo4j cannot trust; else ""."""
    if not path:
        return ""
    kind = filesystem(path)
    if kind in UNTRUSTED:
        return (f"the Neo4j store ({os.path.dirname(path)}) is on {kind}, whose file locks Neo4j cannot trust "
                "(neo4j/neo4j#10625, #12698): two Neo4j could open it at once; put it on a local disk")
    return ""
