"""Health you can look back on: every `--check` appends one compact JSON line to a bounded file
next to the endpoints file; this module writes, reads and sums it up (availability, incidents)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

KEEP_LINES = 2500  # a week of checks every 5 minutes is 2016
ROTATE_AT = 4000
# Append stdin, then cut the file back to its newest lines once it grows past ROTATE_AT.
APPEND = (f'f=$1; umask 077; cat >> "$f" && n=$(wc -l < "$f") && if [ "$n" -gt {ROTATE_AT} ]; then '
          f'tail -n {KEEP_LINES} "$f" > "$f.tmp" && chmod --reference="$f" "$f.tmp" && mv -f "$f.tmp" "$f"; fi')


@dataclass(frozen=True)
class Entry:
    at: float  # epoch
    state: str  # OK WARNING CRITICAL UNKNOWN
    summary: str
    job_id: str = ""

    def line(self) -> str:
        return json.dumps({"t": round(self.at, 1), "s": self.state, "m": self.summary[:300], "j": self.job_id},
                          separators=(",", ":"))


@dataclass(frozen=True)
class Incident:
    start: float
    end: float | None  # None: still going on
    worst: str
    reason: str
    checks: int


@dataclass(frozen=True)
class Summary:
    last: Entry | None
    availability: dict[str, float | None] = field(default_factory=dict)  # window -> share OK
    counts: dict[str, int] = field(default_factory=dict)  # window -> checks in it
    incidents: tuple[Incident, ...] = ()


AVAILABILITY_SPANS = {"24h": 86400.0, "7d": 7 * 86400.0}  # availability is told over these
ORDER = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}


def history_path(endpoints_file: str) -> str:
    return endpoints_file + ".health.jsonl"


def append_argv(path: str) -> list[str]:
    return ["sh", "-c", APPEND, "sh", path]


def parse(text: str) -> list[Entry]:
    """Entries in file order; lines that are not ours (a cut line, a stray edit) are skipped."""
    entries = []
    for line in text.splitlines():
        try:
            data = json.loads(line)
            entries.append(Entry(float(data["t"]), str(data["s"]), str(data.get("m", "")), str(data.get("j", ""))))
        except (ValueError, KeyError, TypeError):
            continue
    return entries


def summarize(entries: list[Entry], now: float, since: float | None = None) -> Summary:
    entries = sorted(entries, key=lambda e: e.at)
    availability: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for name, seconds in AVAILABILITY_SPANS.items():
        inside = [e for e in entries if e.at >= now - seconds]
        counts[name] = len(inside)
        availability[name] = sum(e.state == "OK" for e in inside) / len(inside) if inside else None
    window = [e for e in entries if since is None or e.at >= now - since]
    return Summary(entries[-1] if entries else None, availability, counts, tuple(incidents(window)))


def incidents(entries: list[Entry]) -> list[Incident]:
    """Runs of checks that were not OK; an incident ends at the first OK check after it."""
    found: list[Incident] = []
    run: list[Entry] = []
    for entry in entries + [None]:  # type: ignore[list-item]
        if entry is not None and entry.state != "OK":
            run.append(entry)
            continue
        if run:
            worst = max(run, key=lambda e: ORDER.get(e.state, 2))
            found.append(Incident(run[0].at, entry.at if entry is not None else None, worst.state,
                                  run[0].summary, len(run)))
            run = []
    return found
