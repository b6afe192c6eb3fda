"""Parsers for squeue (text and JSON of 22.05 / 23.11 / 24.x), scontrol and sinfo output."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from ..models import Job, JobState, Partition

# Explicit fields and delimiter (`-O name:|`): a user's SQUEUE_FORMAT cannot change what we read,
# and no value is cut to a column width. The comment comes last: it is free text.
# StartTime is what `squeue --start` shows: for a pending job, when the scheduler expects it to start.
SQUEUE_FIELDS = ("JobID", "Name", "UserName", "StateCompact", "Partition", "NodeList", "Reason",
                 "TimeUsed", "TimeLimit", "TimeLeft", "tres-per-node", "tres-per-job", "SubmitTime",
                 "StartTime", "RestartCnt", "Comment")
SQUEUE_FORMAT = ",".join(f"{f}:|" for f in SQUEUE_FIELDS)
SINFO_FORMAT = "PartitionName:|,Available:|,StateLong:|,Gres:|,GresUsed:|,NodeList:"


def _text(value: str) -> str:
    return "" if value in ("N/A", "(null)", "None") else value


def parse_squeue_text(text: str) -> list[Job]:
    """`squeue -h -O <SQUEUE_FORMAT>` output."""
    jobs = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < len(SQUEUE_FIELDS) or not parts[0].strip() or not parts[0][0].isdigit():
            continue
        (job_id, name, user, state, partition, node, reason, elapsed, limit, left, per_node,
         per_job, submit, start, restarts) = parts[:15]
        comment = "|".join(parts[15:]).removesuffix("|")
        jobs.append(Job(job_id=job_id, name=name, state=JobState.parse(state), user=user,
                        partition=partition, node=_text(node), reason=_text(reason),
                        elapsed=elapsed, time_limit=limit, time_left=_text(left),
                        gpus=_gpus(per_node), gpus_per_job=_gpus(per_job), submit_time=submit,
                        start_time=_text(start), restarts=int(restarts) if restarts.isdigit() else 0,
                        comment=_text(comment)))
    return jobs


def _gpus(tres: str) -> str:
    """`gres:gpu:1`, `gres/gpu:p100:2`, `gres/gpu=2` -> `1` / `p100:2` / `2`; none -> ``."""
    for item in tres.split(","):
        m = re.match(r"(?:gres[:/])?gpu[:=](.+)", item.strip())
        if m:
            return m.group(1)
    return ""


def _number(value: Any) -> int | None:
    """22.05 gives plain numbers; 23.11+ gives {"set": bool, "infinite": bool, "number": n}."""
    if isinstance(value, dict):
        if value.get("infinite"):
            return -1
        return int(value["number"]) if value.get("set", True) and "number" in value else None
    if isinstance(value, (int, float)):
        return int(value)
    return None


def _state(value: Any) -> str:
    if isinstance(value, list):  # 23.11+: ["RUNNING"] or ["PENDING", "REQUEUED"]
        return value[0] if value else ""
    return str(value or "")


def _nodes(job: dict[str, Any]) -> str:
    for candidate in (job.get("nodes"), (job.get("job_resources") or {}).get("nodes")):
        if isinstance(candidate, str) and candidate:
            return candidate
        if isinstance(candidate, dict):  # 24.05+: an object with the node list in it
            for key in ("list", "nodes", "string"):
                if isinstance(candidate.get(key), str) and candidate[key]:
                    return candidate[key]
    allocated = (job.get("job_resources") or {}).get("allocated_nodes")
    if isinstance(allocated, list) and allocated:
        return ",".join(str(n.get("nodename", "")) for n in allocated if isinstance(n, dict))
    return ""


def _gres_detail(job: dict[str, Any]) -> str:
    """23.11+: the GPUs a running job holds, `["gpu:p100:2(IDX:0-1)"]`, when no TRES says."""
    detail = job.get("gres_detail")
    if isinstance(detail, list):
        for item in detail:
            m = re.match(r"gpu(?::([^:(]+))?:(\d+)", str(item))
            if m:
                return f"{m.group(1)}:{m.group(2)}" if m.group(1) else m.group(2)
    return ""


def _minutes(limit: int | None) -> str:
    if limit is None:
        return ""
    if limit < 0:
        return "UNLIMITED"
    days, rest = divmod(limit, 1440)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00" if days else f"{rest // 60}:{rest % 60:02d}:00"


def duration_seconds(text: str) -> int | None:
    """Slurm's durations (`1-02:03:04`, `02:03:04`, `03:04`, `UNLIMITED`) in seconds."""
    m = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text.strip())
    if not m:
        return None
    days, hours, minutes, secs = (int(g) if g else 0 for g in m.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def _elapsed(seconds: int) -> str:
    """squeue's own TIME layout: 0:05, 1:02:03, 1-02:03:04."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _iso(epoch: int | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone().strftime("%Y-%m-%dT%H:%M:%S")


def parse_squeue_json(text: str, now: float | None = None) -> list[Job]:
    """Jobs from `squeue --json` of any version since 22.05 (the caller filters: 22.05 ignores
    squeue's own filters with --json)."""
    data = json.loads(text)
    now = now if now is not None else datetime.now(timezone.utc).timestamp()
    jobs = []
    for raw in data.get("jobs", []):
        state = JobState.parse(_state(raw.get("job_state")))
        start = _number(raw.get("start_time"))
        elapsed = ""
        if state in (JobState.RUNNING, JobState.COMPLETING) and start:
            elapsed = _elapsed(int(now - start))
        reason = str(raw.get("state_reason") or "")
        limit = _number(raw.get("time_limit"))
        left = ""
        if limit is not None and limit >= 0 and state is JobState.RUNNING and start:
            left = _elapsed(int(limit * 60 - (now - start)))
        jobs.append(Job(
            job_id=str(raw.get("job_id", "")), name=str(raw.get("name", "")), state=state,
            user=str(raw.get("user_name", "")), partition=str(raw.get("partition", "")),
            node=_nodes(raw), reason="" if reason == "None" else reason, elapsed=elapsed,
            time_limit=_minutes(limit), time_left=left,
            gpus=_gpus(str(raw.get("tres_per_node") or "")) or _gres_detail(raw),
            gpus_per_job=_gpus(str(raw.get("tres_per_job") or "")),
            submit_time=_iso(_number(raw.get("submit_time"))), start_time=_iso(start),
            restarts=_number(raw.get("restart_cnt")) or 0, comment=str(raw.get("comment") or "")))
    return jobs


def parse_scontrol(text: str) -> dict[str, str]:
    """`scontrol show job` (multi-line or -o) as a dict of its Key=Value pairs."""
    fields: dict[str, str] = {}
    # Keys are CamelCase (JobId, TRES, NtasksPerN:B:S:C); `a=b` inside a value is not a key.
    key_re = r"[A-Z][\w/:]*"
    for token in re.findall(rf"({key_re})=(.*?)(?=\s+{key_re}=|\s*$)", " ".join(text.split())):
        key, value = token
        fields.setdefault(key, value.strip())
    return fields


def job_from_scontrol(fields: dict[str, str]) -> Job:
    return Job(job_id=fields.get("JobId", ""), name=fields.get("JobName", ""),
               state=JobState.parse(fields.get("JobState", "")),
               user=fields.get("UserId", "").split("(")[0], partition=fields.get("Partition", ""),
               node="" if fields.get("NodeList") in (None, "(null)") else fields["NodeList"],
               reason="" if fields.get("Reason") == "None" else fields.get("Reason", ""),
               elapsed=fields.get("RunTime", ""), time_limit=fields.get("TimeLimit", ""),
               gpus=_gpus(fields.get("TresPerNode", "")),
               gpus_per_job=_gpus(fields.get("TresPerJob", "")), submit_time=fields.get("SubmitTime", ""),
               start_time=_text(fields.get("StartTime", "")).replace("Unknown", ""),
               restarts=int(fields.get("Restarts", "0") or 0), comment=_text(fields.get("Comment", "")))


def _gpu_count(gres: str) -> int:
    total = 0
    for item in gres.split(","):
        m = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if m:
            total += int(m.group(1))
    return total


def parse_sinfo(text: str) -> list[Partition]:
    """`sinfo -h -N -O <SINFO_FORMAT>`: one row per node and partition, folded per partition."""
    parts: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 6 or not cells[0]:
            continue
        name, avail, state, gres, used, _node = cells[:6]
        name = name.rstrip("*")
        p = parts.setdefault(name, {"available": avail == "up", "nodes": 0, "idle": 0, "gres": gres,
                                    "free": 0})
        p["nodes"] += 1
        usable = not any(s in state for s in ("down", "drain", "fail", "maint", "not_responding"))
        p["idle"] += usable and state.startswith("idle")
        if usable:
            p["free"] += max(0, _gpu_count(gres) - _gpu_count(used))
    return [Partition(name, p["available"], p["nodes"], p["idle"], p["gres"], p["free"])
            for name, p in parts.items()]
