"""Parsers on recorded squeue/scontrol/sinfo output (22.05 real; 23.11/24.05 documented shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_console.backends.slurm_parse import (
    job_from_scontrol,
    parse_scontrol,
    parse_sinfo,
    parse_squeue_json,
    parse_squeue_text,
)
from codex_console.models import JobState

SLURM = Path(__file__).parent.parent / "fixtures" / "slurm"


def read(name: str) -> str:
    return (SLURM / name).read_text()


def test_squeue_text_22_05():
    dependent, waiting, running = parse_squeue_text(read("squeue_text_22.05.txt"))
    assert (running.job_id, running.state, running.node, running.gpus) == ("27", JobState.RUNNING, "vm", "1")
    assert running.time_limit == "10:00" and running.reason == "" and running.time_left == "9:50"
    assert running.comment == "codex-submit:5f1c0de2a9b34e77" and running.restarts == 0
    assert running.start_time == "2026-12-04T15:46:54"  # when it started
    assert (dependent.state, dependent.reason, dependent.node) == (JobState.PENDING, "Dependency", "")
    assert dependent.gpus_per_job == "1" and dependent.gpus == "" and dependent.comment == ""
    assert dependent.start_time == ""  # N/A: Slurm has no estimate for a job that waits on another
    assert (waiting.reason, waiting.gpus) == ("Resources", "2")


def test_the_expected_start_is_what_squeue_start_shows():
    """The console's query reads StartTime, the field `squeue --start` shows as START_TIME."""
    start = {line.split()[0]: line.split()[5] for line in read("squeue_start_22.05.txt").splitlines()[1:]}
    jobs = {j.job_id: j for j in parse_squeue_text(read("squeue_text_22.05.txt"))}
    assert start == {"29": "2026-12-04T15:56:54", "28": "N/A"}
    assert jobs["29"].start_time == start["29"] and jobs["28"].start_time == ""


def test_squeue_text_ignores_headers_and_short_lines():
    text = "JOBID|NAME|USER|ST|PARTITION|NODELIST|REASON|TIME|TIME_LIMIT|TIME_LEFT|X|Y|SUBMIT|R|C|\n\ngarbage\n"
    assert parse_squeue_text(text) == []


def test_squeue_json_22_05_state_is_a_string():
    jobs = parse_squeue_json(read("squeue_22.05.json"), now=1795903838 + 65)
    running = next(j for j in jobs if j.state is JobState.RUNNING)
    assert running.elapsed == "1:05" and running.time_limit == "7-00:00:00" and running.node == "vm"
    assert next(j for j in jobs if j.state is JobState.PENDING).reason == "Dependency"


def test_squeue_json_23_11_state_is_a_list_and_numbers_are_objects():
    jobs = {j.job_id: j for j in parse_squeue_json(read("squeue_23.11.json"), now=1795900000 + 3723)}
    run = jobs["812345"]
    assert run.state is JobState.RUNNING and run.elapsed == "1:02:03" and run.gpus == "p100:2"
    assert run.node == "98dci4-gpu-0002" and run.restarts == 1 and run.time_limit == "7-00:00:00"
    assert run.time_left == "6-22:57:57" and run.comment == "codex-submit:5f1c0de2a9b34e77"
    assert jobs["812346"].state is JobState.PENDING and jobs["812346"].elapsed == ""
    assert jobs["812346"].gpus_per_job == "2" and jobs["812346"].gpus == ""
    assert jobs["812300"].state is JobState.COMPLETED and not jobs["812300"].state.alive
    assert jobs["812399"].time_limit == "UNLIMITED" and jobs["812399"].gpus == "p100:4"


def test_squeue_json_24_05_nodes_object():
    jobs = parse_squeue_json(read("squeue_24.05.json"), now=1795900000 + 90000)
    assert jobs[0].node == "98dci4-gpu-0002" and jobs[0].elapsed == "1-01:00:00"
    assert jobs[1].state is JobState.PENDING and jobs[1].restarts == 2 and jobs[1].node == ""


@pytest.mark.parametrize("text,state", [("R", JobState.RUNNING), ("RUNNING", JobState.RUNNING),
                                        ("PD", JobState.PENDING), ("CG", JobState.COMPLETING),
                                        ("CF", JobState.CONFIGURING), ("CANCELLED by 0", JobState.CANCELLED),
                                        ("running", JobState.RUNNING), ("", JobState.UNKNOWN),
                                        ("WEIRD", JobState.UNKNOWN)])
def test_job_state_short_and_long(text, state):
    assert JobState.parse(text) is state


def test_alive_states_are_the_ones_a_resubmit_must_respect():
    assert JobState.RUNNING.alive and JobState.PENDING.alive and JobState.COMPLETING.alive
    assert not JobState.CANCELLED.alive and not JobState.FAILED.alive and not JobState.TIMEOUT.alive
    for state in ("SPECIAL_EXIT", "SIGNALING", "RESV_DEL_HOLD", "REQUEUE_HOLD", "STOPPED", "SUSPENDED",
                  "STAGE_OUT", "REQUEUE_FED", "RESIZING", "CONFIGURING"):
        assert JobState[state].alive, state
    assert JobState.UNKNOWN.alive  # a state we cannot read is never taken for "no job"


def test_scontrol_multiline_and_oneliner_agree():
    multi = job_from_scontrol(parse_scontrol(read("scontrol_show_job_22.05.txt")))
    assert (multi.job_id, multi.state, multi.node, multi.gpus, multi.restarts) == (
        "4", JobState.RUNNING, "vm", "1", 0)
    one = parse_scontrol(read("scontrol_show_job_oneliner_22.05.txt"))
    assert one["JobState"] == "PENDING" and one["Reason"] == "Dependency" and one["Requeue"] == "1"
    assert one["StdOut"] == "/dev/null"


def test_scontrol_values_with_spaces_and_equals():
    fields = parse_scontrol("JobId=7 JobName=x Command=/bin/sh -c a=b WorkDir=/tmp Restarts=1")
    assert fields["Command"] == "/bin/sh -c a=b" and fields["WorkDir"] == "/tmp"


def test_sinfo_free_gpus_per_partition():
    parts = {p.name: p for p in parse_sinfo(read("sinfo_22.05.txt"))}
    assert parts["titan"].free_gpus == 2 and parts["titan"].available
    busy = parse_sinfo("titan|up|mixed|gpu:p100:8(S:0-1)|gpu:p100:8(IDX:0-7)|gpu-0002\n"
                       "rigel|up|idle|(null)|gpu:0|cpu-01\n"
                       "titan|up|drained|gpu:p100:8|gpu:p100:0|gpu-0003\n")
    by = {p.name: p for p in busy}
    assert by["titan"].free_gpus == 0 and by["titan"].nodes == 2
    assert by["rigel"].free_gpus == 0 and by["rigel"].idle_nodes == 1
