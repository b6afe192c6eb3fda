"""Slurm accounting for the sandbox, the way clusters run it: Debian's MariaDB (a data directory,
socket and port of the sandbox's own), slurmdbd in front of it, and the cluster, an account and
the login user registered with sacctmgr. `sacct` then answers for finished jobs.

Started after munged and before slurmctld (which reports every job to slurmdbd), stopped after
slurmctld, by pid like the rest.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from ..pids import wait_for
from .layout import SandboxLayout
from .processes import running_pid, start_daemon

SLURMDBD_CONF = Path("/etc/slurm/slurmdbd.conf")
MARKER = "# written by codex-console sandbox"
MARIADB_PORT = 17306  # not 3306: a MariaDB of the machine's own may run there
DBD_PORT = 6819
DATABASE = "slurm_acct_db"
CLUSTER = "sandbox"  # slurm.conf's ClusterName
ACCOUNT = "codex"


def slurm_conf_block(layout: SandboxLayout) -> str:
    """The lines slurm.conf needs to report every job to slurmdbd."""
    return ("AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\n"
            f"AccountingStoragePort={DBD_PORT}\n")


def data_dir(layout: SandboxLayout) -> Path:
    return layout.root / "mariadb"


def socket_path(layout: SandboxLayout) -> Path:
    return data_dir(layout) / "mysqld.sock"


def password(layout: SandboxLayout) -> str:
    path = layout.root / "slurmdbd.password"
    if not path.exists():
        path.write_text(secrets.token_hex(16))
        path.chmod(0o600)
    return path.read_text().strip()


def slurmdbd_conf(layout: SandboxLayout) -> str:
    return f"""{MARKER}
AuthType=auth/munge
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort={DBD_PORT}
SlurmUser=root
PidFile={layout.pid_file('slurmdbd')}
LogFile={layout.log}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={MARIADB_PORT}
StorageUser=slurm
StoragePass={password(layout)}
StorageLoc={DATABASE}
"""


def write_files(layout: SandboxLayout) -> None:
    if SLURMDBD_CONF.exists() and MARKER not in SLURMDBD_CONF.read_text():
        raise RuntimeError(f"{SLURMDBD_CONF} exists and was not written by the sandbox; refusing to replace it")
    SLURMDBD_CONF.parent.mkdir(parents=True, exist_ok=True)
    SLURMDBD_CONF.write_text(slurmdbd_conf(layout))
    SLURMDBD_CONF.chmod(0o600)  # slurmdbd refuses a config others can read (it holds the password)


def mariadb_argv(layout: SandboxLayout) -> list[str]:
    return ["mariadbd", "--no-defaults", f"--datadir={data_dir(layout)}", f"--socket={socket_path(layout)}",
            f"--port={MARIADB_PORT}", "--bind-address=127.0.0.1", f"--pid-file={layout.pid_file('mariadb')}",
            f"--log-error={layout.log / 'mariadb.log'}", "--user=root", "--skip-name-resolve"]


def sql(layout: SandboxLayout, statement: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mariadb", "--no-defaults", f"--socket={socket_path(layout)}", "-u", "root", "-e",
                           statement], capture_output=True, text=True)


def start_mariadb(layout: SandboxLayout) -> list[str]:
    pid_file = layout.pid_file("mariadb")
    if running_pid(pid_file) is not None:
        return []
    if not (data_dir(layout) / "mysql").is_dir():
        data_dir(layout).mkdir(parents=True, exist_ok=True)
        with (layout.log / "mariadb.start.log").open("ab") as log:
            subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data_dir(layout)}", "--user=root",
                            "--auth-root-authentication-method=socket", "--skip-test-db"],
                           check=True, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    pid_file.unlink(missing_ok=True)
    with (layout.log / "mariadb.start.log").open("ab") as log:  # mariadbd stays in front: detach it
        subprocess.Popen(mariadb_argv(layout), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True)
    if not wait_for(lambda: running_pid(pid_file) is not None and sql(layout, "SELECT 1").returncode == 0, 60, 0.2):
        raise RuntimeError(f"mariadbd did not start; see {layout.log / 'mariadb.log'}")
    pw = password(layout)
    grant = sql(layout, f"CREATE DATABASE IF NOT EXISTS {DATABASE}; "
                        f"CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{pw}'; "
                        f"ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{pw}'; "
                        f"GRANT ALL ON {DATABASE}.* TO 'slurm'@'127.0.0.1';")
    if grant.returncode:
        raise RuntimeError(f"could not create the accounting database: {grant.stderr.strip()}")
    return ["mariadb"]


def sacctmgr(*words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sacctmgr", "-i", *words], capture_output=True, text=True)


def register(user: str) -> None:
    """The cluster, one account and the login user in it (each once: `sacctmgr show` first)."""
    listed = subprocess.run(["sacctmgr", "-n", "-P", "show", "cluster", "format=Cluster"], capture_output=True,
                            text=True)
    if CLUSTER not in listed.stdout.split():
        sacctmgr("add", "cluster", CLUSTER)
    assoc = subprocess.run(["sacctmgr", "-n", "-P", "show", "assoc", f"user={user}", "format=Account"],
                           capture_output=True, text=True)
    if ACCOUNT not in assoc.stdout.split():
        sacctmgr("add", "account", ACCOUNT, f"cluster={CLUSTER}", "description=codex-console sandbox",
                 "organization=codex")
        sacctmgr("add", "user", user, f"account={ACCOUNT}", f"defaultaccount={ACCOUNT}", f"cluster={CLUSTER}")


def start(layout: SandboxLayout, user: str) -> list[str]:
    """MariaDB, slurmdbd, and the registrations: what slurmctld needs before it starts."""
    write_files(layout)
    started = start_mariadb(layout)
    if running_pid(layout.pid_file("slurmdbd")) is None:
        start_daemon(["slurmdbd"], layout.pid_file("slurmdbd"), layout.log / "slurmdbd.start.log")
        started.append("slurmdbd")
    ok = wait_for(lambda: subprocess.run(["sacctmgr", "-n", "show", "cluster"], capture_output=True).returncode == 0,
                  30, 0.3)
    if not ok:
        raise RuntimeError(f"slurmdbd does not answer sacctmgr; see {layout.log / 'slurmdbd.log'}")
    register(user)
    return started


def controller_reports_to_it() -> bool:
    """Whether the running slurmctld was started with accounting (slurm.conf is read at start)."""
    out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True)
    return "accounting_storage/slurmdbd" in out.stdout
