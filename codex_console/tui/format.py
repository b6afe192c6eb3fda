"""Pure text helpers for the widgets: bars, ages, numbers; missing readings show as N/A."""

from __future__ import annotations

from rich.text import Text

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


def gb(used: float | None, total: float | None) -> str:
    """GPU memory, used of total, in GB: `3.2/16.3GB`."""
    return f"{num(used, '{:.1f}')}/{num(total, '{:.1f}')}GB"


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


def grid(rows: list[list[str | Text]]) -> Text:
    """Rows of cells in aligned columns, one space apart, as one Text (a panel text can tell
    whether it changed, which a rich Table cannot)."""
    cells = [[Text(c) if isinstance(c, str) else c for c in row] for row in rows]
    columns = max(map(len, cells), default=0)
    widths = [max((len(row[i]) for row in cells if i < len(row)), default=0) for i in range(columns)]
    text = Text(no_wrap=True, overflow="ellipsis")
    for n, row in enumerate(cells):
        if n:
            text.append("\n")
        for i, cell in enumerate(row):
            text.append_text(cell)
            if i < len(row) - 1:
                text.append(" " * (widths[i] - len(cell) + 1))
    return text
