"""Helpers shared by the encoder tests: a tiny random BERT and config shortcuts."""

from __future__ import annotations

from pathlib import Path

import torch

from genen_core.store import GraphStore
from genen_scale.encode import DEFAULT_MODEL, EncodeConfig
from genen_scale.encode.model import resolve_model

TINY_MAX_LENGTH = 64


def save_tiny_bert(path: Path) -> str:
    """Save a random 2-layer BERT (hidden 32) with the MiniLM tokenizer to ``path``.

    The tokenizer comes from the embedded MiniLM package, so nothing is downloaded.
    """
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(
        resolve_model(DEFAULT_MODEL).location, local_files_only=True
    )
    tok.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).eval().save_pretrained(path)
    return str(path)


def tiny_cfg(model: str, **kw) -> EncodeConfig:
    """In-process config for the tiny model, feature name ``tiny`` unless overridden."""
    base = {"model": model, "use_ray": False, "max_length": TINY_MAX_LENGTH, "name": "tiny"}
    return EncodeConfig(**{**base, **kw})


def texts_of(store: GraphStore) -> list[str]:
    return store.nodes.column("text").to_pylist()
