"""Pure text helpers for the widgets: bars, ages, numbers; missing readings show as N/A."""

from __future__ import annotations

from ..models import JobState

NA = "N/A"
STATE_STYLE = {
    JobState.RUNNING: "bold green", JobState.PENDING: "yellow", JobState.CONFIGURING: "cyan",
    JobState.COMPLETING: "cyan", JobState.REQUEUED: "magenta", JobState.REQUEUE_HOLD: "magenta",
    JobState.FAILED: "bold red", JobState.NODE_FAIL: "bold red", JobState.TIMEOUT: "red",
    JobState.CANCELLED: "dim", JobState.SUSPENDED: "yellow",
}
BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float | None, width: int = 12) -> str:
    """A fixed-width eighth-block bar; N/A for a missing reading."""
    if fraction is None:
        return NA.center(width)
    fraction = min(1.0, max(0.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def num(value: float | None, fmt: str = "{:.0f}", unit: str = "") -> str:
    return NA if value is None else fmt.format(value) + unit


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)  # two clocks (laptop, login node) can disagree a little
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def mib(value: float | None) -> str:
    return NA if value is None else f"{value / 1024:.1f}G"


def clip(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"
