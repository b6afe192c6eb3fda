"""Template rendering: valid bash, strict header values, quoted body values, partition fallback."""

from __future__ import annotations

import subprocess

import pytest

from codex_console import config, deploy
from codex_console.models import Partition


def cfg(**overrides: str) -> config.Config:
    return config.load(None, overrides, environ={}, search=False)


@pytest.mark.parametrize("template", deploy.TEMPLATES)
def test_every_template_renders_to_valid_bash(template, tmp_path):
    script = deploy.render(cfg(), template, home="/home/alice")
    path = tmp_path / f"{template}.sbatch"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    header = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    for flag in ("--job-name=codex-services", "--time=7-00:00:00", "--requeue", "--dependency=singleton",
                 "--signal=B:XCPU@120", "--output=/home/alice/.local/share/codex-console/services/%x-%j.log"):
        assert f"#SBATCH {flag}" in header
    assert ("#SBATCH --gres=gpu:1" in header) == (template != "neo4j")
    assert "{{" not in script


def test_nodelist_is_optional():
    assert "--nodelist" not in deploy.render(cfg())
    assert "#SBATCH --nodelist=98dci4-gpu-0002" in deploy.render(cfg(**{"slurm.nodelist": "98dci4-gpu-0002"}))


@pytest.mark.parametrize("key,value", [
    ("slurm.partitions", "titan; rm -rf ~"), ("slurm.job_name", "x\n#SBATCH --uid=0"),
    ("slurm.mem", "64G --wrap=evil"), ("slurm.time_limit", "7-00:00:00 --x"),
    ("slurm.nodelist", "n1 $(reboot)"), ("services.log_dir", "/tmp/x y"),
])
def test_hostile_header_values_are_rejected(key, value):
    with pytest.raises(config.ConfigError, match=key.split(".")[1].rstrip("s")):
        deploy.render(cfg(**{key: value}))


def test_hostile_body_values_reach_the_shell_as_one_word(tmp_path):
    hostile = "/models/x; touch $HOME/pwned"
    script = deploy.render(cfg(**{"services.model": hostile}), home="/h")
    probe = tmp_path / "probe.sh"
    # Run only the settings block and print MODEL back: the value comes out literally.
    settings = script.split("# ---- the job body")[0].split("RUN_EMBED=1\n", 1)[1]
    probe.write_text(f"HOME={tmp_path}\n{settings}\nprintf '%s' \"$MODEL\"\n")
    out = subprocess.run(["bash", str(probe)], capture_output=True, text=True)
    assert out.stdout == hostile and not (tmp_path / "pwned").exists()


def test_home_paths_expand_on_the_node():
    script = deploy.render(cfg(**{"services.endpoints_file": "~/.codex-services.env"}))
    assert "ENDPOINTS_FILE=\"$HOME\"/.codex-services.env" in script


def part(name: str, free: int, up: bool = True) -> Partition:
    return Partition(name, up, 1, 1 if free else 0, "gpu:8", free)


def test_placement_prefers_the_gpu_partition():
    assert deploy.placement(cfg(), [part("titan", 2), part("rigel", 0)]) == deploy.Placement("titan", "services")


def test_placement_falls_back_to_neo4j_only_on_the_next_partition():
    place = deploy.placement(cfg(), [part("titan", 0), part("rigel", 0, up=False), part("sun", 0)])
    assert (place.partition, place.template) == ("sun", "neo4j")
    assert "titan has no free GPU" in place.note


def test_placement_queues_on_gpu_partition_when_nothing_else_is_up():
    place = deploy.placement(cfg(), [part("titan", 0)])
    assert place.partition == "titan" and place.template == "services" and "queueing" in place.note


def test_the_signal_lead_is_neo4j_stop_time_plus_a_margin():
    script = deploy.render(cfg(**{"services.stop_timeout": "300"}))
    assert "#SBATCH --signal=B:XCPU@310" in script and "\nSTOP_TIMEOUT=300\n" in script


def test_guard_and_keygen_are_valid_sh():
    for script in (deploy.GUARD, deploy.WAIT_GONE, deploy.KEYGEN):
        assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0


def test_the_key_file_is_created_once_private_and_never_printed(tmp_path):
    argv = list(deploy.keygen_argv(str(tmp_path / "embed.key"), "0600", ""))
    first = subprocess.run(argv, capture_output=True, text=True)
    key = (tmp_path / "embed.key").read_text()
    assert first.returncode == 0 and first.stdout == "" and len(key) == 64
    assert oct((tmp_path / "embed.key").stat().st_mode & 0o777) == "0o600"
    subprocess.run(argv, check=True)
    assert (tmp_path / "embed.key").read_text() == key


def test_a_failing_squeue_is_never_taken_for_no_job(tmp_path):
    fake = tmp_path / "squeue"
    fake.write_text("#!/bin/sh\necho 'slurm_load_jobs error: Socket timed out' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    guard = subprocess.run(["sh", "-c", deploy.GUARD, "sh", "codex-services", "echo", "SUBMITTED"],
                           capture_output=True, text=True, env=env)
    assert guard.returncode == 4 and "SUBMITTED" not in guard.stdout and "not submitting" in guard.stderr
    wait = subprocess.run(["sh", "-c", deploy.WAIT_GONE, "sh", "codex-services"], capture_output=True, env=env)
    assert wait.returncode == 4
