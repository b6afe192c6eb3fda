"""Messages that carry readings to the screens; a newer reading of a source replaces an older
one still in the queue, so a slow screen never draws stale readings one after another."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..readings import Reading


@dataclass
class ReadingArrived(Message, bubble=False):
    source: str
    reading: Reading

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ReadingArrived) and message.source == self.source
