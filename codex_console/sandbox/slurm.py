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
from .layout import NODE_B, SandboxLayout
from .node_b import HOST_ADDR
from .node_b import NODE_ADDR as NODE_B_ADDR
from .node_b import start_slurmd as start_second_slurmd
from .processes import running_pid, start_daemon

SLURM_CONF = Path("/etc/slurm/slurm.conf")
GRES_CONF = Path("/etc/slurm/gres.conf")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MARKER = "# written by codex-console sandbox"
BESIDE_PARTITION = "side"  # hidden; for test jobs that need no GPU (see slurm_conf)


def slurm_conf(layout: SandboxLayout, node_b: bool = False) -> str:
    """One node, or two when the second node's network is up: then the controller listens where
    both reach it (the veth address), and the partition `pair` holds both."""
    s = layout.slurm
    node = layout.node
    second = (f"NodeName={NODE_B} NodeAddr={NODE_B_ADDR} CPUs=16 RealMemory=32000 Gres=gpu:2 State=UNKNOWN\n"
              f"PartitionName=pair Nodes={node},{NODE_B} MaxTime=7-00:00:00 State=UP\n") if node_b else ""
    return f"""{MARKER}
ClusterName=sandbox
SlurmctldHost={node}({HOST_ADDR if node_b else "127.0.0.1"})
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
SlurmdSpoolDir={s}/spool-%n
SlurmctldPidFile={layout.pid_file('slurmctld')}
SlurmdPidFile={layout.run}/slurmd-%n.pid
SlurmctldLogFile={layout.log}/slurmctld.log
SlurmdLogFile={layout.log}/slurmd-%n.log
NodeName={node} NodeAddr={HOST_ADDR if node_b else "127.0.0.1"} CPUs=16 RealMemory=32000 Gres=gpu:2 State=UNKNOWN
PartitionName=titan Nodes={node} Default=YES MaxTime=7-00:00:00 State=UP
PartitionName=rigel Nodes={node} MaxTime=7-00:00:00 State=UP
# The tests' second stream (jobs without a GPU) runs here, scheduled first: Slurm's backfill holds
# whole nodes for a pending job, so a GPU job that waits would hold up theirs on titan.
PartitionName={BESIDE_PARTITION} Nodes={node} MaxTime=7-00:00:00 PriorityTier=2 Hidden=YES State=UP
{second}{accounting.slurm_conf_block(layout)}"""


def gres_conf(layout: SandboxLayout, node_b: bool = False) -> str:
    second = f"NodeName={NODE_B} Name=gpu File={layout.dev}/nvidia-b[0-1]\n" if node_b else ""
    return f"{MARKER}\nNodeName={layout.node} Name=gpu File={layout.dev}/nvidia[0-1]\n{second}"


def write_files(layout: SandboxLayout, node_b: bool = False) -> None:
    for sub in ("state", f"spool-{layout.node}", f"spool-{NODE_B}"):
        (layout.slurm / sub).mkdir(parents=True, exist_ok=True)
    for dev in [layout.dev / f"nvidia{i}" for i in range(2)] + [layout.dev / f"nvidia-b{i}" for i in range(2)]:
        if not dev.is_char_device():
            dev.unlink(missing_ok=True)
            os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a /dev/null twin
    key = layout.root / "munge.key"
    if not key.exists():
        key.write_bytes(secrets.token_bytes(128))
    key.chmod(0o600)
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    _write_if_ours(SLURM_CONF, slurm_conf(layout, node_b))
    _write_if_ours(GRES_CONF, gres_conf(layout, node_b))


def _write_if_ours(path: Path, text: str) -> None:
    if path.exists() and MARKER not in path.read_text():
        raise RuntimeError(f"{path} exists and was not written by the sandbox; refusing to replace it")
    path.write_text(text)


def start(layout: SandboxLayout, node_b: bool = False) -> list[str]:
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
    if node_b and start_second_slurmd(layout):
        started.append("slurmd-b")
    for node in [layout.node] + ([NODE_B] if node_b else []):
        if not wait_for(lambda: _node_ready(node), 60, 0.5):
            raise RuntimeError(f"node {node} did not become idle; see {layout.log}/slurmctld.log")
    return started


def _node_ready(node: str) -> bool:
    out = subprocess.run(["sinfo", "-h", "-N", "-n", node, "-o", "%t"],
                         capture_output=True, text=True)
    states = out.stdout.split()
    if out.returncode == 0 and any(s.rstrip("*") in ("down", "drain", "inval") for s in states):
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"],
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
