"""Reference embeddings computed directly with transformers, one text at a time (no padding)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer


def reference_embeddings(model_dir: Path, texts: list[str], pooling: str) -> torch.Tensor:
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    rows = []
    with torch.inference_mode():
        for text in texts:
            enc = tok(text, return_tensors="pt")
            hidden = model(**enc).last_hidden_state[0]
            rows.append(hidden.mean(0) if pooling == "mean" else hidden[-1])
    return torch.nn.functional.normalize(torch.stack(rows), dim=-1)
