"""Pooling strategies and how a model folder declares them (sentence-transformers files)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

DEFAULT_QUERY_TASK = "Given a web search query, retrieve relevant passages that answer the query"


@dataclass(frozen=True)
class ModelLayout:
    """What the model folder says about pooling, prompts and length."""

    pooling: str  # mean | cls | lasttoken
    normalize: bool = True
    prompts: dict[str, str] = field(default_factory=dict)
    max_length: int | None = None


def query_prompt(task: str = DEFAULT_QUERY_TASK) -> str:
    return f"Instruct: {task}\nQuery:"


def read_layout(model_dir: Path, model_type: str) -> ModelLayout:
    """Pooling from modules.json / 1_Pooling/config.json; last-token for Qwen3 otherwise."""
    pooling = "lasttoken" if model_type.startswith("qwen") else "mean"
    modules_file = model_dir / "modules.json"
    normalize = True
    if modules_file.exists():
        modules = json.loads(modules_file.read_text())
        for module in modules:
            kind = module.get("type", "")
            if kind.endswith("Pooling"):
                cfg_file = model_dir / module.get("path", "1_Pooling") / "config.json"
                if cfg_file.exists():
                    pooling = _pooling_from(json.loads(cfg_file.read_text()), pooling)
        normalize = any(m.get("type", "").endswith("Normalize") for m in modules) or normalize
    prompts: dict[str, str] = {}
    st_cfg = model_dir / "config_sentence_transformers.json"
    if st_cfg.exists():
        prompts = {k: v for k, v in json.loads(st_cfg.read_text()).get("prompts", {}).items() if v}
    prompts.setdefault("query", query_prompt())
    max_length = None
    bert_cfg = model_dir / "sentence_bert_config.json"
    if bert_cfg.exists():
        max_length = json.loads(bert_cfg.read_text()).get("max_seq_length")
    return ModelLayout(pooling=pooling, normalize=normalize, prompts=prompts, max_length=max_length)


def _pooling_from(cfg: dict[str, object], fallback: str) -> str:
    if cfg.get("pooling_mode_lasttoken"):
        return "lasttoken"
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_mean_tokens"):
        return "mean"
    return fallback


def segments_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """A padded batch's attention mask as segments: row index where a real token is, -1 elsewhere."""
    rows = torch.arange(mask.shape[0], device=mask.device)[:, None].expand_as(mask)
    return torch.where(mask.bool(), rows, -1)


def pool(hidden: torch.Tensor, segments: torch.Tensor | None, strategy: str) -> torch.Tensor:
    """One float32 vector per text from the hidden states of its own tokens.

    `segments` says which text each position of `hidden` (rows, width, dim) belongs to (-1 for
    padding), so one function serves padded rows under left or right padding and packed rows
    holding several texts each. Texts are numbered 0..n-1 in the order their vectors come back.
    None: one text fills `hidden`, nothing to sort out.
    """
    if segments is None:
        return _pool_one(hidden[0], strategy)
    seg = segments.to(hidden.device).reshape(-1)
    flat = hidden.reshape(-1, hidden.shape[-1])
    real = seg >= 0
    seg, position = seg[real], torch.arange(real.numel(), device=hidden.device)[real]
    n = int(seg.max()) + 1
    lengths = torch.bincount(seg, minlength=n)
    if strategy == "mean":
        sums = torch.zeros(n, flat.shape[-1], dtype=torch.float32, device=hidden.device)
        sums.index_add_(0, seg, flat[position].float())
        return sums / lengths[:, None]
    first = torch.full((n,), real.numel(), device=hidden.device).scatter_reduce(0, seg, position, "amin")
    if strategy == "cls":
        return flat[first].float()
    # Last token: each text's tokens are contiguous, so it sits length - 1 after the first.
    return flat[first + lengths - 1].float()


def _pool_one(hidden: torch.Tensor, strategy: str) -> torch.Tensor:
    if strategy == "mean":
        return hidden.float().mean(0, keepdim=True)
    if strategy == "cls":
        return hidden[:1].float()
    return hidden[-1:].float()
