"""The codex embed server: FastAPI + torch + transformers, dynamic batching, Prometheus metrics."""

__version__ = "0.1.0"
