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
    threads: int | None = Field(None, description="torch intra-op threads (default: the usable CPUs)")
    packing: bool | None = Field(None, description="pack several texts into one row instead of padding; "
                                 "default: on the CPU (it wins there), off on CUDA (padded batches won there)")
    dimension: int | None = Field(256, description="default output dimension (Matryoshka)")
    max_length: int | None = None
    max_batch_tokens: int | None = Field(None, description="tokens per forward; "
                                         "default 16384 on CUDA, 2048 on CPU")
    max_batch_size: int | None = Field(None, description="texts per forward; default 256 on CUDA, 64 on CPU")
    max_texts: int = 2048
    max_queue: int = 8192
    max_body_bytes: int = 16 * 2**20
    max_inflight_bytes: int = 64 * 2**20
    max_failed_batches: int = Field(5, description="batches failing in a row before the server exits")
    request_timeout: float = 120.0
    api_key: str | None = None
    api_key_file: str | None = None
    query_task: str | None = None
    shutdown_timeout: float = 30.0
    log_level: str = "info"
