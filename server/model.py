"""The model runner: load a local folder, forward packed or padded batches with OOM splitting, pool."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoTokenizer

from .encoder import TextEncoder
from .errors import TextTooLarge
from .packing import Inputs, packed, padded
from .pooling import ModelLayout, pool, read_layout

log = logging.getLogger(__name__)

# Architectures whose forward takes position_ids and a ready 4-D mask, so texts can share a row;
# the value says whether attention is causal. Checked again on the real weights at warm-up.
PACKABLE = {"bert": False, "qwen3": True, "qwen2": True}
PROBE_TEXTS = ["warm-up", "a somewhat longer sentence to compare packed and separate forwards",
               "three words here"]


class ModelLoadError(RuntimeError):
    pass


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


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def wants_packing(device_type: str, asked: bool | None) -> bool:
    """Packing saves a CPU the padding's work; on an H200 padded batches were 1.4-1.7x faster at
    50-200 texts (README, "this server on a GPU"): there it is on only when asked for."""
    return device_type == "cpu" if asked is None else asked


class EmbeddingModel:
    def __init__(self, path: str | Path, device: str = "auto", max_length: int | None = None,
                 dtype: str = "auto", threads: int | None = None, packing: bool | None = None) -> None:
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").exists():
            raise ModelLoadError(f"{self.path} is not a model folder (no config.json); "
                                 "the server loads local folders only, never the hub")
        started = time.monotonic()
        self.device = resolve_device(device)
        self.threads = threads or usable_cpus()
        torch.set_num_threads(self.threads)
        self.dtype = {"auto": torch.float16 if self.device.type == "cuda" else torch.float32,
                      "float16": torch.float16, "float32": torch.float32,
                      "bfloat16": torch.bfloat16}[dtype]
        config = AutoConfig.from_pretrained(self.path, local_files_only=True)
        self.layout: ModelLayout = read_layout(self.path, config.model_type)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.tokenizer.padding_side = "left" if self.layout.pooling == "lasttoken" else "right"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = self._load_weights()
        self.attention = str(self.model.config._attn_implementation)
        limits = [v for v in (max_length, self.layout.max_length,
                              getattr(config, "max_position_embeddings", None),
                              self.tokenizer.model_max_length, 8192) if v]
        self.max_length = int(min(limits))
        self.encoder = TextEncoder(self.tokenizer, self.max_length)
        self.native_dimension = int(config.hidden_size)
        self.causal = PACKABLE.get(config.model_type)
        self.packing = wants_packing(self.device.type, packing) and self.causal is not None and \
            self.attention == "sdpa"
        generic = self.path.name in ("model", "models", "snapshot", "main")
        self.name = self.path.parent.name if generic else self.path.name
        self.oom_retries = 0
        self.load_seconds = time.monotonic() - started

    def _load_weights(self) -> torch.nn.Module:
        # SDPA is the fastest exact attention torch has; models that lack it load their default.
        try:
            model = AutoModel.from_pretrained(self.path, local_files_only=True, dtype=self.dtype,
                                              attn_implementation="sdpa")
        except (ValueError, ImportError):
            model = AutoModel.from_pretrained(self.path, local_files_only=True, dtype=self.dtype)
        if getattr(model, "pooler", None) is not None:
            model.pooler = None  # BERT's CLS dense+tanh: computed on every forward, never used here
        return model.to(self.device).eval()

    # -- forward ----------------------------------------------------------------------------
    def inputs(self, batch: Sequence[list[int]], pack: bool | None = None) -> Inputs:
        pad_id = self.tokenizer.pad_token_id
        if (self.packing if pack is None else pack) and len(batch) > 1:
            return packed(batch, pad_id, causal=bool(self.causal))
        return padded(batch, pad_id, left=self.tokenizer.padding_side == "left")

    @torch.inference_mode()
    def forward(self, batch: Sequence[list[int]], pack: bool | None = None) -> torch.Tensor:
        """Pooled full-dimension float32 vectors (on CPU) for token-id lists, not normalized."""
        inputs = self.inputs(batch, pack)
        cuda = self.device.type == "cuda"
        kwargs = {k: (v.pin_memory() if cuda else v).to(self.device, non_blocking=True)
                  for k, v in inputs.kwargs.items()}
        hidden = self.model(**kwargs).last_hidden_state
        return pool(hidden, inputs.segments, self.layout.pooling).cpu()

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
                return [TextTooLarge(f"a text of {len(batch[0])} tokens does not fit in memory; "
                                     "send it shorter or to a larger GPU")]
            half = len(batch) // 2
            log.warning("OOM on a batch of %d; retrying as %d + %d", len(batch), half, len(batch) - half)
            return self.forward_safe(batch[:half]) + self.forward_safe(batch[half:])

    def warm_up(self) -> None:
        """One forward per probe text, then the same texts packed: packing stays on only where it
        gives the same vectors (cosine >= 0.9999) on these weights."""
        probe = [e.ids for e in self.encoder.encode(PROBE_TEXTS)]
        alone = torch.cat([self.forward([ids], pack=False) for ids in probe])
        if self.packing:
            together = self.forward(probe, pack=True)
            worst = float(F.cosine_similarity(alone, together, dim=-1).min())
            if not worst >= 0.9999:
                self.packing = False
                log.warning("packed forward differs from separate forwards (cosine %.6f): packing off", worst)
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
