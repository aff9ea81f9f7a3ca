"""Blockwise NumPy passes over edges packed into int64 keys, as STRING links arrive.

``sql/string_links_packed.sql`` packs each edge as::

    (row << shift) | (col << SCORE_BITS) | score        shift = SCORE_BITS + bits(num_nodes)

so sorting the keys sorts by ``(row, col, score)``. :mod:`ingest.string_db` sorts,
deduplicates and symmetrises them with the passes here, which never hold an edge as a
Python object and run in blocks of :data:`BLOCK` elements with scratch buffers allocated
once per pass.
"""

from __future__ import annotations

import numpy as np

SCORE_BITS = 10  # combined_score is 0..1000 < 2**10
MAX_SCORE = 1000
# Elements per block in the NumPy passes: small enough that the scratch buffers stay in
# cache and are allocated once (fresh full-size temporaries cost more in page faults
# than the arithmetic itself).
BLOCK = 1 << 20


class GrowingArray:
    """An int64 array filled batch by batch, without the 2x peak of a final concatenate.

    Capacity doubles with ``ndarray.resize``, which reallocates in place (``mremap`` for
    large blocks on Linux: no copy), and pages beyond the filled part are never touched,
    so they cost no resident memory.
    """

    def __init__(self, capacity: int = 1 << 22) -> None:
        self._data = np.empty(capacity, np.int64)
        self._size = 0

    def append(self, values: np.ndarray) -> None:
        end = self._size + len(values)
        if end > len(self._data):
            self._data.resize(max(2 * len(self._data), end), refcheck=False)
        self._data[self._size : end] = values
        self._size = end

    def array(self) -> np.ndarray:
        """The filled part; the object must not be appended to afterwards."""
        self._data.resize(self._size, refcheck=False)
        return self._data


def keep_max_per_key(packed: np.ndarray) -> np.ndarray:
    """Of each run of equal ``(row, col)`` in sorted ``packed``, keep the last (max score).

    Returns ``packed`` itself when every key is unique (the usual case), else a copy.
    """
    if len(packed) < 2:
        return packed
    a = np.empty(min(BLOCK, len(packed) - 1), np.int64)
    b = np.empty_like(a)
    drop = []
    for start in range(0, len(packed) - 1, BLOCK):
        stop = min(start + BLOCK, len(packed) - 1)
        k = stop - start
        np.right_shift(packed[start:stop], SCORE_BITS, out=a[:k])
        np.right_shift(packed[start + 1 : stop + 1], SCORE_BITS, out=b[:k])
        hit = np.flatnonzero(a[:k] == b[:k])
        if hit.size:
            drop.append(hit + start)
    if not drop:
        return packed
    return np.delete(packed, np.concatenate(drop))


def blocks_equal(x: np.ndarray, y: np.ndarray) -> bool:
    """``np.array_equal`` block by block, without a full-size boolean temporary."""
    if len(x) != len(y):
        return False
    return all(np.array_equal(x[s : s + BLOCK], y[s : s + BLOCK]) for s in range(0, len(x), BLOCK))


def reverse_edges(packed: np.ndarray, shift: int) -> np.ndarray:
    """The same packed edges with row and column swapped (same order, so unsorted)."""
    out = np.empty_like(packed)
    buf = np.empty(min(BLOCK, len(packed)), np.int64)
    col_mask = (1 << (shift - SCORE_BITS)) - 1
    for start in range(0, len(packed), BLOCK):
        stop = min(start + BLOCK, len(packed))
        src, dst, tmp = packed[start:stop], out[start:stop], buf[: stop - start]
        np.right_shift(src, shift, out=dst)  # row ...
        np.left_shift(dst, SCORE_BITS, out=dst)  # ... becomes the column
        np.bitwise_and(src, (1 << SCORE_BITS) - 1, out=tmp)
        np.bitwise_or(dst, tmp, out=dst)  # score
        np.right_shift(src, SCORE_BITS, out=tmp)
        np.bitwise_and(tmp, col_mask, out=tmp)  # column ...
        np.left_shift(tmp, shift, out=tmp)  # ... becomes the row
        np.bitwise_or(dst, tmp, out=dst)
    return out


def unpack(packed: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices (int32) and ``score / 1000`` weights (float32) of packed edges.

    Shapes:
        packed: ``[n]``; indices, weight: ``[n]``.
    """
    indices = np.empty(len(packed), np.int32)
    weight = np.empty(len(packed), np.float32)
    buf = np.empty(min(BLOCK, len(packed)), np.int64)
    col_mask = (1 << (shift - SCORE_BITS)) - 1
    for start in range(0, len(packed), BLOCK):
        stop = min(start + BLOCK, len(packed))
        k = stop - start
        np.right_shift(packed[start:stop], SCORE_BITS, out=buf[:k])
        np.bitwise_and(buf[:k], col_mask, out=buf[:k])
        indices[start:stop] = buf[:k]
        np.bitwise_and(packed[start:stop], (1 << SCORE_BITS) - 1, out=buf[:k])
        weight[start:stop] = buf[:k]
    np.divide(weight, np.float32(MAX_SCORE), out=weight)
    return indices, weight
