"""Judging what the job reports of itself: what it says to fix though it serves, and how old
Neo4j's last dump is against the schedule."""

from __future__ import annotations

from datetime import datetime, timezone

from ..models import Endpoints
from ..node.neo4j_dump import dump_overdue
from ..readings import Reading
from .nagios import Perf, State
from .probe import ProbeResult


def judge_warnings(endpoints: Reading[Endpoints]) -> ProbeResult | None:
    """What the job says to fix though it serves (a Neo4j store on a filesystem whose locks it
    cannot trust): WARNING."""
    ep = endpoints.fresh_value
    if ep is None or not ep.warnings:
        return None
    return ProbeResult("warnings", State.WARNING, "; ".join(ep.warnings))


def judge_dumps(endpoints: Reading[Endpoints], every: float, now: float) -> ProbeResult | None:
    """WARNING when the newest Neo4j dump (else the job's start) is older than twice neo4j.dump_every."""
    ep = endpoints.fresh_value
    if ep is None or every <= 0 or not ep.neo4j_uri:
        return None
    facts = dict(ep.neo4j)
    last = float(facts["last_dump_at"]) if facts.get("last_dump_at") else None
    started = _epoch(ep.started)
    age = None if last is None else now - last
    perf = (Perf("neo4j_dump_age", None if age is None else round(age), "s", f"{2 * every:.0f}", min=0),)
    if not dump_overdue(now, last if last is not None else started, every):
        said = f"last Neo4j dump {_span(age)} ago" if age is not None else "no Neo4j dump yet"
        return ProbeResult("dumps", State.OK, said, perfdata=perf)
    said = f"last Neo4j dump {_span(age)} ago" if age is not None else "no Neo4j dump since the job started"
    return ProbeResult("dumps", State.WARNING, f"{said}, more than twice neo4j.dump_every ({_span(every)})",
                       perfdata=perf)


def _epoch(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 86400:.1f}d" if seconds >= 2 * 86400 else f"{seconds / 3600:.1f}h"


