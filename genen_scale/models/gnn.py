"""Genen's GNNs: GCN and GAT stacks that refine text embeddings over a gene graph.

The models know nothing of Ray or of sampling: they take node features and a (sampled or
full) ``edge_index`` in PyG's ``[source, target]`` convention and return one row per
node. Ray Train wraps them elsewhere. GCN propagates as one sparse-dense matmul per layer
when handed the graph's normalised :class:`~genen_scale.models.adjacency.Adjacency`
(:func:`build_adjacency`, built once per graph or batch); without it GCNConv's
``edge_index`` path runs, kept as the reference the sparse path is tested against.

Architecture (paper, "Methods"): ``layers`` hidden message-passing layers — GCNConv +
ReLU, or multi-head GATConv (heads concatenated) + ELU with attention dropout — each
followed by dropout, then an output layer that is a convolution (``output="conv"``; a
one-head GATConv for GAT) or a linear layer (``"linear"``; about 1% worse in the paper).
:meth:`GenenGNN.embed` returns the last hidden layer: the refined gene embeddings.

PyG's ``BasicGNN`` ``GCN``/``GAT`` are not used because its ``dropout`` argument is the
feature dropout, leaving no way to set GATConv's attention dropout, and neither exposes
the last hidden layer apart from the output layer or a per-edge learned weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv

from genen_scale.models.adjacency import Adjacency, propagate_first
from genen_scale.models.receptive import LayerGraph

ARCHS = ("gcn", "gat")
EDGE_WEIGHTS = ("none", "fixed", "learned")
OUTPUTS = ("conv", "linear")


@dataclass
class ModelConfig:
    """Configuration of a :class:`GenenGNN` (the ``model`` section of a training config)."""

    arch: Literal["gcn", "gat"] = "gcn"
    """``"gcn"`` (GCNConv, ReLU) or ``"gat"`` (GATConv, ELU)."""
    layers: int = 3
    """Hidden message-passing layers, 1-4 (paper: 3 for GCN, 2 for GAT); the output
    layer comes on top, so the receptive field is ``num_hops`` (see below)."""
    hidden: int = 256
    """Width of each hidden layer (for GAT the concatenation of all heads). The paper
    tuned it by cross-validation without reporting it; 256 is our default."""
    dropout: float = 0.5
    """Feature dropout after each hidden layer (the paper adds dropout against the
    overfitting of wide hidden layers)."""
    heads: int = 4
    """GAT attention heads per hidden layer (``hidden`` must be divisible by it)."""
    attn_dropout: float = 0.1
    """GAT dropout on the attention coefficients."""
    edge_weight: Literal["none", "fixed", "learned"] = "none"
    """GCN edge weights, the paper's three PPI variants: ``"none"`` (all 1), ``"fixed"``
    (the CSR weight, STRING score / 1000 in [0, 1]), ``"learned"`` (one trained parameter
    per stored edge). GAT learns attention instead and accepts only ``"none"``."""
    output: Literal["conv", "linear"] = "conv"
    """Output layer: a convolution (paper: ~1% better) or a linear layer."""
    normalize: bool = True
    """GCN symmetric normalisation ``D^-1/2 (A + I) D^-1/2`` (as GCNConv does)."""
    self_loops: bool = True
    """Add self-loops in every convolution, so a node keeps its own features."""

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch={self.arch!r}: choose one of {ARCHS}")
        if not 1 <= self.layers <= 4:
            raise ValueError(f"model.layers={self.layers}: choose 1-4 hidden layers")
        if self.hidden < 1:
            raise ValueError(f"model.hidden={self.hidden}: must be positive")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout={self.dropout}: must be in [0, 1)")
        if not 0 <= self.attn_dropout < 1:
            raise ValueError(f"model.attn_dropout={self.attn_dropout}: must be in [0, 1)")
        if self.heads < 1:
            raise ValueError(f"model.heads={self.heads}: must be positive")
        if self.edge_weight not in EDGE_WEIGHTS:
            raise ValueError(
                f"model.edge_weight={self.edge_weight!r}: choose one of {EDGE_WEIGHTS}"
            )
        if self.output not in OUTPUTS:
            raise ValueError(f"model.output={self.output!r}: choose one of {OUTPUTS}")
        if self.arch == "gat":
            if self.edge_weight != "none":
                raise ValueError(
                    f"model.edge_weight={self.edge_weight!r} with arch='gat': GAT weighs "
                    "neighbours by attention and takes no edge weights; use 'none' or arch='gcn'"
                )
            if self.hidden % self.heads:
                raise ValueError(
                    f"model.hidden={self.hidden} is not divisible by model.heads={self.heads}; "
                    "the heads' outputs are concatenated to `hidden`"
                )

    @property
    def num_hops(self) -> int:
        """Message-passing depth: hidden layers plus a convolutional output layer."""
        return self.layers + (self.output == "conv")


PRESETS = {
    # "GCN performs best with three hidden layers" (paper, Methods).
    "gcn": ModelConfig(arch="gcn", layers=3, hidden=256, dropout=0.5, output="conv"),
    # "GAT performs best with two hidden layers".
    "gat": ModelConfig(
        arch="gat", layers=2, hidden=256, heads=4, dropout=0.5, attn_dropout=0.1, output="conv"
    ),
}


class GenenGNN(nn.Module):
    """A GCN or GAT stack; build it with :func:`build_model`.

    With ``edge_weight="learned"``, :attr:`edge_logit` holds one parameter per stored
    CSR edge; the weight of edge ``e`` is ``sigmoid(edge_logit[e])``. A sigmoid (not a
    softplus) keeps learned weights in (0, 1), the range of the fixed STRING weights, so
    the two variants share a scale, and bounds any single edge's pull on a node.
    """

    def __init__(self, cfg: ModelConfig, in_dim: int, out_dim: int, num_edges: int | None):
        super().__init__()
        self.cfg = cfg
        dims = [in_dim] + [cfg.hidden] * cfg.layers
        self.convs = nn.ModuleList(
            self._conv(a, b, last=False) for a, b in zip(dims, dims[1:], strict=False)
        )
        if cfg.output == "conv":
            self.head = self._conv(cfg.hidden, out_dim, last=True)
        else:
            self.head = nn.Linear(cfg.hidden, out_dim)
        self.edge_logit = None
        if cfg.edge_weight == "learned":
            if not num_edges:
                raise ValueError(
                    "edge_weight='learned' needs num_edges (the CSR nnz) for one weight per edge"
                )
            # Randomly initialised, as in the paper; sigmoid(N(0, 1)) spreads around 0.5.
            self.edge_logit = nn.Parameter(torch.randn(num_edges))

    def _conv(self, in_dim: int, out_dim: int, last: bool) -> nn.Module:
        cfg = self.cfg
        if cfg.arch == "gcn":
            return GCNConv(in_dim, out_dim, normalize=cfg.normalize, add_self_loops=cfg.self_loops)
        heads = 1 if last else cfg.heads
        return GATConv(
            in_dim,
            out_dim // heads,
            heads=heads,
            concat=not last,
            dropout=cfg.attn_dropout,
            add_self_loops=cfg.self_loops,
        )

    def _edge_weight(self, edge_weight: Tensor | None, e_id: Tensor | None) -> Tensor | None:
        mode = self.cfg.edge_weight
        if mode == "none":
            return None
        if mode == "fixed":
            if edge_weight is None:
                raise ValueError("edge_weight='fixed' needs the batch's edge_weight (CSR weight)")
            return edge_weight
        if e_id is None:
            raise ValueError("edge_weight='learned' needs e_id, the CSR positions of the edges")
        return torch.sigmoid(self.edge_logit[e_id])

    def _propagate(
        self,
        conv: nn.Module,
        x: Tensor,
        edge_index: Tensor,
        w: Tensor | None,
        adj: Adjacency | None,
        values: Tensor | None,
        layer: LayerGraph | None,
    ) -> Tensor:
        if isinstance(conv, GATConv):
            if layer is None:
                return conv(x, edge_index)
            # Bipartite: sources are the inputs read, targets the rows kept (a prefix,
            # so GATConv's self-loops pair each target with itself).
            return conv((x, x[: layer.rows]), layer.edge_index)
        if layer is not None:
            adj = layer.adj  # the trimmed block, cached values
        if adj is None:  # the edge_index reference path: one [E, F] message per edge
            return conv(x, edge_index, w)
        # GCNConv is lin -> propagate -> bias; the propagation is one SpMM here, done
        # before the transform where that is cheaper (a block keeping few rows).
        if propagate_first(adj, conv.lin.in_channels, conv.lin.out_channels):
            out = conv.lin(adj.matmul(x, values))
        else:
            out = adj.matmul(conv.lin(x), values)
        return out if conv.bias is None else out + conv.bias

    def _hidden(
        self,
        x: Tensor,
        edge_index: Tensor,
        w: Tensor | None,
        adj: Adjacency | None,
        values: Tensor | None,
        ax: Tensor | None,
        generator: torch.Generator | None,
        layers: list[LayerGraph | None] | None,
    ) -> Tensor:
        act = F.relu if self.cfg.arch == "gcn" else F.elu
        for i, conv in enumerate(self.convs):
            if i:
                x = dropout(x, self.cfg.dropout, self.training, generator)
            if i == 0 and ax is not None:
                # (A x) W = A (x W): the propagated fixed input, computed once by the caller.
                h = conv.lin(ax)
                x = act(h if conv.bias is None else h + conv.bias)
            else:
                layer = layers[i] if layers else None
                x = act(self._propagate(conv, x, edge_index, w, adj, values, layer))
        return x

    def embed(self, *args, **kwargs) -> Tensor:
        """The last hidden layer (after its activation): the refined node embeddings.

        Arguments as in :meth:`forward`. Shapes: ``-> [N, hidden]``.
        """
        return self.forward(*args, **kwargs, embeddings=True)[1]

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor | None,
        edge_weight: Tensor | None = None,
        e_id: Tensor | None = None,
        adj: Adjacency | None = None,
        ax: Tensor | None = None,
        generator: torch.Generator | None = None,
        embeddings: bool = False,
        layers: list[LayerGraph | None] | None = None,
    ):
        """Predictions for every node of the (sub)graph.

        Args:
            x: Node features.
            edge_index: ``[source, target]`` local node ids (a sampled or full graph);
                GAT reads it, and GCN when ``adj`` is None (the reference path).
            edge_weight: Per-edge CSR weights; used with ``edge_weight="fixed"``.
            e_id: CSR positions of the edges; used with ``edge_weight="learned"``.
            adj: The graph's :class:`~genen_scale.models.adjacency.Adjacency` (GCN): propagate
                as one SpMM per layer; its cached values serve ``none``/``fixed``.
            ax: ``adj.matmul(x)`` precomputed (fixed weights only): the first layer
                starts from it instead of propagating ``x``.
            generator: Draws the dropout masks (default: torch's global RNG).
            embeddings: Also return the last hidden layer, from the same pass.
            layers: A trimmed full batch (:mod:`genen_scale.models.receptive`): each layer's
                graph; ``x``/``ax`` then hold the field's nodes in hop order, and rows of
                the outputs beyond the seeds are not returned.

        Shapes:
            x: ``[N, in_dim]``; edge_index: ``[2, E]``; edge_weight, e_id: ``[E]``;
            ax: ``[N, in_dim]`` -> ``[N, out_dim]`` (and ``[N, hidden]``).
        """
        w = values = None
        if adj is None or self.cfg.arch == "gat":
            w = self._edge_weight(edge_weight, e_id)
        elif self.cfg.edge_weight == "learned":
            # Recomputed each pass ([E] work): gradients flow into edge_logit.
            values = adj.values(self._edge_weight(edge_weight, e_id))
        # else: adj's cached values (build_adjacency) hold the unit or fixed weights.
        h = self._hidden(x, edge_index, w, adj, values, ax, generator, layers)
        z = dropout(h, self.cfg.dropout, self.training, generator)
        if isinstance(self.head, nn.Linear):
            out = self.head(z)
        else:
            layer = layers[self.cfg.layers] if layers else None
            out = self._propagate(self.head, z, edge_index, w, adj, values, layer)
        return (out, h) if embeddings else out


def build_adjacency(
    cfg: ModelConfig,
    edge_index: Tensor,
    num_nodes: int,
    edge_weight: Tensor | None = None,
) -> Adjacency | None:
    """The :class:`~genen_scale.models.adjacency.Adjacency` a GCN of ``cfg`` propagates over
    (None for GAT, which keeps PyG's attention path): build it once per graph or batch.

    Unit (``none``) or ``fixed`` weights are folded into cached values here; ``learned``
    values are computed from the model's parameter in every forward pass.

    Shapes:
        edge_index: ``[2, E]`` ``[source, target]``; edge_weight: ``[E]``.
    """
    if cfg.arch != "gcn":
        return None
    adj = Adjacency.build(edge_index, num_nodes, cfg.normalize, cfg.self_loops and cfg.normalize)
    if cfg.edge_weight == "none":
        return adj.cache(None)
    if cfg.edge_weight == "fixed":
        if edge_weight is None:
            raise ValueError("edge_weight='fixed' needs the batch's edge_weight (CSR weight)")
        return adj.cache(edge_weight)
    return adj


def propagate_input(adj: Adjacency | None, cfg: ModelConfig, x: Tensor) -> Tensor | None:
    """``A x`` for the first GCN layer, or None where it cannot be precomputed.

    Valid because the first layer is linear before its activation and no dropout comes
    before it, so ``(A x) W = A (x W)``; needs the adjacency's values fixed (not learned).
    """
    if adj is None or adj.const is None or cfg.edge_weight == "learned":
        return None
    return adj.matmul(x)


def dropout(x: Tensor, p: float, training: bool, generator: torch.Generator | None) -> Tensor:
    """Inverted dropout whose mask comes from ``generator``: the per-fold streams of a
    fold-stacked model (:mod:`genen_scale.models.stacked`) draw the very masks of a lone model."""
    if not training or p == 0.0:
        return x
    keep = keep_mask(x.shape, 1.0 - p, generator, x.device)
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


def keep_mask(
    shape: tuple[int, ...], keep: float, generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """A Bernoulli(``keep``) mask at 16-bit resolution (exact for ``keep`` = 0.5).

    Drawn as uniform 64-bit words, each read as four 16-bit numbers: torch's
    ``bernoulli_`` with a generator draws one number per element, one at a time (measured
    on the real GO+PPI graph: 250 ms for a ``[64k, 256]`` mask on 2 cores, a quarter of a
    stacked GCN epoch); this is about 3x cheaper.
    """
    n = math.prod(shape)
    words = torch.empty(-(-n // 4), dtype=torch.int64, device=device)
    words.random_(-(2**63), None, generator=generator)  # every 64-bit pattern alike
    uniform16 = words.view(torch.int16)[:n].view(shape)  # uniform on [-32768, 32767]
    return uniform16 < round(keep * 65536) - 32768


def build_model(
    cfg: ModelConfig, in_dim: int, out_dim: int, num_edges: int | None = None
) -> GenenGNN:
    """Build the GNN of ``cfg`` for ``in_dim`` features and ``out_dim`` outputs.

    Args:
        cfg: Model configuration.
        in_dim: Feature width (the text encoder's embedding size).
        out_dim: Output width (classes, or 1 for regression).
        num_edges: CSR nnz; required for ``edge_weight="learned"``.
    """
    if in_dim < 1 or out_dim < 1:
        raise ValueError(f"in_dim={in_dim}, out_dim={out_dim}: both must be positive")
    return GenenGNN(cfg, in_dim, out_dim, num_edges)
