"""Text encoding: node texts -> ``features/<name>.npy`` in a store, on a Ray actor pool.

Modules, in the order the data flows: :mod:`.model` (tokenizer + model + pooling),
:mod:`.batching` (length-sorted, token-budgeted batches and shards), :mod:`.pool`
(in-process runner and Ray actors), :mod:`.features` (feature files, hashes, resume),
:mod:`.stage` (:class:`EncodeConfig`, :func:`encode_store`) and :mod:`.cli`
(``genen-encode``).
"""

from genen_scale.encode.model import (
    DEFAULT_MODEL,
    ModelNotFoundError,
    TextEncoder,
    default_feature_name,
)
from genen_scale.encode.stage import EncodeConfig, encode_store

__all__ = [
    "DEFAULT_MODEL",
    "EncodeConfig",
    "ModelNotFoundError",
    "TextEncoder",
    "default_feature_name",
    "encode_store",
]
