"""A stand-in `neo4j-admin` for the sandbox, keeping Neo4j 5's command line for dump and load.

    python -m codex_console.sandbox.neo4j_admin_standin [--data-dir DIR] database dump <db>
        [--to-path=<dir>] [--overwrite-destination[=true|false]] [--verbose] [--expand-commands]
    python -m codex_console.sandbox.neo4j_admin_standin [--data-dir DIR] database load <db>
        [--from-path=<dir>] [--overwrite-destination[=true|false]] [--verbose] [--expand-commands]

`--data-dir` (default `$NEO4J_HOME/data`) stands for what the real tool reads from neo4j.conf.
As in Neo4j 5: the archive is `<dir>/<db>.dump`; without a path, `<data>/dumps`; a dump or load
is refused while a live process holds the store's locks ("The database is in use. Stop database
'neo4j' and try again."); a dump over an existing archive, or a load over an existing database,
needs `--overwrite-destination`; a failure prints `Failed to dump database '<db>': <why>` and
`Dump failed for databases: '<db>'` and exits 1; a bad command line exits 2. The archive is a
real one: a gzip tar of the database's files (Neo4j's older TAR+GZIP dump format), i.e. the
FalkorDB RDB file of the served graph for `neo4j`. The stand-in serves `neo4j` and `system` only.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
from pathlib import Path

from .neo4j_store import DATABASE_NAME, DATABASES, STORE_FILES, StoreInUse, StoreLayout, take_locks

USAGE = ("Usage: neo4j-admin database (dump|load) <database> [--to-path=<path> | --from-path=<path>] "
         "[--overwrite-destination[=true|false]] [--verbose] [--expand-commands]")
SYSTEM_WARNING = ("WARNING! You are loading a dump of Neo4j's internal system database.\n"
                  "This system database dump may contain unwanted metadata for the DBMS it was taken from;\n"
                  "Loading it should only be done after consulting the Neo4j Operations Manual.\n")


class UsageError(Exception):
    pass


class CommandFailed(Exception):
    pass


def parse(argv: list[str]) -> tuple[Path, str, str, Path | None, bool]:
    """(data dir, action, database, path, overwrite) from the command line, as picocli reads it."""
    data = Path(os.environ.get("NEO4J_HOME", "/var/lib/neo4j")) / "data"
    rest = list(argv)
    if rest[:1] == ["--data-dir"] and len(rest) > 1:
        data, rest = Path(rest[1]).expanduser(), rest[2:]
    elif rest[:1] and rest[0].startswith("--data-dir="):
        data, rest = Path(rest[0].partition("=")[2]).expanduser(), rest[1:]
    if rest[:1] != ["database"] or len(rest) < 2 or rest[1] not in ("dump", "load"):
        raise UsageError(f"Unknown or missing command: {' '.join(rest[:2]) or '(none)'}")
    action, options = rest[1], rest[2:]
    flag = "--to-path" if action == "dump" else "--from-path"
    path: Path | None = None
    overwrite = False
    names: list[str] = []
    i = 0
    while i < len(options):
        option = options[i]
        name, eq, value = option.partition("=")
        if name == flag:
            if not eq:
                i += 1
                if i == len(options):
                    raise UsageError(f"Missing required parameter for option '{flag}' (<path>)")
                value = options[i]
            path = Path(value)
        elif name == "--overwrite-destination":
            if not eq and i + 1 < len(options) and options[i + 1].lower() in ("true", "false"):
                i += 1
                value = options[i]
            if (value or "true").lower() not in ("true", "false"):
                raise UsageError(f"Invalid value for option '--overwrite-destination': '{value}' is not a boolean")
            overwrite = (value or "true").lower() == "true"
        elif name in ("--verbose", "--expand-commands"):
            pass
        elif name in ("--to-stdout", "--from-stdin", "--info"):
            raise UsageError(f"{name} is not supported by the stand-in")
        elif option.startswith("-"):
            raise UsageError(f"Unknown option: '{option}'")
        else:
            names.append(option)
        i += 1
    if len(names) != 1:
        raise UsageError("Missing required parameter: '<database>'" if not names
                         else f"Unmatched arguments: {' '.join(names[1:])}")
    if not DATABASE_NAME.fullmatch(names[0]):
        raise UsageError(f"Invalid value for positional parameter at index 0 (<database>): '{names[0]}' is not a "
                         "valid database name (3 to 63 letters, digits, dots or dashes, starting with a letter)")
    return data, action, names[0], path, overwrite


def folder(path: Path | None, layout: StoreLayout) -> Path:
    if path is None:  # server.directories.dumps.root
        (layout.data / "dumps").mkdir(parents=True, exist_ok=True)
        return layout.data / "dumps"
    if not path.is_dir():
        raise CommandFailed(f"{path} is not an existing directory")
    return path


def dump(layout: StoreLayout, database: str, to: Path, overwrite: bool) -> None:
    if database not in DATABASES or not layout.exists(database):
        raise CommandFailed(f"Database does not exist: {database}")
    archive = (to / f"{database}.dump").absolute()
    handles = lock(layout, database)
    try:
        if archive.exists() and not overwrite:
            raise CommandFailed(f"Archive already exists: {archive}")
        partial = archive.with_name(f".{archive.name}.partial")
        try:
            with tarfile.open(partial, "w:gz") as tar:
                for path in layout.contents(database):
                    tar.add(path, arcname=path.name)
            partial.replace(archive)  # a failed dump never leaves a file that looks whole
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CommandFailed(f"Unable to dump database: {type(exc).__name__}: {exc}") from None
    finally:
        for handle in handles:
            handle.close()


def load(layout: StoreLayout, database: str, source: Path, overwrite: bool) -> None:
    if database not in DATABASES:
        raise CommandFailed(f"the stand-in serves only the databases {', '.join(DATABASES)}, not {database}")
    archive = source / f"{database}.dump"
    if not archive.is_file():
        raise CommandFailed(f"No matching archives found (no {database}.dump in {source})")
    members = read_archive(archive, database)
    if database == "system":
        sys.stderr.write(SYSTEM_WARNING)
    handles = lock(layout, database)
    try:
        if layout.contents(database) and not overwrite:
            raise CommandFailed(f"Database already exists: {database}")
        for path in layout.contents(database):  # everything but the database's lock
            path.unlink()
        for name, data in members.items():
            (layout.database_dir(database) / name).write_bytes(data)
    finally:
        for handle in handles:
            handle.close()


def read_archive(archive: Path, database: str) -> dict[str, bytes]:
    """The archive's files, checked before anything is replaced: plain files with plain names,
    the database's own store file among them."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {}
            for member in tar.getmembers():
                if not member.isfile() or "/" in member.name or member.name in ("", ".", ".."):
                    raise tarfile.TarError(f"unexpected entry {member.name!r}")
                members[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CommandFailed(f"Not a valid Neo4j archive: {archive} ({exc})") from None
    if STORE_FILES[database] not in members:
        raise CommandFailed(f"Not a valid Neo4j archive: {archive} (no {STORE_FILES[database]} in it)")
    return members


def lock(layout: StoreLayout, database: str) -> list[io.BufferedRandom]:
    try:
        return take_locks(layout.locks(database))  # type: ignore[return-value]
    except StoreInUse:
        raise CommandFailed(f"The database is in use. Stop database '{database}' and try again.") from None


def main(argv: list[str] | None = None) -> int:
    try:
        data, action, database, path, overwrite = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"{exc}\n{USAGE}", file=sys.stderr)
        return 2
    layout = StoreLayout(data)
    command = "DumpCommand" if action == "dump" else "LoadCommand"
    try:
        where = folder(path, layout)
        if action == "dump":
            print(f"INFO  [o.n.c.d.{command}] Starting dump of database '{database}'", flush=True)
            dump(layout, database, where, overwrite)
            print(f"INFO  [o.n.c.d.{command}] Dump completed successfully", flush=True)
        else:
            load(layout, database, where, overwrite)
    except CommandFailed as exc:
        verb = "dump" if action == "dump" else "load"
        print(f"ERROR [o.n.c.d.{command}] Failed to {verb} database '{database}': {exc}", flush=True)
        print(f"{verb.capitalize()} failed for databases: '{database}'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
