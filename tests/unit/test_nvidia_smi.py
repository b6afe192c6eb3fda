"""nvidia-smi CSV parsing: missing cells stay missing, failures are errors, never crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_console.backends.gpu import gpu_argv, parse_report
from codex_console.backends.nvidia_smi import NvidiaSmiError, parse_apps, parse_gpus
from codex_console.backends.runner import RemoteError
from codex_console.backends.slurm import SlurmError

NV = Path(__file__).parent.parent / "fixtures" / "nvidia_smi"


def test_eight_p100s_with_processes():
    gpus = parse_gpus((NV / "p100x8_query_gpu.csv").read_text())
    assert len(gpus) == 8 and gpus[7].utilization == 100 and gpus[7].temperature == 88
    assert gpus[0].memory_used == 14311 and gpus[0].power == 148.52
    apps = parse_apps((NV / "p100x8_query_apps.csv").read_text())
    assert [a.pid for a in apps] == [48213, 48302, 51877] and apps[2].memory_used is None
    assert apps[0].name == "/home/u/.venv/bin/python3"


def test_a_real_h200_and_the_replica_the_job_pinned_to_it():
    """Captured from an H200 (see tests/fixtures/README.md)."""
    [gpu] = parse_gpus((NV / "h200_query_gpu.csv").read_text())
    assert (gpu.index, gpu.name, gpu.memory_total) == (0, "NVIDIA H200", 143771)
    assert gpu.uuid.startswith("GPU-") and gpu.utilization == 0 and gpu.power == 78.40
    [app] = parse_apps((NV / "h200_query_apps.csv").read_text())
    assert app.gpu_uuid == gpu.uuid and app.memory_used == 1880 and app.name.endswith("python3")


def test_awkward_cells_are_missing_not_zero():
    gpus = parse_gpus((NV / "awkward_query_gpu.csv").read_text())
    assert gpus[0].power is None and gpus[0].utilization == 3
    assert gpus[1].utilization is None and gpus[1].memory_used == 13
    assert gpus[2].memory_total is None and gpus[2].utilization is None
    assert gpus[3].temperature is None and gpus[3].power is None and gpus[3].name == "Tesla T4"


def test_standin_output_parses():
    gpus = parse_gpus((NV / "standin_query_gpu.csv").read_text())
    assert [g.name for g in gpus] == ["Tesla P100-PCIE-16GB (sandbox)"] * 2


@pytest.mark.parametrize("fixture,code,words", [("driver_mismatch.txt", 18, "driver/library version mismatch"),
                                                ("no_driver.txt", 9, "driver is not loaded")])
def test_failures_are_reported_as_errors(fixture, code, words):
    output = (NV / fixture).read_text() + f"@@gpu {code}\n" + (NV / fixture).read_text() + f"@@apps {code}\n"
    with pytest.raises(NvidiaSmiError, match=words):
        parse_report("node", output)


def test_report_combines_both_queries():
    out = ((NV / "p100x8_query_gpu.csv").read_text() + "@@gpu 0\n"
           + (NV / "p100x8_query_apps.csv").read_text() + "@@apps 0\n")
    report = parse_report("gpu-0002", out)
    assert len(report.gpus) == 8 and len(report.processes) == 3 and report.node == "gpu-0002"


def test_gpu_argv_quotes_and_validates():
    assert gpu_argv("srun", "n", "42")[:3] == ["srun", "--jobid=42", "--overlap"]
    with pytest.raises(SlurmError, match="not a Slurm job id"):
        gpu_argv("srun", "n", "42; rm -rf ~")
    with pytest.raises(RemoteError, match="not a node name"):
        gpu_argv("ssh", "node;reboot", "42")
