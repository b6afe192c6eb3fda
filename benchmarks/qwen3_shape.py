"""A random-weight model of Qwen3-Embedding-0.6B's exact shape, for measuring speed on a GPU.

No hub here: the architecture comes from `Qwen3Config` with the published sizes, the weights
are random (fp16 on disk), the tokenizer is word-level over the benchmark's words with EOS
appended like the real one. Speeds are the real model's; the vectors mean nothing.
"""

from __future__ import annotations

from pathlib import Path

QWEN3_EMBEDDING_0_6B = dict(vocab_size=151669, hidden_size=1024, intermediate_size=3072,
                            num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8,
                            head_dim=128, max_position_embeddings=32768, rope_theta=1000000.0,
                            rms_norm_eps=1e-6, tie_word_embeddings=True)


def build(out: Path, **overrides: int) -> Path:
    """The model folder at `out` (built once; later calls reuse it)."""
    if (out / "config.json").exists():
        return out
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    from codex_console.benchmark_spec import WORDS

    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([" ".join(WORDS)], trainers.WordLevelTrainer(special_tokens=["<unk>", "<|endoftext|>"]))
    eos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>",
                                                       special_tokens=[("<|endoftext|>", eos)])
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>",
                            pad_token="<|endoftext|>", model_max_length=8192).save_pretrained(out)
    config = Qwen3Config(**{**QWEN3_EMBEDDING_0_6B, **overrides}, eos_token_id=eos, pad_token_id=eos,
                         torch_dtype="float16")
    torch.manual_seed(0)
    Qwen3Model(config).to(torch.float16).save_pretrained(out)
    return out
