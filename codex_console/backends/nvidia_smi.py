"""Parse `nvidia-smi --query-gpu/--query-compute-apps --format=csv,noheader,nounits` output."""

from __future__ import annotations

from ..models import GpuProcess, GpuSample

GPU_FIELDS = ("index", "name", "uuid", "utilization.gpu", "memory.used", "memory.total",
              "temperature.gpu", "power.draw")
APP_FIELDS = ("gpu_uuid", "pid", "process_name", "used_memory")
QUERY_GPU = ["nvidia-smi", f"--query-gpu={','.join(GPU_FIELDS)}", "--format=csv,noheader,nounits"]
QUERY_APPS = ["nvidia-smi", f"--query-compute-apps={','.join(APP_FIELDS)}",
              "--format=csv,noheader,nounits"]
MISSING = {"[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]", "[GPU is lost]",
           "[Insufficient Permissions]", ""}
EXIT_MESSAGES = {
    2: "invalid nvidia-smi argument", 3: "operation not available on this GPU",
    4: "no permission to query the GPU", 6: "query failed", 8: "external power cables not attached",
    9: "NVIDIA driver is not loaded", 10: "NVIDIA kernel detected an interrupt issue",
    12: "NVML shared library missing", 13: "NVML function not implemented",
    14: "infoROM is corrupted", 15: "GPU has fallen off the bus", 18: "driver/library version mismatch",
}


class NvidiaSmiError(RuntimeError):
    pass


def _num(cell: str) -> float | None:
    cell = cell.strip()
    if cell in MISSING:
        return None
    try:
        return float(cell.split()[0])
    except (ValueError, IndexError):
        return None


def _cells(line: str, count: int) -> list[str] | None:
    # Names may contain ", " in theory; split from the right for the fixed numeric tail.
    cells = [c.strip() for c in line.split(",")]
    if len(cells) < count:
        return None
    if len(cells) > count:
        extra = len(cells) - count
        cells = cells[:1] + [", ".join(cells[1:2 + extra])] + cells[2 + extra:]
    return cells


def check_exit(returncode: int, output: str) -> None:
    if returncode == 0:
        return
    text = output.strip().splitlines()
    reason = EXIT_MESSAGES.get(returncode, f"nvidia-smi exited {returncode}")
    raise NvidiaSmiError(f"{reason}" + (f": {text[0]}" if text else ""))


def parse_gpus(text: str) -> list[GpuSample]:
    gpus = []
    for line in text.splitlines():
        cells = _cells(line, len(GPU_FIELDS))
        if cells is None or not cells[0].isdigit():
            continue
        gpus.append(GpuSample(index=int(cells[0]), name=cells[1], uuid=cells[2],
                              utilization=_num(cells[3]), memory_used=_num(cells[4]),
                              memory_total=_num(cells[5]), temperature=_num(cells[6]),
                              power=_num(cells[7])))
    return gpus


def parse_apps(text: str) -> list[GpuProcess]:
    apps = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 4 or not cells[1].isdigit():
            continue
        apps.append(GpuProcess(gpu_uuid=cells[0], pid=int(cells[1]), name=", ".join(cells[2:-1]),
                               memory_used=_num(cells[-1])))
    return apps
