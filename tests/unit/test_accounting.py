"""Past jobs from sacct: parsed from recorded output (the sandbox's Slurm 22.05 with slurmdbd),
each with why it ended in words; a cluster without accounting is told apart from a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_console.backends.accounting import (
    SACCT_FORMAT,
    AccountingUnavailable,
    check_answer,
    parse_sacct,
    sacct_argv,
)
from codex_console.backends.runner import RemoteError
from codex_console.models import JobState

SLURM = Path(__file__).parent.parent / "fixtures" / "slurm"


def read(name: str) -> str:
    return (SLURM / name).read_text()


def test_every_way_a_sandbox_job_ended_is_told_in_words():
    jobs = parse_sacct(read("sacct_22.05.txt"), users={"0": "root"})
    why = {(j.job_id, j.state.name): j.why for j in jobs}
    assert why == {
        ("51", "COMPLETED"): "completed (exit code 0)",
        ("52", "FAILED"): "failed with exit code 3",
        ("53", "FAILED"): "failed: killed by signal 9",
        ("54", "CANCELLED"): "cancelled by root",
        ("55", "TIMEOUT"): "reached its time limit (00:01:00)",
        ("56", "REQUEUED"): "requeued: this run ended, the job ran again under the same id",
        ("56", "CANCELLED"): "cancelled by root",
    }
    killed = next(j for j in jobs if j.job_id == "53")
    assert (killed.exit_code, killed.signal, killed.node, killed.partition) == (0, 9, "vm", "titan")
    timeout = next(j for j in jobs if j.state is JobState.TIMEOUT)
    assert (timeout.start, timeout.elapsed, timeout.time_limit) == ("2026-12-04T15:58:09", "00:01:08", "00:01:00")
    requeued_run, last_run = [j for j in jobs if j.job_id == "56"]  # --duplicates: one row a run
    assert requeued_run.end == last_run.submit and last_run.reason == "BeginTime"
    assert all(j.finished for j in jobs)


def test_oom_node_failure_a_named_canceller_and_a_job_still_waiting():
    jobs = {j.job_id: j for j in parse_sacct(read("sacct_written_by_hand.txt"), users={"1000": "alice"})}
    assert jobs["812400"].why == "ran out of memory (killed by the OOM killer)"
    assert jobs["812401"].why == "its node 98dci4-gpu-0002 failed"
    assert jobs["812402"].why == "cancelled by alice" and jobs["812402"].comment == "codex-rollover:812401"
    unnamed = parse_sacct(read("sacct_written_by_hand.txt"))[2]
    assert jobs["812402"].signal == 15 and unnamed.why == "cancelled by uid 1000"
    waiting = jobs["812403"]
    assert not waiting.finished and waiting.node == "" and waiting.start == "" and waiting.why == "not ended (pending)"


def test_the_query_names_its_fields_and_every_run():
    argv = sacct_argv("codex-services", "alice", 7 * 86400)
    assert f"--format={SACCT_FORMAT}" in argv and "--parsable2" in argv and "--duplicates" in argv
    assert "--starttime=now-604800" in argv and "--name=codex-services" in argv and "--user=alice" in argv


@pytest.mark.parametrize("fixture", ["sacct_disabled_22.05.stderr", "sacct_no_slurmdbd_22.05.stderr"])
def test_a_cluster_without_accounting_says_so(fixture):
    with pytest.raises(AccountingUnavailable, match="no job accounting here"):
        check_answer(1, "", read(fixture))
    with pytest.raises(AccountingUnavailable):
        check_answer(127, "", "sh: 1: sacct: not found")


def test_other_failures_stay_errors():
    with pytest.raises(RemoteError) as caught:
        check_answer(1, "", "sacct: error: Invalid user id: nobody")
    assert not isinstance(caught.value, AccountingUnavailable)


def test_the_events_say_once_that_there_is_no_accounting_and_why_each_job_ended():
    from codex_console.events import EventTracker
    from codex_console.readings import Reading

    none = EventTracker()
    note = "no job accounting here: Slurm accounting storage is disabled"
    said = [none.observe("accounting", Reading(None, float(t), note=note), 100.0 + t) for t in range(3)]
    assert [len(events) for events in said] == [1, 0, 0] and "squeue" in said[0][0].text

    tracker = EventTracker()
    jobs = parse_sacct(read("sacct_22.05.txt"), users={"0": "root"})
    assert tracker.observe("accounting", Reading(jobs[:3], 1.0), 100.0) == []  # what it finds at start
    new = tracker.observe("accounting", Reading(jobs, 2.0), 101.0)
    assert [e.text for e in new] == [
        "job 54 ended: cancelled by root", "job 55 ended: reached its time limit (00:01:00)",
        "job 56 ended: requeued: this run ended, the job ran again under the same id",
        "job 56 ended: cancelled by root"]
