"""Neo4j dumps for the job's supervisor: the `neo4j-admin` command lines, dated dump folders and
their retention, when a scheduled dump is due, and running `neo4j-admin` with a deadline.

Stopping and starting Neo4j around a dump or load is the supervisor's; nothing here touches the
Neo4j process, Slurm or the endpoints file. Dumps live one folder per dump, named by UTC time so
that names sort by age and hold no `:` (apptainer's `--bind` splits on it):
`<neo4j.dump_dir>/20261204T153000Z/system.dump` and `neo4j.dump`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from ..units import human_bytes

DATABASES = ("system", "neo4j")  # dumped and loaded in this order, as the operations manual does
STAMP = "%Y%m%dT%H%M%SZ"
STAMP_NAME = re.compile(r"\d{8}T\d{6}Z")
DATABASE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.-]{2,62}")  # Neo4j's rule for database names


# -- command lines ---------------------------------------------------------------------------
def expand(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`$VAR`, `${VAR}` and a leading `~` expanded from `environ` (the job's environment)."""
    env = os.environ if environ is None else environ
    text = re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)
    if text == "~" or text.startswith("~/"):
        text = env.get("HOME", "~") + text[1:]
    return text


def admin_prefix(command: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """`neo4j.admin_command` as an argv: split like a shell splits words (quotes), each word's
    variables and `~` expanded, and nothing else a shell does (no globs, pipes or `;`)."""
    if not (words := [expand(word, environ) for word in shlex.split(command)]):
        raise ValueError("neo4j.admin_command is empty")
    return words


def _database(name: str) -> str:
    if DATABASE_NAME.fullmatch(name):
        return name
    raise ValueError(f"not a Neo4j database name: {name!r}")


def dump_argv(prefix: Sequence[str], database: str, to_dir: Path | str, *, overwrite: bool = False) -> list[str]:
    """`neo4j-admin database dump <db> --to-path=<dir>`: writes `<dir>/<db>.dump` (Neo4j 5)."""
    argv = [*prefix, "database", "dump", _database(database), f"--to-path={to_dir}"]
    return argv + (["--overwrite-destination=true"] if overwrite else [])


def load_argv(prefix: Sequence[str], database: str, from_dir: Path | str, *, overwrite: bool = True) -> list[str]:
    """`neo4j-admin database load <db> --from-path=<dir> --overwrite-destination=true`: reads
    `<dir>/<db>.dump`; replacing an existing database needs the overwrite (Neo4j 5)."""
    argv = [*prefix, "database", "load", _database(database), f"--from-path={from_dir}"]
    return argv + (["--overwrite-destination=true"] if overwrite else [])


def admin_target(argv: Sequence[str]) -> tuple[str, str, str]:
    """(action, database, folder) of a dump or load command line; empty strings when not one."""
    for i in range(len(argv) - 1):
        if argv[i] == "database" and argv[i + 1] in ("dump", "load"):
            rest = argv[i + 2:]
            names = [a for a in rest if not a.startswith("-")]
            folder = next((a.partition("=")[2] for a in rest if a.startswith(("--to-path=", "--from-path="))), "")
            return argv[i + 1], (names[0] if names else ""), folder
    return "", "", ""


# -- dump folders ----------------------------------------------------------------------------
def dump_folder(dump_dir: Path, at: datetime) -> Path:
    """The folder of a dump taken at `at` (an aware datetime; named in UTC)."""
    return dump_dir / at.astimezone(timezone.utc).strftime(STAMP)


@dataclass(frozen=True)
class Dump:
    """One dump folder: when it was taken (from its name) and the archives in it with their sizes."""

    folder: Path
    taken: datetime  # UTC
    sizes: tuple[tuple[str, int], ...]  # (database, bytes), in DATABASES order first

    @property
    def complete(self) -> bool:
        return all(db in dict(self.sizes) for db in DATABASES)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.sizes)

    def describe(self, now: datetime) -> str:
        """For a confirmation: `2026-12-04 15:30 UTC (3.0h ago), 12.3 MB: system 80.0 kB, neo4j 12.2 MB`."""
        when = _span((now - self.taken).total_seconds())
        parts = ", ".join(f"{db} {human_bytes(size)}" for db, size in self.sizes)
        return (f"{self.taken.strftime('%Y-%m-%d %H:%M')} UTC ({when} ago), {human_bytes(self.bytes)}: "
                f"{parts or 'no archives'}{'' if self.complete else ' (incomplete)'}")


def read_dump(folder: Path) -> Dump:
    """A dump folder as it is now; taken when its name says, else when its newest file was written."""
    names = [*DATABASES, *sorted(p.stem for p in folder.glob("*.dump") if p.stem not in DATABASES)]
    stats = {db: (folder / f"{db}.dump").stat() for db in names if (folder / f"{db}.dump").is_file()}
    try:
        taken = datetime.strptime(folder.name, STAMP).replace(tzinfo=timezone.utc)
    except ValueError:  # not one of ours
        mtime = max([st.st_mtime for st in stats.values()] or [folder.stat().st_mtime])
        taken = datetime.fromtimestamp(mtime, timezone.utc)
    return Dump(folder, taken, tuple((db, st.st_size) for db, st in stats.items()))


def list_dumps(dump_dir: Path) -> list[Dump]:
    """The dated dump folders, newest first; anything else in the directory is left alone."""
    try:
        folders = [p for p in dump_dir.iterdir() if p.is_dir() and STAMP_NAME.fullmatch(p.name)]
    except OSError:  # none yet
        return []
    return sorted((read_dump(p) for p in folders), key=lambda d: d.taken, reverse=True)


def last_dump(dumps: Sequence[Dump]) -> Dump | None:
    """The newest complete dump (what the dashboard's "last dump" and the schedule count)."""
    return next((d for d in sorted(dumps, key=lambda d: d.taken, reverse=True) if d.complete), None)


def to_prune(dumps: Sequence[Dump], keep: int) -> list[Dump]:
    """Beyond the newest `keep` complete dumps, and incomplete ones (a failed dump) older than the
    newest complete one; an incomplete dump newer than that may still be being written."""
    ordered = sorted(dumps, key=lambda d: d.taken, reverse=True)
    complete = [d for d in ordered if d.complete]
    newest = complete[0].taken if complete else None
    old_complete = complete[max(1, keep):]
    failed = [d for d in ordered if not d.complete and newest is not None and d.taken < newest]
    return sorted(old_complete + failed, key=lambda d: d.taken)


def prune(dump_dir: Path, keep: int) -> list[Path]:
    """Remove what `to_prune` names; returns the folders removed."""
    removed = [dump.folder for dump in to_prune(list_dumps(dump_dir), keep)]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def load_source(path: Path) -> tuple[Dump, tuple[str, ...]]:
    """What `serve neo4j-load PATH` would load: a dump folder (its archives), or one `<db>.dump`
    file (that database alone, from its folder). Raises ValueError saying why it cannot."""
    if path.is_dir():
        if not (dump := read_dump(path)).sizes:
            raise ValueError(f"{path}: no <database>.dump archives in it")
        return dump, tuple(db for db, _ in dump.sizes)
    if not path.is_file():
        raise ValueError(f"{path}: no such dump file or folder")
    if path.suffix != ".dump" or not DATABASE_NAME.fullmatch(path.stem):
        raise ValueError(f"{path}: neo4j-admin loads <database>.dump from a folder (e.g. neo4j.dump)")
    dump = read_dump(path.parent)
    return Dump(dump.folder, dump.taken, tuple((db, s) for db, s in dump.sizes if db == path.stem)), (path.stem,)


# -- the schedule ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleState:
    """What the supervisor knows when it asks whether to dump now (times are epoch seconds)."""

    now: float
    every: float  # neo4j.dump_every in seconds; 0: no scheduled dumps
    last_dump: float | None  # the newest complete dump's time (from its folder name)
    end_time: float | None = None  # the job's time limit
    handover_lead: float = 0.0  # services.rollover_lead: the hand-over starts this long before the limit
    expected: float = 300.0  # how long the dump keeps Neo4j stopped (the last one's outage, if known)
    last_traffic: float | None = None  # the last request seen (embed or Bolt); None: not known
    busy: str = ""  # why nothing may stop Neo4j now (a hand-over, a load...); "" when nothing


@dataclass(frozen=True)
class DumpDecision:
    due: bool
    reason: str
    check_again: float  # seconds until the answer may change


QUIET_FOR = 60.0  # a quiet moment: no traffic seen for this long
MAX_QUIET_WAIT = 3600.0  # past this much overdue, a dump waits no longer for a quiet moment


def dump_decision(s: ScheduleState, quiet_for: float = QUIET_FOR, max_wait: float = MAX_QUIET_WAIT) -> DumpDecision:
    """Whether a scheduled dump starts now: it is due (`every` after the last one, at once when
    there is none), nothing else holds Neo4j, it would end before the hand-over's lead before the
    time limit (the successor's job dumps then), and it is a quiet moment (no traffic for
    `quiet_for` s when traffic is known; past `max_wait` overdue it waits no longer)."""
    if s.every <= 0:
        return DumpDecision(False, "scheduled dumps are off (neo4j.dump_every = 0)", 3600.0)
    if s.busy:
        return DumpDecision(False, f"not now: {s.busy}", 30.0)
    due_at = s.now if s.last_dump is None else s.last_dump + s.every
    if s.now < due_at:
        return DumpDecision(False, f"next dump in {_span(due_at - s.now)}", due_at - s.now)
    if s.end_time is not None and s.now >= s.end_time - s.handover_lead - s.expected:
        return DumpDecision(False, f"too close to the hand-over ({_span(s.end_time - s.now)} to the time limit, "
                                   f"lead {_span(s.handover_lead)}): the next job dumps", max(60.0, s.end_time - s.now))
    overdue = s.now - due_at
    since = "no dump yet" if s.last_dump is None else f"last dump {_span(s.now - s.last_dump)} ago"
    if s.last_traffic is not None and s.now - s.last_traffic < quiet_for:
        wait = min(quiet_for - (s.now - s.last_traffic), max_wait - overdue)
        if wait > 0:
            return DumpDecision(False, f"due ({since}), waiting for a quiet moment", max(1.0, wait))
        return DumpDecision(True, f"due ({since}); overdue {_span(overdue)}: not waiting for a quiet moment", 0.0)
    return DumpDecision(True, f"due ({since}, every {_span(s.every)})", 0.0)


def dump_overdue(now: float, last_dump: float | None, every: float) -> bool:
    """Older than twice the schedule (the check's WARNING); never when dumps are off."""
    return every > 0 and (last_dump is None or now - last_dump > 2 * every)


def _span(seconds: float) -> str:
    s = max(0.0, seconds)
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.1f}h"
