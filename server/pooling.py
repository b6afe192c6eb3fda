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


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token, for left *or* right padding.

    `mask.sum(1) - 1` is only right under right padding; under left padding the last real
    token is always the final column. Reading the mask itself is right for both.
    """
    width = mask.shape[1]
    return width - 1 - mask.flip(1).to(torch.int64).argmax(dim=1)


def pool(hidden: torch.Tensor, mask: torch.Tensor, strategy: str) -> torch.Tensor:
    if strategy == "cls":
        return hidden[:, 0]
    if strategy == "lasttoken":
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        return hidden[rows, last_token_index(mask)]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
