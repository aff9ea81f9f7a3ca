"""STRING-shaped protein links: a block Chung–Lu graph streamed row by row.

Every unordered protein pair ``{i, j}`` is an edge with probability
``p_ij = min(1, c * w_i * w_j * g_ij)``: ``w`` are heavy-tailed expected degrees (a capped
power law), ``g_ij`` raises the odds of pairs in the same latent module and the same latent
class (homophily, so the graph carries label signal), and ``c`` is solved so that the
expected number of link lines equals the requested count.

Instead of drawing the edge list, each pair's coin is a hash of ``(min(i, j), max(i, j),
seed)``. Any row of the adjacency can then be computed on its own and agrees with every other
row, so the file is written in STRING's order (grouped by ``protein1``, each pair listed in
both directions) one block of rows at a time, in memory that does not grow with the number
of links.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# SplitMix64 finaliser constants (Steele et al. 2014): a cheap, well-mixed 64-bit hash.
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = 0x9E3779B97F4A7C15
_TWO53 = float(2**53)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, in place on a ``uint64`` array (wrapping arithmetic).

    Shapes:
        x: any shape, ``uint64``; returned with the same shape.
    """
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def pair_uniform(rows: np.ndarray, cols: np.ndarray, n: int, salt: int) -> np.ndarray:
    """A uniform [0, 1) number per unordered pair, the same for ``(i, j)`` and ``(j, i)``.

    Shapes:
        rows: ``[B, 1]`` or ``[E]``, cols: ``[1, N]`` or ``[E]`` (broadcastable), int64;
        returns the broadcast shape, float64.
    """
    lo = np.minimum(rows, cols).astype(np.uint64)
    hi = np.maximum(rows, cols).astype(np.uint64)
    key = lo * np.uint64(n) + hi
    key ^= np.uint64((salt * _GOLDEN) & 0xFFFFFFFFFFFFFFFF)
    return (mix64(key) >> np.uint64(11)).astype(np.float64) / _TWO53


def degree_weights(
    n: int, spread: float, exponent: float, cap: float, rng: np.random.Generator
) -> np.ndarray:
    """Heavy-tailed expected degrees: a log-normal body times a Pareto tail, capped.

    The log-normal factor (``spread`` = its sigma) gives the broad body of STRING's degree
    distribution (a few proteins with a handful of links, most with hundreds); the Pareto
    factor (tail ``exponent``) gives the hubs; ``cap`` (a multiple of the median) bounds
    them, as STRING's largest hubs link to about half the proteome.

    Shapes:
        returns ``[n]`` float64 with median about 1.
    """
    body = np.exp(rng.normal(0.0, spread, n))
    tail = (1.0 - rng.random(n)) ** (-1.0 / (exponent - 1.0))
    w = body * tail
    w /= np.median(w)
    return np.minimum(w, cap)


@dataclass(frozen=True)
class BlockModel:
    """Edge probabilities ``p_ij = min(1, scale * w_i * w_j * (1 + a[same module] + b[same class]))``.

    Attributes:
        weight: ``[N]`` expected-degree weights.
        module: ``[N]`` int latent module of each protein (modules nest inside classes).
        cls: ``[N]`` int latent class of each protein.
        module_boost: ``a``; class_boost: ``b``; scale: ``c``.
    """

    weight: np.ndarray
    module: np.ndarray
    cls: np.ndarray
    module_boost: float
    class_boost: float
    scale: float

    @property
    def n(self) -> int:
        return len(self.weight)

    def prob_block(self, r0: int, r1: int) -> np.ndarray:
        """Edge probabilities of rows ``r0:r1`` against every protein (diagonal zeroed).

        Shapes:
            returns ``[r1 - r0, N]`` float64.
        """
        w, m, k = self.weight, self.module, self.cls
        g = 1.0 + self.class_boost * (k[r0:r1, None] == k[None, :])
        g += self.module_boost * (m[r0:r1, None] == m[None, :])
        p = g
        p *= (self.scale * w[r0:r1])[:, None]
        p *= w[None, :]
        np.minimum(p, 1.0, out=p)
        p[np.arange(r1 - r0), np.arange(r0, r1)] = 0.0
        return p

    def expected_lines(self, scale: float | None = None) -> float:
        """Expected number of directed link lines, ``sum_{i != j} p_ij``, in O(N log N).

        For a fixed row the sum over a group of columns that shares one boost ``g`` is
        ``sum_j min(1, k w_j)`` with ``k = c w_i g``: the columns with ``w_j < 1/k`` add
        ``k w_j``, the rest add 1, which sorted weights and prefix sums give at once.
        """
        c = self.scale if scale is None else scale
        a, b = self.module_boost, self.class_boost
        total = _capped_sum(self.weight, c * self.weight)  # every pair at g = 1
        for labels, boost_in, boost_out in (
            (self.cls, 1.0 + b, 1.0),
            (self.module, 1.0 + a + b, 1.0 + b),
        ):
            # Within a group, swap the outer level's boost for this level's.
            for grp in np.unique(labels):
                idx = labels == grp
                wg = self.weight[idx]
                total += _capped_sum(wg, c * wg * boost_in) - _capped_sum(wg, c * wg * boost_out)
        diag = np.minimum(1.0, c * self.weight**2 * (1.0 + a + b)).sum()
        return float(total - diag)


def _capped_sum(w: np.ndarray, k: np.ndarray) -> float:
    """``sum_i sum_j min(1, k_i w_j)`` over all ``i`` (rows) and ``j`` (columns) of ``w``."""
    ws = np.sort(w)
    prefix = np.concatenate([[0.0], np.cumsum(ws)])
    cut = np.searchsorted(ws, 1.0 / k, side="left")
    return float((k * prefix[cut]).sum() + (len(ws) - cut).sum())


def homophily_boosts(
    weight: np.ndarray, module: np.ndarray, cls: np.ndarray, module_share: float, class_share: float
) -> tuple[float, float]:
    """Boosts ``(a, b)`` that put ``module_share`` / ``class_share`` of the (uncapped) edge
    mass inside modules / inside classes.

    With ``Q_m = sum_m W_m^2 / W^2`` and ``Q_c`` the same over classes, the shares are
    ``s_m = (1+a+b) Q_m / Z`` and ``s_c = [(1+a+b) Q_m + (1+b)(Q_c - Q_m)] / Z`` with
    ``Z = (1 - Q_c) / (1 - s_c)``; solving gives the two boosts. The cap at probability 1
    later trims the densest blocks, so realised shares come out somewhat lower.
    """
    total = weight.sum() ** 2
    qm = float((np.bincount(module, weights=weight) ** 2).sum() / total)
    qc = float((np.bincount(cls, weights=weight) ** 2).sum() / total)
    if not (qm < module_share < class_share < 1.0 and class_share > qc):
        raise ValueError(
            f"need chance shares < module_share={module_share} < class_share={class_share} < 1 "
            f"(chance: module {qm:.3f}, class {qc:.3f}); raise the shares or use more modules"
        )
    z = (1.0 - qc) / (1.0 - class_share)
    one_ab = module_share * z / qm
    one_b = max(1.0, (class_share - module_share) * z / (qc - qm))
    return max(0.0, one_ab - one_b), one_b - 1.0


def solve_scale(model: BlockModel, target_lines: int) -> float:
    """The ``scale`` whose expected number of link lines is ``target_lines`` (bisection)."""
    max_lines = model.n * (model.n - 1)
    if not 0 < target_lines < max_lines:
        raise ValueError(
            f"links={target_lines} is impossible for {model.n} proteins "
            f"(must be between 1 and {max_lines - 1}); lower links or raise proteins"
        )
    lo, hi = 0.0, 1.0
    while model.expected_lines(hi) < target_lines:
        hi *= 2.0
    # Expected lines grow monotonically with the scale; 60 halvings reach float precision.
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if model.expected_lines(mid) < target_lines:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def score_from_uniform(u: np.ndarray, same_module: np.ndarray) -> np.ndarray:
    """STRING-like ``combined_score`` in 150..999, heavy at the low end.

    ``150 + 849 u^7.5`` puts about 15% of links at >= 400 and 5% at >= 700, close to STRING
    human at the 150 threshold. Links inside a module get ``u^3``: high-confidence links are
    the functional ones, so the >= 700 subgraph is more homophilous than the whole.

    Shapes:
        u, same_module: ``[E]``; returns ``[E]`` int16.
    """
    power = np.where(same_module, 3.0, 7.5)
    return (150 + np.floor(849.999 * u**power)).astype(np.int16)


def link_rows(model: BlockModel, r0: int, r1: int, salt: int) -> tuple[np.ndarray, ...]:
    """The links of protein rows ``r0:r1`` in file order: ``(protein1, protein2, score)``.

    Shapes:
        returns three ``[E]`` arrays (int64, int64, int16), sorted by protein1 then protein2.
    """
    p = model.prob_block(r0, r1)
    rows = np.arange(r0, r1, dtype=np.int64)[:, None]
    cols = np.arange(model.n, dtype=np.int64)[None, :]
    hit = pair_uniform(rows, cols, model.n, salt) < p
    del p
    bi, j = np.nonzero(hit)
    i = bi.astype(np.int64) + r0
    j = j.astype(np.int64)
    u = pair_uniform(i, j, model.n, salt + 1)
    return i, j, score_from_uniform(u, model.module[i] == model.module[j])


def format_links(ids: np.ndarray, i: np.ndarray, j: np.ndarray, score: np.ndarray) -> bytes:
    """STRING ``protein.links`` lines as bytes, built as a fixed-width byte matrix.

    Every protein id has the same width and every score three digits, so each line is
    ``id1 ' ' id2 ' ' ddd '\\n'`` and the whole block is a gather into a ``uint8`` matrix:
    no per-line Python work.

    Shapes:
        ids: ``[N, W]`` uint8 (ASCII protein ids); i, j, score: ``[E]``; returns
        ``E * (2W + 6)`` bytes.
    """
    width = ids.shape[1]
    out = np.empty((len(i), 2 * width + 6), dtype=np.uint8)
    out[:, :width] = ids[i]
    out[:, width] = ord(" ")
    out[:, width + 1 : 2 * width + 1] = ids[j]
    out[:, 2 * width + 1] = ord(" ")
    s = score.astype(np.int16)
    out[:, 2 * width + 2] = ord("0") + s // 100
    out[:, 2 * width + 3] = ord("0") + (s // 10) % 10
    out[:, 2 * width + 4] = ord("0") + s % 10
    out[:, -1] = ord("\n")
    return out.tobytes()
