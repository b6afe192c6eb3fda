"""Prometheus metrics of one server instance (its own registry, so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
TOKEN_BUCKETS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("codex_embed_requests", "HTTP requests by route and status (not the "
                                "console's probes)", ["route", "status"], registry=r)
        self.probe_requests = Counter("codex_embed_probe_requests", "The console's health probes "
                                      "(requests marked with its header) by route and status",
                                      ["route", "status"], registry=r)
        self.request_seconds = Histogram("codex_embed_request_seconds", "Request latency",
                                         ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_seconds = Histogram("codex_embed_queue_seconds", "Time a text waited in the queue",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.inference_seconds = Histogram("codex_embed_inference_seconds", "Forward time per batch",
                                           buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("codex_embed_batch_size", "Texts per forward",
                                    buckets=SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("codex_embed_batch_tokens", "Real tokens per forward",
                                      buckets=TOKEN_BUCKETS, registry=r)
        self.queue_depth = Gauge("codex_embed_queue_depth", "Texts waiting", registry=r)
        self.tokens = Counter("codex_embed_tokens", "Tokens embedded", registry=r)
        self.texts = Counter("codex_embed_texts", "Texts embedded (not the console's probes)", registry=r)
        self.truncated = Counter("codex_embed_truncated_texts", "Texts cut to the max length", registry=r)
        self.dropped = Counter("codex_embed_dropped_texts", "Texts dropped before compute "
                               "(client gone or deadline passed)", registry=r)
        self.oom_retries = Counter("codex_embed_oom_retries", "Batches split after an OOM", registry=r)
        self.failed_batches = Counter("codex_embed_failed_batches", "Forwards that raised (not OOM)",
                                      registry=r)
        self.inflight_bytes = Gauge("codex_embed_inflight_body_bytes", "Request body bytes held by "
                                    "requests in progress", registry=r)
        self.load_seconds = Gauge("codex_embed_model_load_seconds", "Model load + warm-up time",
                                  registry=r)
        self.ready = Gauge("codex_embed_ready", "1 once the model is loaded and warm", registry=r)

    def observe(self, name: str, value: float) -> None:
        """The batcher's hook: one name per measurement."""
        if name == "queue_depth":
            self.queue_depth.set(value)
        elif name == "queue_seconds":
            self.queue_seconds.observe(value)
        elif name == "inference_seconds":
            self.inference_seconds.observe(value)
        elif name == "batch_size":
            self.batch_size.observe(value)
        elif name == "batch_tokens":
            self.batch_tokens.observe(value)
            self.tokens.inc(value)
        elif name == "dropped":
            self.dropped.inc(value)
        elif name == "failed":
            self.failed_batches.inc(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
