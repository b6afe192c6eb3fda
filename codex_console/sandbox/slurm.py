"""A single-node Slurm 22.05 cluster: munged, slurmctld, slurmd, two fake GPUs as GRES, and
accounting (slurmdbd with MariaDB, `accounting.py`)."""

from __future__ import annotations

import getpass
import os
import secrets
import subprocess
from pathlib import Path

from ..pids import stop_pid, wait_for
from . import accounting
from .layout import SandboxLayout
from .processes import running_pid, start_daemon

SLURM_CONF = Path("/etc/slurm/slurm.conf")
GRES_CONF = Path("/etc/slurm/gres.conf")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MARKER = "# written by codex-console sandbox"


def slurm_conf(layout: SandboxLayout) -> str:
    s = layout.slurm
    node = layout.node
    return f"""{MARKER}
ClusterName=sandbox
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
JobRequeue=1
ReturnToService=2
MinJobAge=300
DefMemPerCPU=256
KillWait=10
SlurmdParameters=config_overrides
GresTypes=gpu
JobCompType=jobcomp/none
StateSaveLocation={s}/state
SlurmdSpoolDir={s}/spool
SlurmctldPidFile={layout.pid_file('slurmctld')}
SlurmdPidFile={layout.pid_file('slurmd')}
SlurmctldLogFile={layout.log}/slurmctld.log
SlurmdLogFile={layout.log}/slurmd.log
NodeName={node} NodeAddr=127.0.0.1 CPUs=16 RealMemory=32000 Gres=gpu:2 State=UNKNOWN
PartitionName=titan Nodes={node} Default=YES MaxTime=7-00:00:00 State=UP
PartitionName=rigel Nodes={node} MaxTime=7-00:00:00 State=UP
{accounting.slurm_conf_block(layout)}"""


def gres_conf(layout: SandboxLayout) -> str:
    return f"{MARKER}\nNodeName={layout.node} Name=gpu File={layout.dev}/nvidia[0-1]\n"


def write_files(layout: SandboxLayout) -> None:
    for sub in ("state", "spool"):
        (layout.slurm / sub).mkdir(parents=True, exist_ok=True)
    for i in range(2):
        dev = layout.dev / f"nvidia{i}"
        if not dev.is_char_device():
            dev.unlink(missing_ok=True)
            os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a /dev/null twin
    key = layout.root / "munge.key"
    if not key.exists():
        key.write_bytes(secrets.token_bytes(128))
    key.chmod(0o600)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    _write_if_ours(SLURM_CONF, slurm_conf(layout))
    _write_if_ours(GRES_CONF, gres_conf(layout))


def _write_if_ours(path: Path, text: str) -> None:
    if path.exists() and MARKER not in path.read_text():
        raise RuntimeError(f"{path} exists and was not written by the sandbox; refusing to replace it")
    path.write_text(text)


def start(layout: SandboxLayout) -> list[str]:
    started: list[str] = []
    if running_pid(layout.pid_file("munged")) is None:
        MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
        Path("/var/lib/munge").mkdir(parents=True, exist_ok=True)
        start_daemon(
            ["munged", "--force", f"--key-file={layout.root / 'munge.key'}",
             f"--pid-file={layout.pid_file('munged')}", f"--log-file={layout.log / 'munged.log'}",
             f"--seed-file={layout.root / 'munged.seed'}"],
            layout.pid_file("munged"), layout.log / "munged.start.log")
        started.append("munged")
    started += accounting.start(layout, getpass.getuser())
    controller = running_pid(layout.pid_file("slurmctld"))
    keep_state = controller is not None and not accounting.controller_reports_to_it()
    if keep_state:  # started before the sandbox had accounting (it reads slurm.conf at start):
        stop_pid(controller)  # restarted without -c, so that the jobs it knows stay
    if running_pid(layout.pid_file("slurmctld")) is None:
        start_daemon(["slurmctld"] if keep_state else ["slurmctld", "-c"], layout.pid_file("slurmctld"),
                     layout.log / "slurmctld.start.log")
        started.append("slurmctld")
    if running_pid(layout.pid_file("slurmd")) is None:
        start_daemon(["slurmd"], layout.pid_file("slurmd"), layout.log / "slurmd.start.log")
        started.append("slurmd")
    if not wait_for(lambda: _node_ready(layout), 60, 0.5):
        raise RuntimeError(f"node {layout.node} did not become idle; see {layout.log}/slurmctld.log")
    return started


def _node_ready(layout: SandboxLayout) -> bool:
    out = subprocess.run(["sinfo", "-h", "-N", "-n", layout.node, "-o", "%t"],
                         capture_output=True, text=True)
    states = out.stdout.split()
    if out.returncode == 0 and any(s.rstrip("*") in ("down", "drain", "inval") for s in states):
        subprocess.run(["scontrol", "update", f"NodeName={layout.node}", "State=RESUME"],
                       capture_output=True)
    return out.returncode == 0 and bool(states) and all(
        s.rstrip("*~#") in ("idle", "mix", "alloc", "comp") for s in states)


def cancel_all_jobs(timeout: float = 60.0) -> bool:
    """Cancel every job in the sandbox cluster and wait until none is left running."""
    if subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True).returncode:
        return True  # no controller: nothing to cancel

    def none_left() -> bool:
        out = subprocess.run(["squeue", "-h", "-t", "R,CG,PD,CF,S", "-o", "%i"],
                             capture_output=True, text=True)
        return out.returncode != 0 or not out.stdout.strip()

    return wait_for(none_left, timeout, 0.5)
