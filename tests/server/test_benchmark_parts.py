"""The benchmark's own parts: the shared spec, and the Qwen3-shaped random model it builds for GPUs."""

from __future__ import annotations

from benchmarks.qwen3_shape import QWEN3_EMBEDDING_0_6B, build
from codex_console.benchmark_spec import BATCH_SIZES, REFERENCE_ROWS, make_texts
from server.model import EmbeddingModel


def test_the_spec_is_deterministic_and_labelled():
    texts = make_texts(50, seed=3)
    assert texts == make_texts(50, seed=3) and texts != make_texts(50, seed=4)
    assert all(8 <= len(t.split()) <= 40 for t in texts)
    t4 = next(r for r in REFERENCE_ROWS if r.gpu == "Tesla T4")
    assert t4.model == "Qwen3-Embedding-0.6B" and t4.at(500) == 562 and len(t4.texts_per_second) == len(BATCH_SIZES)


def test_the_qwen3_shaped_model_loads_and_packs(tmp_path):
    # The real shape is 0.6B parameters; the same builder with fewer layers and a small vocab.
    small = dict(num_hidden_layers=1, vocab_size=512, hidden_size=64, intermediate_size=128,
                 num_attention_heads=4, num_key_value_heads=2, head_dim=16)
    model = EmbeddingModel(build(tmp_path / "qwen3", **small), "cpu")
    model.warm_up()
    assert model.layout.pooling == "lasttoken" and model.packing and model.dtype.is_floating_point
    assert model.forward([e.ids for e in model.encoder.encode(make_texts(3))]).shape == (3, 64)
    assert QWEN3_EMBEDDING_0_6B["num_hidden_layers"] == 28 and QWEN3_EMBEDDING_0_6B["hidden_size"] == 1024


def test_packing_is_the_cpus_default_and_padding_the_gpus():
    from server.model import wants_packing

    assert wants_packing("cpu", None) and not wants_packing("cuda", None)
    assert wants_packing("cuda", True) and not wants_packing("cpu", False)
