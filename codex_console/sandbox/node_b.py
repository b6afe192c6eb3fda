"""The sandbox's second compute node: a network namespace with a host name of its own.

`codex-node-b` is a real second Slurm node: its own slurmd, its own address (10.213.47.2, a veth
pair to this machine's 10.213.47.1), its own loopback and host name (a UTS namespace), two
fake GPUs. Only the partition `pair` (both nodes) reaches it, so jobs of the other partitions
stay on the first node. Where network namespaces cannot be made, the sandbox runs with one node
and says so.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .layout import NODE_B as NAME
from .layout import SandboxLayout
from .processes import running_pid, start_daemon

NETNS = "codex-node-b"
HOST_IF, NODE_IF = "cxnb0", "cxnb1"
HOST_ADDR, NODE_ADDR = "10.213.47.1", "10.213.47.2"
HOSTS_LINE = f"{NODE_ADDR} {NAME}  # codex-console sandbox: the second node"


def _ip(*args: str, netns: bool = False) -> subprocess.CompletedProcess:
    argv = ["ip", *(["-n", NETNS] if netns else []), *args]
    return subprocess.run(argv, capture_output=True, text=True)


def present() -> bool:
    return _ip("link", "show", HOST_IF).returncode == 0 and NETNS in _ip("netns", "list").stdout


def make_network() -> str:
    """The namespace, the veth pair and the host name; "" when done, else why not."""
    if present():
        return ""
    if _ip("netns", "list").returncode != 0:
        return "no `ip` command (iproute2)"
    steps = [("netns", "add", NETNS), ("link", "add", HOST_IF, "type", "veth", "peer", "name", NODE_IF),
             ("link", "set", NODE_IF, "netns", NETNS), ("addr", "add", f"{HOST_ADDR}/30", "dev", HOST_IF),
             ("link", "set", HOST_IF, "up")]
    inside = [("addr", "add", f"{NODE_ADDR}/30", "dev", NODE_IF), ("link", "set", NODE_IF, "up"),
              ("link", "set", "lo", "up"), ("route", "add", "default", "via", HOST_ADDR)]
    for step in steps:
        res = _ip(*step)
        if res.returncode != 0 and "File exists" not in res.stderr:
            remove_network()
            return f"ip {' '.join(step)}: {res.stderr.strip()}"
    for step in inside:
        res = _ip(*step, netns=True)
        if res.returncode != 0 and "File exists" not in res.stderr:
            remove_network()
            return f"ip -n {NETNS} {' '.join(step)}: {res.stderr.strip()}"
    add_hosts_line()
    return ""


def remove_network() -> None:
    _ip("link", "del", HOST_IF)
    _ip("netns", "del", NETNS)


def add_hosts_line() -> None:
    hosts = Path("/etc/hosts")
    text = hosts.read_text()
    if f" {NAME} " not in text and not text.rstrip().endswith(NAME):
        with hosts.open("a") as fh:
            fh.write(HOSTS_LINE + "\n")


def start_slurmd(layout: SandboxLayout) -> bool:
    """slurmd for the second node, inside its namespace under its own host name; False if it runs."""
    if running_pid(layout.pid_file("slurmd-b")) is not None:
        return False
    script = f"hostname {NAME} && exec slurmd"
    # nsenter, not `ip netns exec`: that remounts /sys, and slurmd needs the cgroup filesystem there
    start_daemon(["nsenter", f"--net=/run/netns/{NETNS}", "unshare", "--uts", "sh", "-c", script],
                 layout.pid_file("slurmd-b"), layout.log / "slurmd-b.start.log")
    return True
