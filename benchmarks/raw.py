"""The raw in-process forward, as a user of transformers would write it: plain and length-sorted."""

from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F

from server.model import EmbeddingModel
from server.pooling import pool, segments_from_mask

# sentence-transformers' encode() sorts by length and runs batches of 32: the careful way.
SORTED_CHUNK = 32


def forward_plain(model: EmbeddingModel, texts: list[str]) -> torch.Tensor:
    """One padded forward for `texts`: normalized float32 vectors on the CPU."""
    enc = model.tokenizer(texts, padding=True, truncation=True, max_length=model.max_length,
                          return_tensors="pt").to(model.device)
    with torch.inference_mode():
        hidden = model.model(**enc).last_hidden_state
        vectors = pool(hidden, segments_from_mask(enc["attention_mask"]), model.layout.pooling)
        return F.normalize(vectors, dim=-1).cpu()


def forward_sorted(model: EmbeddingModel, texts: list[str]) -> torch.Tensor:
    """Length-sorted chunks of SORTED_CHUNK, vectors back in the original order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), model.native_dimension)
    for start in range(0, len(texts), SORTED_CHUNK):
        chunk = order[start:start + SORTED_CHUNK]
        out[chunk] = forward_plain(model, [texts[i] for i in chunk])
    return out


def texts_per_second(forward: Callable[[EmbeddingModel, list[str]], torch.Tensor],
                     model: EmbeddingModel, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        forward(model, texts[i:i + batch])
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return len(texts) / (time.perf_counter() - started)
