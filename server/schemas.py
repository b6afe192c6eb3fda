"""Request bodies, validated strictly so that every bad input is a clear 4xx."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator


def _non_empty(texts: list[str]) -> list[str]:
    if not texts:
        raise ValueError("must contain at least one text")
    for i, text in enumerate(texts):
        if not text.strip():
            raise ValueError(f"item {i} is an empty string")
    return texts


class EmbedRequest(BaseModel):
    """The upstream `POST /embed` body."""

    model_config = ConfigDict(extra="ignore")
    texts: list[StrictStr]
    normalize: StrictBool = True
    dimension: int | None = Field(None, strict=True)
    prompt_name: str | None = None

    @field_validator("texts")
    @classmethod
    def _texts(cls, v: list[str]) -> list[str]:
        return _non_empty(v)


class OpenAIEmbeddingRequest(BaseModel):
    """The OpenAI `POST /v1/embeddings` body."""

    model_config = ConfigDict(extra="ignore")
    input: StrictStr | list[StrictStr]
    model: str | None = None
    dimensions: int | None = Field(None, strict=True)
    encoding_format: Literal["float", "base64"] = "float"
    input_type: Literal["query", "document"] | None = None
    user: str | None = None

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input

    @field_validator("input")
    @classmethod
    def _input(cls, v: str | list[str]) -> str | list[str]:
        _non_empty([v] if isinstance(v, str) else v)
        return v


def describe(exc: ValidationError) -> str:
    """One readable line: `texts.2: Input should be a valid string; dimension: ...`."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)
