"""Length-sorted, token-budgeted batches grouped into shards.

A transformer batch costs about ``batch_size x longest_text`` tokens, padding included.
Sorting texts by token length puts texts of similar length together, so padding nearly
vanishes, and a token budget per batch lets short texts travel in large batches and long
ones in small batches at a steady memory use.

Batches are grouped into *shards* of about ``texts_per_shard`` texts: the unit that is
sent to one encoder actor, written to the feature file and recorded as done for resuming.
The plan is a pure function of the lengths and settings, so an interrupted run that is
started again rebuilds the same shards and can skip the finished ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)  # holds an array: compare and hash by identity
class Shard:
    """A run of batches encoded by one actor call.

    Attributes:
        index: Position in the plan (stable across re-runs with the same inputs).
        rows: Node indices of the texts, in encoding order. Shape ``[n]`` int64.
        sizes: Batch sizes; they sum to ``len(rows)``.
        padded_tokens: Tokens the model processes, padding included.
    """

    index: int
    rows: np.ndarray
    sizes: tuple[int, ...]
    padded_tokens: int


def plan_batches(
    lengths: np.ndarray, tokens_per_batch: int, sort: bool = True
) -> tuple[np.ndarray, list[int], list[int]]:
    """Order texts and cut them into batches of at most ``tokens_per_batch`` padded tokens.

    A text longer than the budget still forms a batch of one.

    Args:
        lengths: Token count of each text (after truncation).
        tokens_per_batch: Budget of ``batch_size x longest`` tokens per batch.
        sort: Longest first (minimal padding, and the costliest batches start first so the
            run's tail is short); ``False`` keeps the given order (for benchmarks).

    Returns:
        ``(order, sizes, padded)``: positions into ``lengths`` in encoding order, the
        batch sizes, and each batch's padded token count.

    Shapes:
        lengths: ``[n]``; order: ``[n]`` int64.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if tokens_per_batch < 1:
        raise ValueError(f"tokens_per_batch must be >= 1, got {tokens_per_batch}")
    order = np.argsort(-lengths, kind="stable") if sort else np.arange(len(lengths))
    ordered = np.maximum(lengths[order], 1)
    sizes: list[int] = []
    padded: list[int] = []
    start, n = 0, len(ordered)
    while start < n:
        longest = int(ordered[start])
        end = start + 1
        while end < n:
            candidate = max(longest, int(ordered[end]))
            if candidate * (end - start + 1) > tokens_per_batch:
                break
            longest = candidate
            end += 1
        sizes.append(end - start)
        padded.append(longest * (end - start))
        start = end
    return order, sizes, padded


def plan_shards(
    rows: np.ndarray,
    lengths: np.ndarray,
    tokens_per_batch: int,
    texts_per_shard: int,
    sort: bool = True,
) -> list[Shard]:
    """Batches (see :func:`plan_batches`) grouped into shards of about ``texts_per_shard``.

    A shard ends at the first batch boundary at or after ``texts_per_shard`` texts.

    Shapes:
        rows, lengths: ``[n]``, ``lengths[i]`` the token count of node ``rows[i]``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    order, sizes, padded = plan_batches(lengths, tokens_per_batch, sort)
    ordered_rows = rows[order]
    # Batch indices at which a shard ends: the first boundary at or after the target size.
    ends, count = [], 0
    for b, size in enumerate(sizes):
        count += size
        if count >= texts_per_shard or b == len(sizes) - 1:
            ends.append(b + 1)
            count = 0
    shards, first_batch, start = [], 0, 0
    for end in ends:
        shard_sizes = tuple(sizes[first_batch:end])
        n = sum(shard_sizes)
        tokens = sum(padded[first_batch:end])
        shards.append(Shard(len(shards), ordered_rows[start : start + n], shard_sizes, tokens))
        first_batch, start = end, start + n
    return shards
