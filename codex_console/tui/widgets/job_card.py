"""The service job at a glance: where it runs, how long it has left, why it waits (in words, with
what to do, and when Slurm expects it to start), its two restart counts (Slurm's requeues of the
job, `r`; the services restarted inside it, `R` and the supervisor), the endpoints file's age
and what it says, who can read it and the key file, and the hand-over near the time limit."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from ...backends.slurm import service_job
from ...backends.slurm_reasons import explain_pending
from ...models import Endpoints, Job, JobState
from ...readings import Reading
from ..format import STATE_STYLE, age
from .panel import PanelText, SourcePanel


class JobCard(SourcePanel):
    source = "jobs"

    def __init__(self, **kwargs) -> None:
        super().__init__("Service job", **kwargs)
        self.endpoints: Reading[Endpoints] | None = None

    def compose(self) -> ComposeResult:
        yield PanelText("waiting for squeue", id="job-card-text", classes="panel-text")

    def receive(self, source: str, reading: Reading) -> None:
        if source == "endpoints":
            self.endpoints = reading
            if self.reading is not None:
                self.show(self.reading)
        super().receive(source, reading)

    def show(self, reading: Reading[list[Job]]) -> None:
        self.query_one("#job-card-text", PanelText).show(card_text(reading.value, self.endpoints, self.wallclock()))


RESTARTS_KEY = "SERVICE_RESTARTS"  # the job's count of services it restarted, when it writes one
RESTART_EVENTS = ("restarted in place", "exited (")


def service_restarts(endpoints: Reading[Endpoints] | None, job: Job) -> str:
    """Services restarted inside the job (in place, `R`, or after they exited): the job's own
    count when its endpoints file has one, else those its recent events (the last five) name."""
    ep = endpoints.value if endpoints is not None else None
    if ep is None or ep.job_id != job.job_id:
        return "?"
    if ep.get(RESTARTS_KEY).isdigit():
        return ep.get(RESTARTS_KEY)
    recent = [e for e in ep.get("EVENTS").split("|") if any(word in e for word in RESTART_EVENTS)]
    return f"{len(recent)} recent"


def card_text(jobs: list[Job] | None, endpoints: Reading[Endpoints] | None, now: float) -> Text:
    job = service_job(jobs)
    text = Text(no_wrap=True, overflow="ellipsis")
    if job is None:
        text.append("no service job", style="bold red")
        text.append("  press s to submit one" if jobs is not None else "", style="dim")
    else:
        text.append(f"{job.job_id} ", style="bold")
        text.append(job.state.name, style=STATE_STYLE.get(job.state, ""))
        text.append(f" on {job.node or '-'} ({job.partition})")
        others = [j for j in jobs or [] if j.job_id != job.job_id]
        if others:
            text.append("  also " + ", ".join(f"{j.job_id} {j.state.value}" for j in others), style="yellow")
        left = f" · left {job.time_left}" if job.time_left else ""
        text.append(f"\nelapsed {job.elapsed or '-'} of {job.time_limit or '-'}{left}")
        text.append(f"\nrequeues {job.restarts} · service restarts {service_restarts(endpoints, job)}")
        waits = explain_pending(job.reason) if job.state is not JobState.RUNNING else None
        if waits is not None:
            text.append(f"\nwaits: {waits.means} ({waits.code}) · expected start {job.start_time or 'not known yet'}",
                        style="yellow")
            text.append(f"\nto do: {waits.action}", style="dim")
    ep = endpoints.value if endpoints is not None else None
    if ep is None or not (ep.job_id or ep.embed_urls or ep.neo4j_uri):
        text.append("\nendpoints file: none yet", style="dim")
        return text
    written = f"written {age(now - ep.written)} ago" if ep.written else "written ?"
    state = ("STALE", "bold red") if ep.stale else ("serving", "green")
    text.append(f"\nendpoints ({written}): ")
    text.append(*state)
    text.append(f" · embed {len(ep.embed_urls)}" + (f" (down: {', '.join(ep.down)})" if ep.down else "")
                + (" · neo4j" if ep.neo4j_uri else " · no neo4j"))
    if ep.reason:
        text.append(f"\n{ep.reason}", style="red" if ep.stale else "yellow")
    handover = ep.get("HANDOVER")
    if handover:
        text.append(f"\nhand-over: {handover}" + (f" ({ep.get('SUCCESSOR')})" if ep.get("SUCCESSOR") else ""),
                    style="magenta")
    if ep.access:  # last: the line a short card drops
        text.append("\nreadable by:")
        for i, file in enumerate(ep.access):
            text.append(f"{' ·' if i else ''} {file.path.rsplit('/', 1)[-1]} ")
            text.append(f"{file.readers} ({file.mode})", style="bold red" if file.readers == "everyone" else "")
    return text
