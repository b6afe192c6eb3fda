"""Texts to token ids, once per text: long texts cut by characters first, then truncated to the limit."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

# Tokens of real text are far shorter than this many characters, so cutting a text at
# max_length * CHARS_PER_TOKEN keeps every token that survives truncation while it bounds the
# work a 16 MiB text can cause. (A pathological text, say of 200-character words that each
# become one unknown token, may lose tokens; it is counted as truncated either way.)
CHARS_PER_TOKEN = 64


@dataclass(frozen=True, slots=True)
class Encoded:
    ids: list[int]
    truncated: bool


class TextEncoder:
    """The fast (Rust) tokenizer behind a transformers tokenizer, set to truncate and not pad.

    Calling the backend directly gives the same ids as `tokenizer(text, truncation=True)` for a
    fraction of the Python overhead, and it releases the GIL while it works."""

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.max_length = max_length
        self.max_chars = max_length * CHARS_PER_TOKEN
        self._slow = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._backend = copy.deepcopy(backend) if backend is not None else None
        if self._backend is not None:
            self._backend.no_padding()
            self._backend.enable_truncation(max_length)

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        cut = [len(t) > self.max_chars for t in texts]
        texts = [t[:self.max_chars] if c else t for t, c in zip(texts, cut)]
        if self._backend is None:
            ids = self._slow(texts, truncation=True, max_length=self.max_length, verbose=False)["input_ids"]
            return [Encoded(i, c or len(i) >= self.max_length) for i, c in zip(ids, cut)]
        # One text (the common request) skips the batch call's hand-off to the thread pool.
        encodings = ([self._backend.encode(texts[0])] if len(texts) == 1
                     else self._backend.encode_batch(texts, add_special_tokens=True))
        return [Encoded(e.ids, c or bool(e.overflowing)) for e, c in zip(encodings, cut)]
