"""Help: every key of every screen, with its real name, taken from the bindings themselves."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import app_key_rows, key_name


def key_rows(owner: type) -> list[tuple[str, str]]:
    """(key, what it does) for every binding a screen declares."""
    rows = []
    for binding in getattr(owner, "BINDINGS", []):
        if isinstance(binding, tuple):
            binding = Binding(*binding)
        rows.append((key_name(binding), binding.description or binding.action))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80; max-width: 95%; height: auto; max-height: 90%;
                                  border: round $primary; padding: 1 2; background: $surface; }
    """

    def __init__(self, readonly: bool) -> None:
        super().__init__()
        from .bench import BenchScreen
        from .confirm import ConfirmScreen
        from .graph_bench import GraphBenchScreen
        from .history import HistoryScreen
        from .log import LogScreen

        self.sections = [("Dashboard", app_key_rows()), ("Job log (l)", key_rows(LogScreen)),
                         ("Past jobs (h)", key_rows(HistoryScreen)),
                         ("Benchmark (b)", key_rows(BenchScreen)), ("Neo4j queries (b, n)", key_rows(GraphBenchScreen)),
                         ("Confirmation", key_rows(ConfirmScreen)), ("This help", key_rows(HelpScreen))]
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for title, rows in self.sections:
                table = Table(title=title, title_justify="left", expand=True, box=None, show_header=False)
                table.add_column("key", style="bold cyan", width=12)
                table.add_column("does")
                for key, description in rows:
                    table.add_row(key, description)
                yield Static(table)
            note = "\n[i]read-only: operations and the benchmark are disabled[/i]" if self.readonly else ""
            yield Static("Destructive operations ask first, showing the exact commands; Cancel is the "
                         "default. Every action is also in the command palette (: or ctrl+p)." + note)
