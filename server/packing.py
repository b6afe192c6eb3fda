"""Model inputs for a batch of token-id lists: packed rows (no padding) or padded rows.

Packing puts several texts one after another in a row; each text attends only to itself (a
block-diagonal mask, causal inside the block for decoder models) and its positions restart at
0, so every text gets the same hidden states as alone, without the padding a batch of mixed
lengths costs (on CPU a forward costs what its padded tokens cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

# Rows are at least this long (or as long as the longest text); longer rows would spend more
# on attention, shorter ones would leave more padding at their ends.
MIN_ROW_TOKENS = 64


@dataclass(frozen=True)
class Inputs:
    """Tensors for one forward and where each text's tokens sit in the output."""

    kwargs: dict[str, torch.Tensor]
    segments: torch.Tensor | None  # (rows, width): the text of each token, -1 for padding; None: one text, one row


def assign_rows(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Texts to rows, longest first into the emptiest row that has room (balanced rows)."""
    rows: list[list[int]] = []
    fill: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        best = min(range(len(rows)), key=fill.__getitem__, default=None)
        if best is None or fill[best] + lengths[i] > capacity:
            rows.append([i])
            fill.append(lengths[i])
        else:
            rows[best].append(i)
            fill[best] += lengths[i]
    return rows


def packed(batch: Sequence[list[int]], pad_id: int, causal: bool) -> Inputs:
    lengths = [len(ids) for ids in batch]
    total = sum(lengths)
    capacity = max(MIN_ROW_TOKENS, max(lengths))
    n_rows = -(-total // capacity)
    rows = assign_rows(lengths, max(capacity, -(-total // n_rows)))
    width = max(sum(lengths[i] for i in row) for row in rows)
    ids = [[pad_id] * width for _ in rows]
    positions = [[0] * width for _ in rows]
    segments = [[-1] * width for _ in rows]
    for r, row in enumerate(rows):
        at = 0
        for i in row:
            n = lengths[i]
            ids[r][at:at + n] = batch[i]
            positions[r][at:at + n] = range(n)
            segments[r][at:at + n] = [i] * n
            at += n
    seg = torch.tensor(segments)
    allowed = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] >= 0)
    if causal:
        allowed &= torch.ones(width, width, dtype=torch.bool).tril()
    # A padding token attends to itself only, so no row of the mask is empty (no NaN).
    allowed |= torch.eye(width, dtype=torch.bool) & (seg < 0)[:, :, None]
    kwargs = {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(positions),
              "attention_mask": allowed[:, None]}
    return Inputs(kwargs, seg)


def padded(batch: Sequence[list[int]], pad_id: int, left: bool) -> Inputs:
    if len(batch) == 1:  # no padding: no mask, and the model takes its fastest attention path
        return Inputs({"input_ids": torch.tensor([batch[0]])}, None)
    lengths = [len(ids) for ids in batch]
    width = max(lengths)
    ids, segments = [], []
    for i, seq in enumerate(batch):
        pad = width - len(seq)
        ids.append([pad_id] * pad + seq if left else seq + [pad_id] * pad)
        segments.append([-1] * pad + [i] * len(seq) if left else [i] * len(seq) + [-1] * pad)
    seg = torch.tensor(segments)
    return Inputs({"input_ids": torch.tensor(ids), "attention_mask": (seg >= 0).long()}, seg)
