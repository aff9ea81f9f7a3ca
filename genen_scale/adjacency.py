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
        num_nodes: ``N``.
        crow, col, row: CSR of the ``nnz`` entries (``row`` is each entry's row).
        src_edge: For each entry, the input edge it comes from, or -1 for an added loop.
        loop_edges, loop_nodes: Input self-loops and their nodes (whose added loop takes
            their weight; with ``add_self_loops``).
        t_crow, t_col, t_perm: CSR of the transpose; entry ``j`` of it is entry
            ``t_perm[j]`` of this matrix.
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
    t_crow: Tensor
    t_col: Tensor
    t_perm: Tensor
    normalize: bool
    add_self_loops: bool
    const: Tensor | None = None

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
        rows, cols, src_edge = rows[order], cols[order], src_edge[order]
        t_perm = torch.argsort(cols * n + rows, stable=True)
        return cls(
            num_nodes=n,
            crow=_crow(rows, n),
            col=cols,
            row=rows,
            src_edge=src_edge,
            loop_edges=loop_edges,
            loop_nodes=loop_nodes,
            t_crow=_crow(cols[t_perm], n),
            t_col=rows[t_perm],
            t_perm=t_perm,
            normalize=normalize,
            add_self_loops=add_self_loops,
        )

    @property
    def nnz(self) -> int:
        return len(self.col)

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
            x: ``[N, F]``; values: ``[nnz]`` -> ``[N, F]``.
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


def _no_autocast(t: Tensor):
    # Autocast would hand the sparse matmul bfloat16 (no CPU kernel): SpMM stays float32.
    return torch.autocast(t.device.type, enabled=False)


def _csr(crow: Tensor, col: Tensor, values: Tensor, n: int) -> Tensor:
    return torch.sparse_csr_tensor(crow, col, values, size=(n, n), check_invariants=False)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: Tensor, x: Tensor, adj: Adjacency) -> Tensor:
        ctx.adj = adj
        ctx.save_for_backward(values, x)
        with _no_autocast(x):
            return _csr(adj.crow, adj.col, values.to(x.dtype), adj.num_nodes) @ x

    @staticmethod
    def backward(ctx, grad: Tensor):
        values, x = ctx.saved_tensors
        with _no_autocast(grad):
            return _SpMM._grads(ctx, values, x, ctx.adj, grad)

    @staticmethod
    def _grads(ctx, values: Tensor, x: Tensor, adj: Adjacency, grad: Tensor):
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:
            t_values = values.to(grad.dtype)[adj.t_perm]
            grad_x = _csr(adj.t_crow, adj.t_col, t_values, adj.num_nodes) @ grad
        if ctx.needs_input_grad[0]:
            grad_values = torch.empty_like(values)
            for s in range(0, adj.nnz, GRAD_CHUNK):
                r, c = adj.row[s : s + GRAD_CHUNK], adj.col[s : s + GRAD_CHUNK]
                grad_values[s : s + GRAD_CHUNK] = (grad[r] * x[c]).sum(-1).to(values.dtype)
        return grad_values, grad_x, None
