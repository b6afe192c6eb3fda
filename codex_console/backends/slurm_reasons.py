"""Why a job waits, or why Slurm refused it, in words, with what the user can do about it.

One table of Slurm's pending reason codes (squeue's REASON, `man squeue`: JOB REASON CODES) and
one of sbatch's refusals. The job card, `serve status` (text and --json) and the check read
them; a code this table does not know is shown as Slurm wrote it, with where to read more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GPUS = "slurm.gpus"
HOLD_UNTIL_FIXED = "it will not start as it is: cancel it (c), change the setting, and submit again (s)"

# code: (what it means, what the user can do)
PENDING_REASONS: dict[str, tuple[str, str]] = {
    "Resources": ("the GPUs, CPUs or memory it asks for are in use by other jobs",
                  "wait for the expected start; or ask for less (slurm.gpus, slurm.mem) or put another "
                  "partition first in slurm.partitions"),
    "Priority": ("jobs with a higher priority are ahead of it in the queue",
                 "wait for the expected start; `sprio -j <job>` shows its priority"),
    "Dependency": ("it waits for another job to end first (--dependency=singleton: an older job of the "
                   "same name is still alive)",
                   "let the older job end, or cancel it if it should not run (c cancels every job of the service)"),
    "DependencyNeverSatisfied": ("the job it depends on failed, so it can never start",
                                 "cancel it (c) and submit again (s)"),
    "BeginTime": ("its earliest start time has not come yet (a requeued job waits about 2 minutes)",
                  "wait; `scontrol update JobId=<job> StartTime=now` starts it sooner"),
    "JobHeldUser": ("it is held by its owner (scontrol hold)", "release it: `scontrol release <job>`"),
    "JobHeldAdmin": ("it is held by an administrator (or after a launch failure)",
                     "ask the cluster's administrators to release it, or cancel it (c) and submit again (s)"),
    "QOSMaxGRESPerUser": ("your QOS allows no more GPUs at once: your other jobs hold them",
                          "end one of your other GPU jobs, or ask for fewer GPUs (slurm.gpus)"),
    "QOSMaxGRESPerJob": ("it asks for more GPUs than your QOS allows a job",
                         f"{HOLD_UNTIL_FIXED} (fewer GPUs: {GPUS})"),
    "QOSGrpGRES": ("the GPUs of everyone in your QOS are in use up to its limit", "wait for the expected start"),
    "QOSMaxJobsPerUserLimit": ("you run as many jobs as your QOS allows", "end another of your jobs, or wait"),
    "AssocGrpGRES": ("your account's GPU limit is reached: your group's jobs hold its GPUs",
                     "wait for your group's other GPU jobs to end, or ask for fewer GPUs (slurm.gpus)"),
    "AssocGrpGRESRunMinutes": ("your account has used up its running GPU minutes for now",
                               "wait for your group's running GPU jobs to use less, or ask for a shorter "
                               "time limit (slurm.time_limit)"),
    "AssocMaxJobsLimit": ("your account runs as many jobs as it may", "end another of your account's jobs, or wait"),
    "AssocGrpCPULimit": ("your account's CPU limit is reached", "wait, or ask for fewer CPUs (slurm.cpus_per_gpu)"),
    "AssocGrpMemLimit": ("your account's memory limit is reached", "wait, or ask for less memory (slurm.mem)"),
    "ReqNodeNotAvail": ("a node it needs is not available (down, drained or reserved for maintenance)",
                        "wait for the node, or leave slurm.nodelist empty, or put another partition first"),
    "NodeDown": ("a node it needs is down", "wait for the node to come back, or use another partition"),
    "PartitionTimeLimit": ("its time limit is longer than the partition allows",
                           f"{HOLD_UNTIL_FIXED} (slurm.time_limit at most the partition's MaxTime, see `sinfo`)"),
    "PartitionNodeLimit": ("it asks for more nodes than the partition allows",
                           f"{HOLD_UNTIL_FIXED} (fewer nodes, or another partition)"),
    "PartitionConfig": ("it asks for more than the partition's nodes have (GPUs, CPUs, memory)",
                        f"{HOLD_UNTIL_FIXED} (fewer GPUs: {GPUS}; or another partition)"),
    "PartitionDown": ("the partition is down", "use another partition (slurm.partitions), or wait"),
    "PartitionInactive": ("the partition takes no jobs now", "use another partition (slurm.partitions), or wait"),
    "Reservation": ("it waits for its advance reservation to begin", "wait for the reservation"),
    "Licenses": ("it waits for a license", "wait"),
    "BadConstraints": ("its constraints can never be met", f"{HOLD_UNTIL_FIXED} (its --constraint)"),
    "InvalidAccount": ("its account is not valid", "ask the administrators, or set another account"),
    "InvalidQOS": ("its QOS is not valid", "ask the administrators, or set another QOS"),
    "Cleaning": ("it is being requeued and still cleaning up", "wait a moment"),
    "Prolog": ("its prolog program is still running", "wait a moment"),
}

# Phrases of sbatch's "Batch job submission failed: ..." and what to do about each.
SUBMIT_REFUSALS: tuple[tuple[str, str, str], ...] = (
    ("Requested node configuration is not available",
     "no node of the partition has what the job asks for (more GPUs, CPUs or memory than a node has)",
     f"ask for less ({GPUS}, slurm.cpus_per_gpu, slurm.mem) or put another partition first in slurm.partitions"),
    ("Invalid generic resource (gres) specification", "the cluster has no GPUs (GRES) of that kind",
     f"check the GPU type and count ({GPUS}); `sinfo -o '%P %G'` lists what each partition has"),
    ("Requested time limit is invalid", "the time limit is longer than the partition allows",
     "shorten slurm.time_limit to the partition's MaxTime (`sinfo`)"),
    ("Invalid partition name specified", "the partition does not exist",
     "fix slurm.partitions (`sinfo` lists the partitions)"),
    ("Invalid account or account/partition combination", "your account may not use this partition",
     "use another partition, or ask the administrators"),
    ("Job violates accounting/QOS policy", "your account or QOS does not allow this job (its size, time or count)",
     "ask for less, or ask the administrators which limit it is (`sacctmgr show assoc user=$USER`)"),
    ("QOSMaxSubmitJobPerUserLimit", "you have submitted as many jobs as your QOS allows",
     "cancel some of your other jobs"),
    ("AssocMaxSubmitJobLimit", "your account has submitted as many jobs as it may", "cancel some of its other jobs"),
)


@dataclass(frozen=True)
class Explanation:
    code: str  # Slurm's own word (a reason code, or the refusal's phrase)
    means: str  # in words
    action: str  # what the user can do

    def line(self) -> str:
        return f"{self.means} ({self.code}); what to do: {self.action}"


def reason_code(reason: str) -> str:
    """`(ReqNodeNotAvail, UnavailableNodes:n1)` -> `ReqNodeNotAvail`."""
    return re.split(r"[\s,()]+", reason.strip().strip("()"), maxsplit=1)[0] if reason.strip() else ""


def explain_pending(reason: str) -> Explanation | None:
    """Slurm's pending reason in words; None when there is none (the job is not waiting)."""
    code = reason_code(reason)
    if not code or code == "None":
        return None
    means, action = PENDING_REASONS.get(code, (
        f"Slurm says {reason.strip()}", "see `scontrol show job <job>` and `man squeue` (JOB REASON CODES)"))
    return Explanation(code, means, action)


def explain_refusal(stderr: str) -> Explanation | None:
    """Why sbatch refused a job, when the table knows its message."""
    for phrase, means, action in SUBMIT_REFUSALS:
        if phrase.lower() in stderr.lower():
            return Explanation(phrase, means, action)
    return None
