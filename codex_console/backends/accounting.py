"""The service's past jobs from Slurm accounting (`sacct`): id, state, exit code and signal, node,
partition, start, elapsed, and why each ended, in words.

`sacct --parsable2` with an explicit `--format` (a user's SACCT_FORMAT changes nothing we read),
`--duplicates` so that every run of a requeued job is a row of its own. A cluster may not give
users accounting: that is an `AccountingUnavailable` error with sacct's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import JobState
from .runner import RemoteError

SACCT_FIELDS = ("JobID", "JobName", "User", "State", "ExitCode", "DerivedExitCode", "NodeList", "Partition",
                "Submit", "Start", "End", "Elapsed", "Timelimit", "Reason", "Comment")  # the comment last: free text
SACCT_FORMAT = ",".join(SACCT_FIELDS)
NO_ACCOUNTING = ("accounting storage is disabled", "problem talking to the database", "connection refused",
                 "command not found", "not configured", "slurmdbd")


NO_ACCOUNTING_NOTE = "no job accounting here"


class AccountingUnavailable(RemoteError):
    """This cluster does not answer `sacct` (no accounting, or not for users)."""


@dataclass(frozen=True, kw_only=True)
class PastJob:
    job_id: str
    name: str
    user: str
    state: JobState
    state_text: str  # as sacct wrote it: `CANCELLED by 1000`
    exit_code: int | None
    signal: int | None
    node: str
    partition: str
    submit: str
    start: str
    end: str
    elapsed: str
    time_limit: str
    reason: str
    comment: str
    why: str  # why it ended, in words

    @property
    def finished(self) -> bool:
        """This run ended (a requeued job's earlier runs too: sacct gives each its end)."""
        return bool(self.end)


def sacct_argv(name: str, user: str, since_seconds: float) -> list[str]:
    return ["sacct", "--parsable2", "--noheader", "--allocations", "--duplicates", f"--user={user}",
            f"--name={name}", f"--starttime=now-{int(since_seconds)}", "--endtime=now", f"--format={SACCT_FORMAT}"]


def _exit(text: str) -> tuple[int | None, int | None]:
    """`2:0` -> (2, 0): exit code and the signal that ended it."""
    m = re.fullmatch(r"(\d+):(\d+)", text.strip())
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def _text(value: str) -> str:
    return "" if value in ("Unknown", "None", "(null)", "N/A") else value


def why_ended(state: JobState, state_text: str, exit_code: int | None, signal: int | None, time_limit: str,
              node: str, users: dict[str, str] | None = None) -> str:
    """Why a job (one run of it) ended, in words; `users` names the uids sacct reports."""
    if state is JobState.COMPLETED:
        return "completed (exit code 0)" if not exit_code else f"completed with exit code {exit_code}"
    if state is JobState.TIMEOUT:
        return f"reached its time limit ({time_limit})" if time_limit else "reached its time limit"
    if state is JobState.CANCELLED:
        m = re.search(r"by (\d+)", state_text)
        who = ((users or {}).get(m.group(1)) or f"uid {m.group(1)}") if m else ""
        return f"cancelled by {who}" if who else "cancelled"
    if state is JobState.REQUEUED:
        return "requeued: this run ended, the job ran again under the same id"
    if state is JobState.NODE_FAIL:
        return f"its node {node} failed" if node else "its node failed"
    if state is JobState.OUT_OF_MEMORY:
        return "ran out of memory (killed by the OOM killer)"
    if state is JobState.PREEMPTED:
        return "preempted by a job of higher priority"
    if state is JobState.BOOT_FAIL:
        return "its node failed to boot"
    if state is JobState.DEADLINE:
        return "reached its deadline before it could run"
    if state is JobState.FAILED:
        if signal:
            return f"failed: killed by signal {signal}"
        return f"failed with exit code {exit_code}" if exit_code is not None else "failed"
    return "still running" if state is JobState.RUNNING else f"not ended ({state.name.lower()})"


def parse_sacct(text: str, users: dict[str, str] | None = None) -> list[PastJob]:
    """`sacct --parsable2 --noheader --format=<SACCT_FORMAT>` lines, as PastJobs (oldest first)."""
    jobs = []
    n = len(SACCT_FIELDS)
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < n or not re.match(r"^\d+", parts[0]):
            continue
        (job_id, name, user, state_text, exit_text, _derived, node, partition, submit, start, end, elapsed,
         limit, reason) = parts[: n - 1]
        state = JobState.parse(state_text)
        code, signal = _exit(exit_text)
        node = _text(node).replace("None assigned", "")
        jobs.append(PastJob(job_id=job_id, name=name, user=user, state=state, state_text=state_text,
                            exit_code=code, signal=signal, node=node, partition=partition,
                            submit=_text(submit), start=_text(start), end=_text(end), elapsed=elapsed,
                            time_limit=limit, reason=_text(reason), comment=_text("|".join(parts[n - 1:])),
                            why=why_ended(state, state_text, code, signal, limit, node, users)))
    return jobs


def cancelling_uids(text: str) -> set[str]:
    """The uids that sacct says cancelled a job (`CANCELLED by 1000`), to be named."""
    return set(re.findall(r"CANCELLED by (\d+)", text))


def check_answer(returncode: int, stdout: str, stderr: str) -> str:
    """sacct's output, or AccountingUnavailable / RemoteError saying why there is none."""
    if returncode == 0:
        return stdout
    said = (stderr or stdout).strip().splitlines()
    message = said[-1] if said else f"sacct exited {returncode}"
    if returncode == 127 or any(m in message.lower() for m in NO_ACCOUNTING):
        raise AccountingUnavailable(f"{NO_ACCOUNTING_NOTE}: {message}")
    raise RemoteError(f"sacct failed: {message}")
