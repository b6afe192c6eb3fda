"""How fast Neo4j moved to the successor of a hand-over, in numbers (the JSON twin) and in words
(the endpoints file's NEO4J_MOVED), from the two jobs' timestamps (epoch seconds)."""

from __future__ import annotations

import time
from typing import Any


def move_report(now: float, predecessor: str, ready: bool, claim: float, wait: float,
                stopped: float | None, released: float | None) -> dict[str, Any]:
    """The successor's Neo4j start, from its claim on the store (or the release, if that came
    first) to Bolt answering, in its parts: the old job lets go (`let_go`), its Neo4j stops
    (`stop`), this job sees the store free (`seen`), its Neo4j launches and answers (`launch`).
    Bolt is down from the stop on (`bolt_down`)."""
    at = time.strftime("%H:%M:%SZ", time.gmtime(now))
    out: dict[str, Any] = {"at": at, "from_job": predecessor}
    if not ready:
        words = "Neo4j starting here: the old job ended before the hand-over"
    elif not wait:
        words = "Neo4j was running"
    else:
        start = min(t for t in (wait, claim or None, stopped) if t)
        out["start"] = round(now - start, 1)
        words = f"Neo4j started in {now - start:.1f}s"
        if stopped and released:
            parts = {"let_go": stopped - start, "stop": released - stopped, "seen": wait - released,
                     "launch": now - wait}
            out.update({k: round(v, 1) for k, v in parts.items()})
            words += " (" + ", ".join(f"{k.replace('_', ' ')} {v:.1f}s" for k, v in parts.items()) + ")"
        if stopped:
            out["bolt_down"] = round(now - stopped, 1)
            words += f"; Bolt down {now - stopped:.1f}s"
    out["text"] = f"{at} from job {predecessor} ({words})"
    return out
