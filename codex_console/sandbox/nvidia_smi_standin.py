#!/usr/bin/python3
"""A stand-in `nvidia-smi` for the sandbox node, which has no GPU.

It answers the documented CSV queries (`--query-gpu=...`, `--query-compute-apps=...`,
`--format=csv[,noheader][,nounits]`) for two simulated P100s whose names say "(sandbox)".
The numbers are honest about what they are: a GPU's "utilization" is the CPU use of the
processes Slurm pinned to it (CUDA_VISIBLE_DEVICES), its "memory.used" their resident memory.
"""

import os
import sys
import time

GPUS = [
    {"index": "0", "uuid": "GPU-5a4d0000-0000-4000-8000-000000000000", "pci.bus_id": "00000000:04:00.0"},
    {"index": "1", "uuid": "GPU-5a4d0001-0000-4000-8000-000000000001", "pci.bus_id": "00000000:06:00.0"},
]
NAME = "Tesla P100-PCIE-16GB (sandbox)"
TOTAL_MIB = 16384
UNITS = {"utilization.gpu": "%", "utilization.memory": "%", "memory.used": "MiB",
         "memory.total": "MiB", "memory.free": "MiB", "power.draw": "W", "power.limit": "W",
         "used_memory": "MiB", "clocks.sm": "MHz"}
TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (OSError once the process is gone)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_ticks(stat):
    """User and system CPU ticks from proc_stat's fields."""
    return int(stat[11]) + int(stat[12])


def pinned_processes():
    """{gpu index: [(pid, name, rss_mib, cpu_ticks)]} for processes with one CUDA_VISIBLE_DEVICES."""
    found = {g["index"]: [] for g in GPUS}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
            stat = proc_stat(int(entry))
        except OSError:
            continue
        if not any(b"codex-embed-server" in c or b"server.cli" in c for c in cmd):
            continue
        cvd = [e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"CUDA_VISIBLE_DEVICES=")]
        if not cvd or cvd[0] not in found:
            continue
        rss_mib = int(stat[21]) * os.sysconf("SC_PAGE_SIZE") // 2**20
        name = os.path.basename(cmd[0].decode()) or "python"
        found[cvd[0]].append((int(entry), name, rss_mib, cpu_ticks(stat)))
    return found


def cpu_percent(procs):
    """CPU use of the given processes over a short sample, 0 to 100. Only processes alive at both
    ends of the sample count: one that exits in between takes its past ticks with it."""
    def ticks():
        found = {}
        for pid, *_ in procs:
            try:
                found[pid] = cpu_ticks(proc_stat(pid))
            except OSError:
                pass
        return found
    if not procs:
        return 0
    before = ticks()
    time.sleep(0.1)
    after = ticks()
    spent = sum(max(0, after[pid] - before[pid]) for pid in after.keys() & before.keys())
    return min(100, round(spent * 100 / (TICKS * 0.1)))


def gpu_values(gpu, procs):
    util = cpu_percent(procs)
    used = min(TOTAL_MIB, sum(p[2] for p in procs))
    return {
        "index": gpu["index"], "name": NAME, "uuid": gpu["uuid"], "pci.bus_id": gpu["pci.bus_id"],
        "utilization.gpu": str(util), "utilization.memory": str(used * 100 // TOTAL_MIB),
        "memory.used": str(used), "memory.total": str(TOTAL_MIB), "memory.free": str(TOTAL_MIB - used),
        "temperature.gpu": str(31 + util // 3), "power.draw": f"{25 + util * 2.25:.2f}",
        "power.limit": "250.00", "driver_version": "535.183.06 (sandbox)", "clocks.sm": "1328",
        "pstate": "P0" if util else "P8", "count": str(len(GPUS)),
    }


def emit(rows, fields, fmt):
    opts = set(fmt.split(","))
    if "noheader" not in opts:
        print(", ".join(f + ("" if "nounits" in opts or f not in UNITS else f" [{UNITS[f]}]") for f in fields))
    for row in rows:
        cells = []
        for f in fields:
            value = row.get(f)
            if value is None:
                cells.append("[Not Supported]")
            elif "nounits" not in opts and f in UNITS:
                cells.append(f"{value} {UNITS[f]}")
            else:
                cells.append(value)
        print(", ".join(cells))


def main(argv):
    args = dict(a.split("=", 1) if "=" in a else (a, "") for a in argv)
    fmt = args.get("--format", "")
    if "--query-gpu" in args or "--query-compute-apps" in args:
        if not fmt.startswith("csv"):
            print('Option "--format" must be given with a CSV format.', file=sys.stderr)
            return 2
    pinned = pinned_processes()
    if "--query-gpu" in args:
        fields = args["--query-gpu"].split(",")
        known = gpu_values(GPUS[0], [])
        bad = [f for f in fields if f not in known]
        if bad:
            print(f'Field "{bad[0]}" is not a valid field to query.', file=sys.stderr)
            return 2
        emit([gpu_values(g, pinned[g["index"]]) for g in GPUS], fields, fmt)
        return 0
    if "--query-compute-apps" in args:
        fields = args["--query-compute-apps"].split(",")
        rows = [{"gpu_uuid": g["uuid"], "gpu_bus_id": g["pci.bus_id"], "pid": str(pid),
                 "process_name": name, "used_memory": str(rss), "name": name}
                for g in GPUS for pid, name, rss, _ in pinned[g["index"]]]
        emit(rows, fields, fmt)
        return 0
    if "-L" in args or "--list-gpus" in args:
        for g in GPUS:
            print(f"GPU {g['index']}: {NAME} (UUID: {g['uuid']})")
        return 0
    print(time.strftime("%a %b %d %H:%M:%S %Y"))
    print("NVIDIA-SMI stand-in (codex-console sandbox): no real GPU on this machine.")
    for g in GPUS:
        v = gpu_values(g, pinned[g["index"]])
        print(f"  GPU {g['index']}: {NAME}  {v['utilization.gpu']}%  {v['memory.used']}MiB / {TOTAL_MIB}MiB")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
