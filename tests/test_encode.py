"""Encoder stage: model loading and pooling, batching, feature files, incremental runs, resume."""

from __future__ import annotations

import csv
import gzip
import json
import random

import numpy as np
import pyarrow as pa
import pytest
import torch
from encode_helpers import TINY_MAX_LENGTH, save_tiny_bert, texts_of, tiny_cfg

from genen_core.config import ConfigError, load_config
from genen_core.store import STORED_GRAPHS, GraphStore, StoreBuilder
from genen_scale.encode import (
    DEFAULT_MODEL,
    EncodeConfig,
    ModelNotFoundError,
    TextEncoder,
    default_feature_name,
    encode_store,
)
from genen_scale.encode.batching import plan_batches, plan_shards
from genen_scale.encode.cli import main as cli_main
from genen_scale.encode.features import FeatureFiles


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def rewrite_texts(store: GraphStore, texts: list[str]) -> GraphStore:
    """Rebuild ``store`` in place with new node texts (as genen-ingest --force would)."""
    nodes = store.nodes
    nodes = nodes.set_column(nodes.schema.get_field_index("text"), "text", pa.array(texts))
    manifest = {k: v for k, v in store.manifest.items() if k != "schema_version"}
    with StoreBuilder(store.path, force=True) as b:
        for name in STORED_GRAPHS:
            b.write_csr(name, store.csr(name))
        b.write_nodes(nodes)
        b.write_labels(store.labels)
        b.commit(manifest)
    return GraphStore(store.path)


@pytest.fixture
def count_model_rows(monkeypatch) -> list[int]:
    """Record the number of texts of every batch sent to a model in this process."""
    calls: list[int] = []
    original = TextEncoder.__call__

    def counting(self, texts):
        calls.append(len(texts))
        return original(self, texts)

    monkeypatch.setattr(TextEncoder, "__call__", counting)
    return calls


def direct(model: str, texts: list[str], **kw) -> np.ndarray:
    enc = TextEncoder(model, max_length=kw.pop("max_length", TINY_MAX_LENGTH), **kw)
    return np.concatenate([enc([t]) for t in texts])


# --- names and config ----------------------------------------------------------------
def test_default_feature_name():
    assert default_feature_name(DEFAULT_MODEL) == "minilm"
    assert EncodeConfig().feature_name == "minilm"
    assert (
        default_feature_name("microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract")
        == "biomednlp-biomedbert-base-uncased-abstract"
    )
    assert default_feature_name("/models/My Model v2/") == "my_model_v2"


def test_config_validation_and_strict_loading():
    with pytest.raises(ValueError, match="pooling"):
        EncodeConfig(pooling="max")
    with pytest.raises(ValueError, match="tokens_per_batch"):
        EncodeConfig(tokens_per_batch=0)
    with pytest.raises(ValueError, match="name"):
        EncodeConfig(name="a/b")
    with pytest.raises(ConfigError, match="max_length"):
        load_config(EncodeConfig, None, ["--max_lenght", "128"])
    cfg = load_config(EncodeConfig, None, ["--pooling", "cls", "--use-ray", "false", "--force"])
    assert (cfg.pooling, cfg.use_ray, cfg.force) == ("cls", False, True)


# --- batching --------------------------------------------------------------------------
def test_plan_batches_respects_budget_and_covers_all():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 300, 500)
    budget = 2048
    for sort in (True, False):
        order, sizes, padded = plan_batches(lengths, budget, sort=sort)
        assert np.array_equal(np.sort(order), np.arange(len(lengths)))
        assert sum(sizes) == len(lengths)
        start = 0
        for size, pad in zip(sizes, padded, strict=True):
            batch = lengths[order[start : start + size]]
            assert pad == batch.max() * size
            assert pad <= budget or size == 1
            start += size
    # Sorting by length is the point: far less padding than the given order.
    sorted_pad = sum(plan_batches(lengths, budget, sort=True)[2])
    unsorted_pad = sum(plan_batches(lengths, budget, sort=False)[2])
    assert sorted_pad < 0.8 * unsorted_pad
    assert sorted_pad >= lengths.sum()


def test_plan_shards_cut_at_batch_boundaries():
    rng = np.random.default_rng(1)
    rows = rng.permutation(1000) + 7
    lengths = rng.integers(1, 120, 1000)
    shards = plan_shards(rows, lengths, tokens_per_batch=1000, texts_per_shard=64)
    assert [s.index for s in shards] == list(range(len(shards)))
    assert np.array_equal(np.sort(np.concatenate([s.rows for s in shards])), np.sort(rows))
    for s in shards:
        assert sum(s.sizes) == len(s.rows)
        assert len(s.rows) - s.sizes[-1] < 64  # the shard ended at the first boundary past 64
    assert all(len(s.rows) >= 64 for s in shards[:-1])
    # Same inputs, same plan: what resuming relies on.
    again = plan_shards(rows, lengths, tokens_per_batch=1000, texts_per_shard=64)
    assert all(
        np.array_equal(a.rows, b.rows) and a.sizes == b.sizes
        for a, b in zip(shards, again, strict=True)
    )


# --- model and pooling -----------------------------------------------------------------
def test_default_minilm_embeds_similar_texts_closer():
    enc = TextEncoder()  # the embedded model: no network
    assert enc.dim == 384
    texts = [
        "This protein is an ion channel in the plasma membrane that transports potassium.",
        "A membrane transporter protein that moves potassium ions across the cell membrane.",
        "The football match ended in a draw after extra time on Sunday evening.",
    ]
    x = enc(texts)
    assert x.shape == (3, 384) and x.dtype == np.float32
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert x[0] @ x[1] > x[0] @ x[2] + 0.2


def test_pooling_matches_manual_computation(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    texts = ["short text", "a considerably longer text about a gene that binds DNA", "mid size one"]
    tok = AutoTokenizer.from_pretrained(tiny_bert)
    model = AutoModel.from_pretrained(tiny_bert).eval()
    manual_mean, manual_cls = [], []
    with torch.no_grad():
        for t in texts:  # one text at a time: no padding at all
            h = model(**tok(t, return_tensors="pt")).last_hidden_state[0]
            manual_mean.append(h.mean(0).numpy())
            manual_cls.append(h[0].numpy())
    mean = TextEncoder(tiny_bert, max_length=TINY_MAX_LENGTH)(texts)  # padded batch
    cls = TextEncoder(tiny_bert, pooling="cls", max_length=TINY_MAX_LENGTH)(texts)
    np.testing.assert_allclose(mean, np.stack(manual_mean), atol=1e-5)
    np.testing.assert_allclose(cls, np.stack(manual_cls), atol=1e-5)


def test_max_length_beyond_positions_is_refused(tiny_bert, tiny_store):
    with pytest.raises(ValueError, match="max_length=512 exceeds the 128 positions"):
        encode_store(tiny_store, tiny_cfg(tiny_bert, max_length=512))


def test_missing_model_gives_one_clear_error(tmp_path, tiny_store, monkeypatch):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE") as e:
        encode_store(tiny_store, tiny_cfg(missing))
    assert missing in str(e.value)
    # A hub id that is not cached, in offline mode: no network attempt, the same advice.
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError, match="hf download no-such-org/no-such-model"):
        TextEncoder("no-such-org/no-such-model")


# --- the stage ---------------------------------------------------------------------------
def test_encode_store_writes_rows_and_sidecar(tiny_bert, tiny_store, count_model_rows):
    path = encode_store(tiny_store, tiny_cfg(tiny_bert, dtype="float32", texts_per_shard=100))
    sent_to_model = sum(count_model_rows)
    assert path == tiny_store.feature_path("tiny")
    x = tiny_store.features("tiny")
    texts = texts_of(tiny_store)
    assert x.shape == (tiny_store.num_nodes, 32) and x.dtype == np.float32
    sample = [0, 5, 299, 300, len(texts) - 1]
    np.testing.assert_allclose(x[sample], direct(tiny_bert, [texts[i] for i in sample]), atol=1e-5)
    meta = tiny_store.feature_meta("tiny")
    assert meta["dim"] == 32 and meta["pooling"] == "mean" and meta["max_length"] == TINY_MAX_LENGTH
    assert meta["counts"] == {
        "encoded": len(texts),
        "reused": 0,
        "empty": 0,
        "truncated": 0,
        "resumed_shards": 0,
    }
    assert len(meta["row_hashes"]) == len(texts) == len(set(meta["row_hashes"]))
    assert sent_to_model == len(texts)
    files = FeatureFiles(tiny_store.path / "features", "tiny")
    assert not files.partial.exists() and not files.progress.exists()
    # Nothing changed: a second run sends nothing to the model.
    count_model_rows.clear()
    encode_store(tiny_store, tiny_cfg(tiny_bert, dtype="float32"))
    assert count_model_rows == []


def test_incremental_run_reencodes_only_changed_rows(tiny_bert, tiny_store, count_model_rows):
    encode_store(tiny_store, tiny_cfg(tiny_bert))
    before = np.array(tiny_store.features("tiny"))
    texts = texts_of(tiny_store)
    old_hashes = tiny_store.feature_meta("tiny")["row_hashes"]
    new = list(texts)
    changed = [3, 17, 150, 320]
    for i in changed:
        new[i] = f"{texts[i]} It also regulates transcription."
    # Two texts swap places: their rows must follow the text, not the position.
    new[40], new[41] = texts[41], texts[40]
    store = rewrite_texts(tiny_store, new)
    count_model_rows.clear()
    encode_store(store, tiny_cfg(tiny_bert))
    assert sum(count_model_rows) == len(changed)
    meta = store.feature_meta("tiny")
    assert meta["counts"]["encoded"] == len(changed)
    assert meta["counts"]["reused"] == len(texts) - len(changed)
    after = np.array(store.features("tiny"))
    same = np.setdiff1d(np.arange(len(texts)), changed + [40, 41])
    np.testing.assert_array_equal(after[same], before[same])
    np.testing.assert_array_equal(after[[40, 41]], before[[41, 40]])
    np.testing.assert_allclose(
        after[changed], direct(tiny_bert, [new[i] for i in changed]), atol=2e-3
    )  # float16 storage
    assert [meta["row_hashes"][i] == old_hashes[i] for i in changed] == [False] * len(changed)
    # --force, or another pooling, re-encodes everything.
    count_model_rows.clear()
    encode_store(store, tiny_cfg(tiny_bert, force=True))
    assert sum(count_model_rows) == len(texts)
    count_model_rows.clear()
    encode_store(store, tiny_cfg(tiny_bert, pooling="cls"))
    assert sum(count_model_rows) == len(texts)


def test_resume_after_interruption_redoes_only_unfinished_shards(
    tiny_bert, tiny_store, tmp_path, monkeypatch, count_model_rows
):
    cfg = tiny_cfg(tiny_bert, texts_per_shard=40, tokens_per_batch=256, dtype="float32")
    done_before_crash = 3
    shards_seen: list[int] = []
    original = TextEncoder.encode_batches

    def crash_after_k(self, texts, sizes):
        if len(shards_seen) == done_before_crash:
            raise RuntimeError("injected failure")
        shards_seen.append(len(texts))
        return original(self, texts, sizes)

    monkeypatch.setattr(TextEncoder, "encode_batches", crash_after_k)
    with pytest.raises(RuntimeError, match="injected failure"):
        encode_store(tiny_store, cfg)
    files = FeatureFiles(tiny_store.path / "features", "tiny")
    assert not files.npy.exists(), "a reader must never see a half-written feature file"
    progress = json.loads(files.progress.read_text())
    assert progress["done"] == list(range(done_before_crash))

    monkeypatch.setattr(TextEncoder, "encode_batches", original)
    count_model_rows.clear()
    encode_store(tiny_store, cfg)
    n = tiny_store.num_nodes
    assert sum(count_model_rows) == n - sum(shards_seen)
    meta = tiny_store.feature_meta("tiny")
    assert meta["counts"]["resumed_shards"] == done_before_crash
    assert not files.partial.exists() and not files.progress.exists()
    # The stitched result equals an uninterrupted run.
    resumed = np.array(tiny_store.features("tiny"))
    encode_store(tiny_store, tiny_cfg(tiny_bert, dtype="float32", name="fresh"))
    np.testing.assert_allclose(resumed, tiny_store.features("fresh"), atol=1e-5)


def test_empty_texts_get_zero_rows_and_long_texts_are_counted(tiny_bert, tiny_store):
    from transformers import AutoTokenizer

    texts = texts_of(tiny_store)
    empty = [2, 9, 310]
    for i in empty:
        texts[i] = "   " if i == 9 else ""
    for i in (4, 5):
        texts[i] = " ".join(["phosphorylation"] * 80)
    store = rewrite_texts(tiny_store, texts)
    max_length = 20
    encode_store(store, tiny_cfg(tiny_bert, max_length=max_length))
    tok = AutoTokenizer.from_pretrained(tiny_bert)
    expected = sum(len(tok(t)["input_ids"]) > max_length for t in texts if t.strip())
    assert expected >= 2  # the test texts do exceed the limit
    meta = store.feature_meta("tiny")
    assert meta["counts"]["empty"] == len(empty) and meta["empty_rows"] == empty
    assert meta["counts"]["truncated"] == expected
    x = store.features("tiny")
    assert not np.any(x[empty]) and np.all(np.abs(x[[0, 1, 3]]).sum(1) > 0)


def test_cli_encodes_and_reports_errors(tiny_bert, tiny_store, capsys, caplog):
    args = [str(tiny_store.path), "--model", tiny_bert, "--use-ray", "false", "--name", "cli"]
    assert cli_main([*args, "--max-length", str(TINY_MAX_LENGTH)]) == 0
    assert capsys.readouterr().out.strip() == str(tiny_store.feature_path("cli"))
    assert tiny_store.features("cli").shape == (tiny_store.num_nodes, 32)
    assert cli_main([*args, "--max-lenght", "32"]) == 2
    assert "did you mean 'max_length'" in caplog.text


# --- the bfloat16 CPU fast path ------------------------------------------------------
def real_summaries(shared_data, n: int, seed: int = 0) -> list[str]:
    """``n`` non-empty NCBI gene summaries drawn at random, short to 512+ tokens."""
    path = shared_data / "text" / "ncbi_gene_summaries_human.2022-10-27.tsv.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        texts = [r["summary"] for r in rows if r["summary"]]
    return random.Random(seed).sample(texts, n)


def test_bfloat16_keeps_cosine_to_float32_on_real_texts(shared_data):
    texts = real_summaries(shared_data, 10)
    fp32 = TextEncoder(device="cpu")(texts)
    fast = TextEncoder(device="cpu", compute_dtype="bfloat16")
    assert next(fast.model.parameters()).dtype == torch.bfloat16
    got = np.concatenate([fast(texts[:4]), fast(texts[4:])])  # padding must not matter
    cosine = (got * fp32).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(fp32, axis=1)
    assert cosine.min() >= 0.99
    assert np.abs(got - fp32).max() > 1e-4  # bfloat16 really ran: not the fp32 rows again


def test_rows_are_reused_only_from_the_same_compute_dtype(tiny_bert, tiny_store, count_model_rows):
    n = tiny_store.num_nodes
    encode_store(tiny_store, tiny_cfg(tiny_bert))
    assert tiny_store.feature_meta("tiny")["compute_dtype"] == "auto"
    count_model_rows.clear()
    encode_store(tiny_store, tiny_cfg(tiny_bert, compute_dtype="bfloat16"))
    assert sum(count_model_rows) == n  # float32 rows are not mixed into bfloat16 features
    meta = tiny_store.feature_meta("tiny")
    assert meta["compute_dtype"] == "bfloat16" and meta["counts"]["reused"] == 0
    count_model_rows.clear()
    encode_store(tiny_store, tiny_cfg(tiny_bert, compute_dtype="bfloat16"))
    assert count_model_rows == []  # same settings, same texts: nothing to do
    encode_store(tiny_store, tiny_cfg(tiny_bert))
    assert sum(count_model_rows) == n
    # A sidecar written before compute_dtype was part of the identity meant "auto".
    files = FeatureFiles(tiny_store.path / "features", "tiny")
    old = json.loads(files.sidecar.read_text())
    del old["compute_dtype"]
    files.sidecar.write_text(json.dumps(old))
    count_model_rows.clear()
    encode_store(tiny_store, tiny_cfg(tiny_bert))
    assert count_model_rows == []


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_float16_matches_cpu_float32(tiny_bert):
    texts = ["short text", "a considerably longer text about a gene that binds DNA", "mid size"]
    cpu = TextEncoder(tiny_bert, max_length=TINY_MAX_LENGTH, device="cpu")(texts)
    gpu_encoder = TextEncoder(tiny_bert, max_length=TINY_MAX_LENGTH, device="cuda")
    assert next(gpu_encoder.model.parameters()).dtype == torch.float16  # auto on CUDA
    np.testing.assert_allclose(gpu_encoder(texts), cpu, atol=2e-2, rtol=2e-2)
