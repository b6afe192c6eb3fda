"""The model runner: load a local folder, tokenize, forward with OOM splitting, pool, normalize."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoTokenizer

from .pooling import ModelLayout, pool, read_layout

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    pass


class TextTooLarge(RuntimeError):
    """One text alone does not fit in device memory."""


def resolve_device(spec: str) -> torch.device:
    """`auto|cpu|cuda|cuda:N`; N counts the GPUs CUDA_VISIBLE_DEVICES left visible."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(f"device {spec!r} asked for, but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelLoadError(f"device {spec!r}: only {torch.cuda.device_count()} GPU(s) visible "
                                 "(CUDA_VISIBLE_DEVICES)")
    return device


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    truncated: bool


class EmbeddingModel:
    def __init__(self, path: str | Path, device: str = "auto", max_length: int | None = None,
                 dtype: str = "auto") -> None:
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").exists():
            raise ModelLoadError(f"{self.path} is not a model folder (no config.json); "
                                 "the server loads local folders only, never the hub")
        started = time.monotonic()
        self.device = resolve_device(device)
        self.dtype = {"auto": torch.float16 if self.device.type == "cuda" else torch.float32,
                      "float16": torch.float16, "float32": torch.float32,
                      "bfloat16": torch.bfloat16}[dtype]
        config = AutoConfig.from_pretrained(self.path, local_files_only=True)
        self.layout: ModelLayout = read_layout(self.path, config.model_type)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.tokenizer.padding_side = "left" if self.layout.pooling == "lasttoken" else "right"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True, dtype=self.dtype)
        self.model.to(self.device).eval()
        limits = [v for v in (max_length, self.layout.max_length,
                              getattr(config, "max_position_embeddings", None),
                              self.tokenizer.model_max_length, 8192) if v]
        self.max_length = int(min(limits))
        self.native_dimension = int(config.hidden_size)
        generic = self.path.name in ("model", "models", "snapshot", "main")
        self.name = self.path.parent.name if generic else self.path.name
        self.oom_retries = 0
        self.load_seconds = time.monotonic() - started

    # -- tokens -----------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        """Token ids per text (no padding), truncated to max_length, with a truncation flag."""
        full = self.tokenizer(list(texts), add_special_tokens=True, truncation=False,
                              padding=False, verbose=False)["input_ids"]
        out = []
        for text, ids in zip(texts, full):
            if len(ids) <= self.max_length:
                out.append(Encoded(ids, False))
            else:
                cut = self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]
                out.append(Encoded(cut, True))
        return out

    def _pad(self, batch: Sequence[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids) for ids in batch)
        pad_id = self.tokenizer.pad_token_id
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        left = self.tokenizer.padding_side == "left"
        for row, seq in enumerate(batch):
            sl = slice(width - len(seq), width) if left else slice(0, len(seq))
            ids[row, sl] = torch.tensor(seq, dtype=torch.long)
            mask[row, sl] = 1
        return ids, mask

    # -- forward ----------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, batch: Sequence[list[int]]) -> torch.Tensor:
        """Pooled full-dimension float32 vectors (on CPU) for token-id lists, not normalized."""
        ids, mask = self._pad(batch)
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        return pool(hidden, mask, self.layout.pooling).float().cpu()

    def forward_safe(self, batch: Sequence[list[int]]) -> list[torch.Tensor | TextTooLarge]:
        """Forward; on OOM empty the cache and retry in halves. A text that alone does not fit
        gets a TextTooLarge in its slot instead of a vector (never a zero vector)."""
        try:
            return list(self.forward(batch))
        except Exception as exc:  # noqa: BLE001 - only OOMs are handled here
            if not is_oom(exc):
                raise
            self.oom_retries += 1
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(batch) == 1:
                log.warning("one text of %d tokens does not fit on %s", len(batch[0]), self.device)
                return [TextTooLarge(f"a text of {len(batch[0])} tokens does not fit in memory")]
            half = len(batch) // 2
            log.warning("OOM on a batch of %d; retrying as %d + %d", len(batch), half, len(batch) - half)
            return self.forward_safe(batch[:half]) + self.forward_safe(batch[half:])

    def warm_up(self) -> None:
        self.forward([self.encode(["warm-up"])[0].ids])
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def gpu_info(self) -> tuple[str | None, float | None]:
        if self.device.type != "cuda":
            return None, None
        index = self.device.index or 0
        props = torch.cuda.get_device_properties(index)
        return props.name, round(torch.cuda.memory_allocated(index) / 2**20, 1)


def matryoshka(vectors: torch.Tensor, dimension: int, normalize: bool = True) -> torch.Tensor:
    """Keep the first `dimension` components, then L2-normalize (a slice is not unit length)."""
    sliced = vectors[:, :dimension]
    return F.normalize(sliced, p=2, dim=-1) if normalize else sliced
