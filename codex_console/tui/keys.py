"""The dashboard's own keys (not operations), declared as data: bindings, help and palette."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from ..operations import OPERATIONS


@dataclass(frozen=True)
class Key:
    key: str
    action: str
    label: str
    description: str
    display: str | None = None  # how the footer and help write it

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, key_display=self.display)


FIRST = (  # always visible, even at 80 columns: the footer keeps the first bindings
    Key("question_mark", "help", "Help", "Every key of every screen", "?"),
    Key("q", "quit", "Quit", "Quit (the tunnels stay up)"),
)
LAST = (
    Key("l", "log", "Log", "The job log, following"),
    Key("h", "history", "History", "Past jobs of the service and why each ended (sacct)"),
    Key("b", "bench", "Bench", "Benchmark the embed server (there, n: Neo4j's queries)"),
    Key("w", "window", "Window", "Chart window: 5 min, 1 h, 24 h"),
    Key("ctrl+r", "refresh", "Refresh", "Poll everything now", "^r"),
    Key("colon", "command_palette", "Palette", "Every action by name", ":"),
)


def app_bindings() -> list[Binding]:
    ops = [Binding(op.key, f"operation('{op.group}', '{op.name}')", op.label) for op in OPERATIONS if op.key]
    return [k.binding() for k in FIRST] + ops + [k.binding() for k in LAST]


def key_name(binding: Binding) -> str:
    """The key as a person types it: `?` not `question_mark`, `ctrl+r` not `^r`."""
    names = {"question_mark": "?", "colon": ":", "slash": "/", "escape": "Esc", "enter": "Enter",
             "ctrl+r": "ctrl+r"}
    return ", ".join(names.get(k, k) for k in binding.key.split(","))


def app_key_rows() -> list[tuple[str, str]]:
    """(key, what it does) for the dashboard, operations with their full descriptions."""
    rows = [(k.display or k.key, k.description) for k in FIRST]
    rows += [(op.key, op.description + (" (asks first)" if op.destructive else "")) for op in OPERATIONS if op.key]
    return rows + [(key_name(k.binding()), k.description) for k in LAST]
