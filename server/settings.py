"""Server settings: CLI flags > CODEX_EMBED_* environment variables > defaults."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEX_EMBED_", extra="forbid")

    model: str = Field(..., description="local model folder (never downloaded)")
    served_name: str | None = Field(None, description="model name in responses (default: folder name)")
    host: str = "0.0.0.0"
    port: int = 18765
    device: str = "auto"
    dtype: str = "auto"
    dimension: int | None = Field(256, description="default output dimension (Matryoshka)")
    max_length: int | None = None
    max_batch_tokens: int | None = Field(None, description="padded tokens per forward; "
                                         "default 16384 on CUDA, 1024 on CPU")
    max_batch_size: int | None = Field(None, description="texts per forward; default 256 on CUDA, 32 on CPU")
    max_texts: int = 2048
    max_queue: int = 8192
    max_body_bytes: int = 16 * 2**20
    request_timeout: float = 120.0
    api_key: str | None = None
    api_key_file: str | None = None
    query_task: str | None = None
    shutdown_timeout: float = 30.0
    log_level: str = "info"

    def resolved_api_key(self) -> str | None:
        if self.api_key_file:
            with open(self.api_key_file) as fh:
                return fh.read().strip() or None
        return self.api_key or None
