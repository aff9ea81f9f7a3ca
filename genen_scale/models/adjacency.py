"""GCN propagation as one sparse-dense matmul over a normalised adjacency, built once.

PyG's ``GCNConv`` on an ``edge_index`` materialises one message per edge (``[E, F]``)
and recomputes ``D^-1/2 (A + I) D^-1/2`` on every call. :class:`Adjacency` holds the
structure of ``A + I`` as CSR (row = target node, column = source node, so
``out = A @ x`` aggregates messages at their targets as PyG does) together with its
transpose, built once per graph (full batch) or once per sampled batch. Values are a
function of the per-edge weights: computed once for unweighted or fixed-weight graphs,
recomputed (``[E]`` work, no ``[E, F]`` tensor) when the weights are learned.

Semantics follow ``torch_geometric.nn.conv.gcn_conv.gcn_norm`` exactly: existing
self-loops are replaced by one loop per node carrying the existing loop's weight (1 where
a node had none), the degree is the weighted in-degree of the target, and entries of
zero-degree nodes are 0.

:func:`spmm` is differentiable in both the values and the dense input. Its backward is
written out because torch's own CSR backward with respect to the values forms a dense
``[N, N]`` gradient (measured: 17 GB and 96 s for 60k nodes); here ``dL/dx = A^T g``
uses the precomputed transpose and ``dL/dvalue_e = <g[row_e], x[col_e]>`` is computed in
edge chunks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

# Rows of [chunk, F] formed at a time in the value gradient (bounds its memory).
GRAD_CHUNK = 1 << 18

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")


def _crow(rows: Tensor, n: int) -> Tensor:
    return torch.searchsorted(rows, torch.arange(n + 1, device=rows.device))


@dataclass
class Adjacency:
    """Structure of the (self-looped) GCN adjacency of one graph, in CSR order.

    Build it with :meth:`build`; :meth:`values` turns per-edge weights into the entries
    of ``D^-1/2 (A + I) D^-1/2`` and :meth:`matmul` applies them.

    Attributes:
        num_nodes: ``N``, the rows (target nodes).
        num_cols: Columns (source nodes) when the matrix is a block of rows of a larger
            one (:meth:`prefix`); None: square.
        crow, col, row: CSR of the ``nnz`` entries (``row`` is each entry's row).
        src_edge: For each entry, the input edge it comes from, or -1 for an added loop.
        loop_edges, loop_nodes: Input self-loops and their nodes (whose added loop takes
            their weight; with ``add_self_loops``).
        t_crow, t_col, t_perm: CSR of the transpose; entry ``j`` of it is entry
            ``t_perm[j]`` of this matrix. Built on first use (:meth:`transpose`): only a
            gradient with respect to the input needs it, and a sampled batch's first
            layer (fixed input features) never does.
        normalize: Apply the symmetric normalisation.
        add_self_loops: One self-loop per node (as ``GCNConv``; needs ``normalize``).
        const: Cached values for a fixed weight vector (see :meth:`cache`).

    Shapes:
        crow, t_crow: ``[N + 1]``; col, row, src_edge, t_col, t_perm: ``[nnz]``.
    """

    num_nodes: int
    crow: Tensor
    col: Tensor
    row: Tensor
    src_edge: Tensor
    loop_edges: Tensor
    loop_nodes: Tensor
    normalize: bool
    add_self_loops: bool
    const: Tensor | None = None
    num_cols: int | None = None
    t_crow: Tensor | None = None
    t_col: Tensor | None = None
    t_perm: Tensor | None = None

    @classmethod
    def build(
        cls,
        edge_index: Tensor,
        num_nodes: int,
        normalize: bool = True,
        add_self_loops: bool = True,
    ) -> Adjacency:
        """The adjacency of ``edge_index`` (``[source, target]``), as ``GCNConv`` sees it.

        Shapes:
            edge_index: ``[2, E]``.
        """
        src, dst = edge_index[0].long(), edge_index[1].long()
        n, dev = num_nodes, edge_index.device
        ids = torch.arange(len(src), device=dev)
        if add_self_loops:
            loop = src == dst
            loop_edges, loop_nodes = ids[loop], dst[loop]
            keep = ids[~loop]
            everyone = torch.arange(n, device=dev)
            rows = torch.cat([dst[keep], everyone])
            cols = torch.cat([src[keep], everyone])
            src_edge = torch.cat([keep, torch.full((n,), -1, device=dev, dtype=torch.long)])
        else:
            loop_edges = loop_nodes = ids[:0]
            rows, cols, src_edge = dst, src, ids
        # Stable sort by (row, col): CSR order; an already target-sorted list stays put.
        order = torch.argsort(rows * n + cols, stable=True)
        return cls._assemble(
            rows[order], cols[order], src_edge[order], n, n, normalize, add_self_loops,
            loop_edges, loop_nodes,
        )  # fmt: skip

    @classmethod
    def _assemble(
        cls, rows, cols, src_edge, n_rows, n_cols, normalize, add_self_loops, loop_edges,
        loop_nodes, const=None,
    ) -> Adjacency:  # fmt: skip
        """The matrix of CSR-ordered entries."""
        return cls(
            num_nodes=n_rows,
            crow=_crow(rows, n_rows),
            col=cols,
            row=rows,
            src_edge=src_edge,
            loop_edges=loop_edges,
            loop_nodes=loop_nodes,
            normalize=normalize,
            add_self_loops=add_self_loops,
            const=const,
            num_cols=None if n_cols == n_rows else n_cols,
        )

    def restrict(self, nodes: Tensor) -> Adjacency:
        """The submatrix on ``nodes`` (new node ``i`` is ``nodes[i]``) with this matrix's
        cached values: entries keep the values normalised over the whole graph, so a row
        whose neighbours are all in ``nodes`` aggregates exactly as here.

        Shapes:
            nodes: ``[n]`` distinct node ids.
        """
        if self.const is None:
            raise ValueError("Adjacency.restrict needs cached values (unit or fixed weights)")
        local = torch.full((self.num_nodes,), -1, dtype=torch.long, device=self.col.device)
        local[nodes] = torch.arange(len(nodes), device=nodes.device)
        rows, cols, which = induced_entries(self.row, self.col, local, len(nodes))
        none = torch.empty(0, dtype=torch.long, device=rows.device)
        return self._assemble(
            rows, cols, torch.full_like(rows, -1), len(nodes), len(nodes), False, False,
            none, none, const=self.const[which],
        )  # fmt: skip

    def prefix(self, rows: int, cols: int) -> Adjacency:
        """The block of the first ``rows`` rows and ``cols`` columns (cached values), for
        rows whose entries all lie in the first ``cols`` columns (raises otherwise)."""
        if self.const is None:
            raise ValueError("Adjacency.prefix needs cached values (unit or fixed weights)")
        end = int(self.crow[rows])
        col = self.col[:end]
        if end and int(col.max()) >= cols:
            raise ValueError(f"Adjacency.prefix: the first {rows} rows reach past column {cols}")
        return self._assemble(
            self.row[:end], col, self.src_edge[:end], rows, cols, False, False,
            self.loop_edges[:0], self.loop_nodes[:0], const=self.const[:end],
        )  # fmt: skip

    def transpose(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(t_crow, t_col, t_perm)``, the CSR of the transpose (built once)."""
        if self.t_perm is None:
            rows, cols = self.shape
            self.t_perm = torch.argsort(self.col * rows + self.row, stable=True)
            self.t_crow = _crow(self.col[self.t_perm], cols)
            self.t_col = self.row[self.t_perm]
        return self.t_crow, self.t_col, self.t_perm

    def relabel_columns(self, ids: Tensor, num_cols: int) -> Adjacency:
        """The same entries with column ``c`` renamed ``ids[c]`` among ``num_cols``
        columns: a sampled batch's first layer then reads its inputs straight from the
        whole feature matrix, by global node id, instead of from a gathered copy (on the
        generated PPI store the gather took as long as the propagation)."""
        moved = dict(self.__dict__, col=ids[self.col], num_cols=num_cols)
        return Adjacency(**{**moved, "t_crow": None, "t_col": None, "t_perm": None})

    @property
    def nnz(self) -> int:
        return len(self.col)

    @property
    def shape(self) -> tuple[int, int]:
        return self.num_nodes, self.num_nodes if self.num_cols is None else self.num_cols

    def values(self, edge_weight: Tensor | None = None) -> Tensor:
        """Entries for per-edge weights (None: all 1), differentiable in ``edge_weight``.

        Shapes:
            edge_weight: ``[E]`` in input edge order -> ``[nnz]``.
        """
        if edge_weight is None:
            w = torch.ones(self.nnz, device=self.col.device)
        else:
            edge_weight = edge_weight.float()
            # Added loops weigh 1, or the weight of the node's own input loop (gcn_norm).
            loop_w = torch.ones(self.num_nodes, device=edge_weight.device)
            if len(self.loop_edges):
                loop_w = loop_w.index_put((self.loop_nodes,), edge_weight[self.loop_edges])
            is_edge = self.src_edge >= 0
            w = torch.where(
                is_edge,
                edge_weight[self.src_edge.clamp(min=0)],
                loop_w[self.row],
            )
        if not self.normalize:
            return w
        deg = torch.zeros(self.num_nodes, device=w.device, dtype=w.dtype).index_add(0, self.row, w)
        dinv = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
        return dinv[self.row] * w * dinv[self.col]

    def cache(self, edge_weight: Tensor | None = None) -> Adjacency:
        """Compute and keep the values of a fixed weight vector (unweighted or fixed)."""
        self.const = self.values(edge_weight).detach()
        return self

    def matmul(self, x: Tensor, values: Tensor | None = None) -> Tensor:
        """``A @ x`` with ``values`` (default: the cached ones).

        Shapes:
            x: ``[N, F]`` (``[num_cols, F]`` for a block); values: ``[nnz]`` -> ``[N, F]``.
        """
        if values is None:
            if self.const is None:
                raise ValueError("Adjacency.matmul: no values given and none cached")
            values = self.const
        if x.dtype != values.dtype:
            # Under bfloat16 autocast the dense input arrives in bfloat16; torch's CSR SpMM
            # has no bfloat16 kernel on the CPU, and float32 accumulation is wanted anyway.
            x = x.to(values.dtype)
        return _SpMM.apply(values, x, self)

    def to(self, device: torch.device) -> Adjacency:
        moved = {
            k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()
        }
        return Adjacency(**moved)


def induced_entries(
    row: Tensor, col: Tensor, local: Tensor, n: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The entries with both ends among ``n`` chosen nodes, relabelled and in CSR order.

    Args:
        local: Old id -> new id in ``[0, n)``, or -1 for a node left out.

    Returns:
        New rows, new columns, and the positions of those entries in ``row``/``col``.
    """
    rows, cols = local[row], local[col]
    which = torch.nonzero((rows >= 0) & (cols >= 0)).squeeze(1)
    rows, cols = rows[which], cols[which]
    order = torch.argsort(rows * n + cols, stable=True)
    return rows[order], cols[order], which[order]


def propagate_first(adj: Adjacency, fan_in: int, fan_out: int) -> bool:
    """Whether ``(A x) W`` costs fewer multiply-adds than ``A (x W)`` (equal results):
    the SpMM runs at the narrower width, and on a block of few rows the transform runs on
    those rows only. Ties keep GCNConv's order (transform first)."""
    rows, cols = adj.shape
    first = adj.nnz * fan_in + rows * fan_in * fan_out
    after = cols * fan_in * fan_out + adj.nnz * fan_out
    return first < after


def _no_autocast(t: Tensor):
    # Autocast would hand the sparse matmul bfloat16 (no CPU kernel): SpMM stays float32.
    return torch.autocast(t.device.type, enabled=False)


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    return torch.sparse_csr_tensor(crow, col, values, size=shape, check_invariants=False)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: Tensor, x: Tensor, adj: Adjacency) -> Tensor:
        ctx.adj = adj
        ctx.save_for_backward(values, x)
        with _no_autocast(x):
            return _csr(adj.crow, adj.col, values.to(x.dtype), adj.shape) @ x

    @staticmethod
    def backward(ctx, grad: Tensor):
        values, x = ctx.saved_tensors
        with _no_autocast(grad):
            return _SpMM._grads(ctx, values, x, ctx.adj, grad)

    @staticmethod
    def _grads(ctx, values: Tensor, x: Tensor, adj: Adjacency, grad: Tensor):
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:
            t_crow, t_col, t_perm = adj.transpose()
            grad_x = _csr(t_crow, t_col, values.to(grad.dtype)[t_perm], adj.shape[::-1]) @ grad
        if ctx.needs_input_grad[0]:
            grad_values = torch.empty_like(values)
            for s in range(0, adj.nnz, GRAD_CHUNK):
                r, c = adj.row[s : s + GRAD_CHUNK], adj.col[s : s + GRAD_CHUNK]
                grad_values[s : s + GRAD_CHUNK] = (grad[r] * x[c]).sum(-1).to(values.dtype)
        return grad_values, grad_x, None
