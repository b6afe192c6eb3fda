"""The check history: written bounded, read back, summed up into availability and incidents."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from codex_console import history, report

WEEK = Path(__file__).parent.parent / "fixtures" / "history" / "week.jsonl"
END = 1795300000.0 + 7 * 288 * 300  # just after the last check


def test_a_recorded_week_sums_up():
    entries = history.parse(WEEK.read_text())
    assert len(entries) == 7 * 288  # the cut line is skipped
    summary = history.summarize(entries, END, since=7 * 86400)
    assert summary.counts == {"24h": 288, "7d": 2016}
    assert summary.availability["24h"] == 287 / 288  # the UNKNOWN blip was in the last day
    assert round(summary.availability["7d"], 4) == round((2016 - 12 - 2 - 1) / 2016, 4)
    outage, slow, blip = summary.incidents
    assert (outage.worst, outage.checks, outage.end - outage.start) == ("CRITICAL", 12, 12 * 300)
    assert "Connection refused" in outage.reason
    assert (slow.worst, slow.checks) == ("WARNING", 2) and (blip.worst, blip.checks) == ("UNKNOWN", 1)
    assert summary.last.state == "OK" and summary.last.job_id == "812399"


def test_the_report_prints_what_people_ask():
    summary = history.summarize(history.parse(WEEK.read_text()), END, since=7 * 86400)
    text = report.as_text(summary, "7d")
    assert "availability 24h: 99.65% of 288 checks OK" in text
    assert "availability 7d: 99.26% of 2016 checks OK" in text
    assert "incidents in the last 7d: 3" in text and "1.0 h  CRITICAL" in text
    data = json.loads(report.as_json(summary))
    assert data["availability"]["7d"] > 0.99 and len(data["incidents"]) == 3
    assert report.as_text(history.summarize([], END)).startswith("no check history yet")


def test_an_ongoing_incident_has_no_end():
    entries = [history.Entry(100.0, "OK", "fine"), history.Entry(400.0, "CRITICAL", "no job")]
    [incident] = history.summarize(entries, 500.0).incidents
    assert incident.end is None and "ongoing" in report.as_text(history.summarize(entries, 500.0))


def test_the_file_stays_bounded(tmp_path):
    path = tmp_path / "services.env.health.jsonl"
    path.write_text("".join(history.Entry(float(i), "OK", "x").line() + "\n" for i in range(history.ROTATE_AT)))
    path.chmod(0o640)
    line = history.Entry(1e9, "CRITICAL", "the newest").line() + "\n"
    subprocess.run(history.append_argv(str(path)), input=line, text=True, check=True)
    kept = path.read_text().splitlines()
    assert len(kept) == history.KEEP_LINES and json.loads(kept[-1])["m"] == "the newest"
    assert oct(path.stat().st_mode & 0o777) == "0o640"
