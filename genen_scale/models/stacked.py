"""K GCNs trained together as one wide model: the folds of a run share graph and features.

The folds of a cross-validation run (and sweep trials of one architecture over one graph)
differ only in which labels they see. :class:`StackedGCN` holds the weights of K
:class:`~genen_scale.models.gnn.GenenGNN` GCNs stacked along a leading fold axis and runs
them in one pass: each layer transforms ``[N, K, in]`` with a batched matmul and
propagates ``[N, K x out]`` with ONE sparse-dense matmul, so the adjacency is read once
per layer for all K instead of K times. Fold ``k`` of the stack computes exactly what
model ``k`` alone computes (up to float reassociation): the same initial weights
(:meth:`from_models`), the same dropout masks (drawn from fold ``k``'s own generator in
the lone model's order) and, since the loss is a sum of per-fold losses, the same
gradients. Adam is elementwise, so one optimiser over the stack equals K optimisers.

Only GCNs with unit or fixed edge weights stack: learned weights give every fold its own
adjacency, and GAT's attention is per model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genen_scale.models.adjacency import Adjacency, propagate_first
from genen_scale.models.gnn import GenenGNN, ModelConfig, dropout, keep_mask
from genen_scale.models.receptive import LayerGraph


def can_stack(cfg: ModelConfig) -> bool:
    """Whether models of ``cfg`` can train stacked (GCN, unit or fixed edge weights)."""
    return cfg.arch == "gcn" and cfg.edge_weight != "learned"


class StackedGCN(nn.Module):
    """K GCNs of one config, weights stacked per model; build with :meth:`from_models`.

    Attributes:
        weights, biases: Per layer (hidden layers, then the head) ``[K, out, in]`` and
            ``[K, out]``.
    """

    def __init__(self, cfg: ModelConfig, weights: list[Tensor], biases: list[Tensor]):
        super().__init__()
        if not can_stack(cfg):
            raise ValueError(
                f"model.arch={cfg.arch!r}, edge_weight={cfg.edge_weight!r}: only GCNs with "
                "unit or fixed edge weights train stacked"
            )
        self.cfg = cfg
        self.weights = nn.ParameterList(nn.Parameter(w) for w in weights)
        self.biases = nn.ParameterList(nn.Parameter(b) for b in biases)

    @classmethod
    def from_models(cls, models: list[GenenGNN]) -> StackedGCN:
        """Stack the weights of ``models`` (all of one config)."""
        cfg = models[0].cfg
        layers = [[m.convs[i] for m in models] for i in range(cfg.layers)]
        weights = [torch.stack([c.lin.weight.detach() for c in convs]) for convs in layers]
        biases = [torch.stack([c.bias.detach() for c in convs]) for convs in layers]
        heads = [m.head for m in models]
        head_w = [h.weight if isinstance(h, nn.Linear) else h.lin.weight for h in heads]
        weights.append(torch.stack([w.detach() for w in head_w]))
        biases.append(torch.stack([h.bias.detach() for h in heads]))
        return cls(cfg, [w.clone() for w in weights], [b.clone() for b in biases])

    def state_of(self, k: int) -> dict[str, Tensor]:
        """Model ``k``'s weights as a :class:`GenenGNN` ``state_dict`` (CPU copies)."""
        out = {}
        for i in range(self.cfg.layers):
            out[f"convs.{i}.lin.weight"] = self.weights[i][k]
            out[f"convs.{i}.bias"] = self.biases[i][k]
        head = "head.weight" if self.cfg.output == "linear" else "head.lin.weight"
        out[head], out["head.bias"] = self.weights[-1][k], self.biases[-1][k]
        return {name: t.detach().cpu().clone() for name, t in out.items()}

    def _layer(
        self, i: int, h: Tensor, adj: Adjacency | None, propagated: bool, models: Tensor | None
    ) -> Tensor:
        """Layer ``i`` of the models ``models`` (None: all): ``h`` is ``[N, in]`` (shared)
        or ``[N, K, in]``."""
        w, b = self.weights[i], self.biases[i]
        if models is not None:
            w, b = w[models], b[models]
        k, out_dim, in_dim = w.shape
        spmm = adj is not None and not propagated
        if spmm and propagate_first(adj, in_dim, out_dim):
            # The one SpMM of the layer, for all K models, at the input width.
            h = adj.matmul(h.reshape(len(h), -1)).view(adj.num_nodes, *h.shape[1:])
            spmm = False
        if h.dim() == 2:
            y = h @ w.reshape(k * out_dim, -1).t()  # one matmul for all K: [N, K*out]
        else:
            y = torch.einsum("nki,koi->nko", h, w).reshape(len(h), k * out_dim)
        if spmm:
            y = adj.matmul(y)  # the one SpMM of the layer, for all K models
        return y.view(len(y), k, out_dim) + b

    def _dropout(self, h: Tensor, generators: list[torch.Generator] | None) -> Tensor:
        if not self.training or self.cfg.dropout == 0.0:
            return h
        if generators is None:
            return dropout(h, self.cfg.dropout, True, None)
        # Model k's mask comes from its own stream, drawn as the lone model draws it
        # (models.dropout); one multiply applies all K masks.
        p = self.cfg.dropout
        keep = torch.empty_like(h)
        for k, g in enumerate(generators):
            keep[:, k] = keep_mask((h.shape[0], h.shape[2]), 1.0 - p, g, h.device)
        return h * keep.mul_(1.0 / (1.0 - p))

    def forward(
        self,
        x: Tensor,
        adj: Adjacency,
        ax: Tensor | None = None,
        generators: list[torch.Generator] | None = None,
        models: list[int] | None = None,
        layers: list[LayerGraph | None] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Outputs and last hidden layers of the stacked models over the whole graph.

        Args:
            x: Node features (shared by all models).
            adj: The graph's adjacency with cached values
                (:func:`~genen_scale.models.gnn.build_adjacency`).
            ax: ``adj.matmul(x)``, precomputed; the first layer then skips propagation.
            generators: One dropout stream per computed model (the lone models' streams).
            models: Which of the K models to compute (None: all). Folds that have stopped
                early drop out of the pass, so the last folds to stop do not pay for the
                others; a model's outputs do not depend on which others are computed.
            layers: Each layer's graph in a trimmed full batch (:mod:`genen_scale.models.receptive`;
                ``x``/``ax`` then hold the field's nodes), as in :meth:`GenenGNN.forward`.

        Shapes:
            x, ax: ``[N, in_dim]`` -> ``[N, K', out_dim]``, ``[N, K', hidden]`` (``K'``:
            the models computed, in the order of ``models``).
        """
        act = F.relu
        idx = None if models is None else torch.tensor(models, device=x.device)

        def graph(i: int) -> Adjacency | None:
            if layers is None:
                return adj
            return None if layers[i] is None else layers[i].adj

        h = act(self._layer(0, x if ax is None else ax, graph(0), ax is not None, idx))
        for i in range(1, self.cfg.layers):
            h = act(self._layer(i, self._dropout(h, generators), graph(i), False, idx))
        z = self._dropout(h, generators)
        head_adj = graph(self.cfg.layers) if self.cfg.output == "conv" else None
        return self._layer(self.cfg.layers, z, head_adj, False, idx), h
