"""Help: every key of the dashboard, from its BINDINGS."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 64; height: auto; max-height: 90%; border: round $primary;
                                  padding: 1 2; background: $surface; }
    """

    def __init__(self, bindings: list[tuple[str, str, str]], readonly: bool) -> None:
        super().__init__()
        self.rows = bindings
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        table = Table(title="codex-console keys", expand=True, box=None)
        table.add_column("key", style="bold cyan")
        table.add_column("action")
        for key, _, description in self.rows:
            table.add_row(key, description)
        note = "\n[i]read-only: actions are disabled[/i]" if self.readonly else ""
        with VerticalScroll():
            yield Static(table)
            yield Static("Destructive actions ask first, showing the exact command; Cancel is the "
                         "default. Every action is also in the command palette (ctrl+p)." + note)
