"""Confirmation for destructive operations: what will happen, the exact commands; Cancel is focused."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [("escape", "dismiss(False)", "Cancel")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 90%; max-width: 100; height: auto; border: thick $error;
                               padding: 1 2; background: $surface; }
    ConfirmScreen #command { background: $boost; padding: 0 1; margin: 1 0; color: $warning; }
    ConfirmScreen Horizontal { height: auto; align: right middle; }
    ConfirmScreen Button { margin-left: 2; }
    """

    def __init__(self, title: str, commands: list[str], detail: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.commands = commands
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]", markup=True)
            if self.detail:
                yield Label(self.detail, markup=False)
            yield Static("\n".join(f"$ {c}" for c in self.commands), id="command", markup=False)
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Confirm", id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")
