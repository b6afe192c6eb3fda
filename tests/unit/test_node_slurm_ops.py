"""The job's Slurm commands, against scripted squeue, scontrol and sbatch on PATH: a successor is
the same script without the singleton line and without the requeue count, a failed squeue is
never "gone"."""

from __future__ import annotations

import os
from pathlib import Path

from codex_console.node.slurm_ops import GONE, UNKNOWN, Slurm, without_singleton


def script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


async def test_a_successor_is_this_script_without_singleton_nor_requeue_count(tmp_path, monkeypatch):
    script(tmp_path, "scontrol", 'printf "#!/bin/bash\\n#SBATCH --requeue\\n#SBATCH --dependency=singleton\\nexec x\\n"\n')
    script(tmp_path, "sbatch", f'printf "%s\\n" "$@" >{tmp_path}/args; cat >{tmp_path}/script; echo 812346\n')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    res = await Slurm().submit_successor("812345", ("titan", "rigel"))
    assert res.ok and res.out == "812346"
    args = (tmp_path / "args").read_text().split()
    assert "--partition=titan,rigel" in args and "--comment=codex-rollover:812345" in args
    assert "--export=ALL,CODEX_PREDECESSOR=812345,SLURM_RESTART_COUNT=0" in args
    assert (tmp_path / "script").read_text() == "#!/bin/bash\n#SBATCH --requeue\nexec x\n"
    assert without_singleton("#SBATCH --dependency=singleton\nx\n") == "x\n"


async def test_a_failed_squeue_is_not_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    script(tmp_path, "squeue", 'echo "slurm_load_jobs error: Socket timed out" >&2; exit 1\n')
    assert await Slurm().job_state("1") == UNKNOWN
    script(tmp_path, "squeue", 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1\n')
    assert await Slurm().job_state("1") == GONE
    script(tmp_path, "squeue", 'echo "   R"\n')
    assert await Slurm().job_state("1") == "R"
