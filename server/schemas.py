"""Request bodies (validated strictly, so every bad input is a clear 4xx) and typed response bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError, model_validator

TOKEN_IDS_REFUSED = ("token-id arrays are not accepted: this server tokenizes text itself, and ids made "
                     "by another model's tokenizer would embed the wrong tokens; send the text (with "
                     "LangChain's OpenAIEmbeddings, set check_embedding_ctx_length=False)")


def _is_token_ids(value: Any) -> bool:
    """`[1, 2]` or `[[1, 2], ...]`: what OpenAI-style clients send after tokenizing themselves."""
    if not isinstance(value, list) or not value:
        return False
    first = value[0]
    if isinstance(first, list):
        first = first[0] if first else None
    return isinstance(first, int) and not isinstance(first, bool)


def _non_empty(texts: list[str]) -> list[str]:
    if not texts:
        raise ValueError("must contain at least one text")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"item {i} is an empty string")
    return texts


class TextsRequest(BaseModel):
    """A request body that carries texts: unknown fields ignored, no empty text."""

    model_config = ConfigDict(extra="ignore")

    @property
    def text_list(self) -> list[str]:
        raise NotImplementedError

    @model_validator(mode="after")
    def _texts(self) -> TextsRequest:
        _non_empty(self.text_list)
        return self


class EmbedRequest(TextsRequest):
    """`POST /embed`: the upstream shape (`texts`, `dimension`) or TEI's (`inputs`, `dimensions`)."""

    texts: list[StrictStr] | None = None
    inputs: StrictStr | list[StrictStr] | None = None
    normalize: StrictBool = True
    dimension: StrictInt | None = None
    dimensions: StrictInt | None = None
    prompt_name: StrictStr | None = None
    truncate: StrictBool | None = None
    truncation_direction: Literal["right", "Right"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "texts" in data and "inputs" in data:
                raise ValueError("send `texts` or TEI's `inputs`, not both")
            if "texts" not in data and "inputs" not in data:
                raise ValueError("texts: Field required (or TEI's `inputs`)")
            if _is_token_ids(data.get("inputs")):
                raise ValueError(TOKEN_IDS_REFUSED)
            if data.get("dimension") is not None and data.get("dimensions") is not None:
                raise ValueError("send `dimension` or TEI's `dimensions`, not both")
        return data

    @property
    def tei(self) -> bool:
        """A TEI-style request, answered in TEI's shape (a bare array of vectors)."""
        return self.inputs is not None

    @property
    def text_list(self) -> list[str]:
        if self.texts is not None:
            return self.texts
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs or [])

    @property
    def output_dimension(self) -> int | None:
        return self.dimension if self.dimension is not None else self.dimensions


class OpenAIEmbeddingRequest(TextsRequest):
    """The OpenAI `POST /v1/embeddings` body."""

    input: StrictStr | list[StrictStr]
    model: str | None = None
    dimensions: StrictInt | None = None
    encoding_format: Literal["float", "base64"] = "float"
    input_type: Literal["query", "document"] | None = None
    user: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_token_ids(cls, data: Any) -> Any:
        if isinstance(data, dict) and _is_token_ids(data.get("input")):
            raise ValueError(TOKEN_IDS_REFUSED)
        return data

    @property
    def text_list(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input


def describe(exc: ValidationError, most: int = 5) -> str:
    """One readable line: `texts.2: Input should be a valid string; dimension: ...`, the first
    `most` errors and how many more (2,048 wrong items make one line, not 100 KB)."""
    parts = []
    for err in exc.errors()[:most]:
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    if exc.error_count() > most:
        parts.append(f"and {exc.error_count() - most} more")
    return "; ".join(parts)


# -- responses: dataclasses that orjson writes directly (numpy arrays included) ----------------
@dataclass(frozen=True, slots=True)
class Health:
    status: str
    model: str | None
    device: str
    gpu_name: str | None
    gpu_memory_mb: float | None
    uptime_seconds: float
    hostname: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Ready:
    ready: bool
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    max_texts: int
    max_batch_tokens: int
    max_batch_size: int
    max_queue: int
    max_body_bytes: int
    max_inflight_bytes: int
    request_timeout: float


@dataclass(frozen=True, slots=True)
class QueueInfo:
    depth: int
    capacity: int


@dataclass(frozen=True, slots=True)
class BatchInfo:
    count: int
    texts: int
    tokens: int
    padded_tokens: int
    dropped: int
    failed: int
    mean_size: float


@dataclass(frozen=True, slots=True)
class Info:
    model: str
    path: str
    device: str
    dtype: str
    pooling: str
    attention: str
    packing: bool
    threads: int
    native_dimension: int
    default_dimension: int
    max_length: int
    prompts: list[str]
    limits: Limits
    queue: QueueInfo
    batches: BatchInfo
    load_seconds: float
    oom_retries: int


@dataclass(frozen=True, slots=True)
class EmbedResponse:
    embeddings: np.ndarray
    model: str
    dimension: int
    count: int
    elapsed_ms: float
    truncated: int


@dataclass(frozen=True, slots=True)
class OpenAIEmbedding:
    index: int
    embedding: np.ndarray | str
    object: str = "embedding"


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class OpenAIEmbeddingList:
    data: list[OpenAIEmbedding]
    model: str
    usage: Usage
    object: str = "list"
