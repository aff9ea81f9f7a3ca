"""GCN/GAT models: shapes, config checks, learned edge weights, training, sampled == full."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genen_core.store import csr_from_edges
from genen_scale.models.gnn import (
    PRESETS,
    ModelConfig,
    build_adjacency,
    build_model,
    propagate_input,
)
from genen_scale.sampling import full_batch, make_neighbor_loader

VARIANTS = [
    ("gcn", "conv", "none"),
    ("gcn", "conv", "fixed"),
    ("gcn", "conv", "learned"),
    ("gcn", "linear", "none"),
    ("gcn", "linear", "fixed"),
    ("gcn", "linear", "learned"),
    ("gat", "conv", "none"),
    ("gat", "linear", "none"),
]


@pytest.fixture(autouse=True)
def one_thread():
    """Run single-threaded: these graphs are too small to gain from intra-op threads, and
    on a shared machine OpenMP threads wait behind other processes (~30x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_cfg(arch, output, edge_weight, **kw) -> ModelConfig:
    base = dict(layers=2, hidden=16, heads=4, dropout=0.0, attn_dropout=0.0)
    return ModelConfig(arch=arch, output=output, edge_weight=edge_weight, **{**base, **kw})


@pytest.fixture
def graph(tiny_store):
    csr = tiny_store.csr("go_ppi")
    x = np.random.default_rng(0).standard_normal((tiny_store.num_nodes, 12)).astype(np.float32)
    return csr, x, full_batch(csr, x)


@pytest.mark.parametrize("arch,output,edge_weight", VARIANTS)
def test_shapes(graph, arch, output, edge_weight):
    csr, _, data = graph
    torch.manual_seed(0)
    model = build_model(small_cfg(arch, output, edge_weight), 12, 3, num_edges=csr.nnz)
    args = (data.x, data.edge_index, data.edge_weight, data.e_id)
    assert model(*args).shape == (data.num_nodes, 3)
    assert model.embed(*args).shape == (data.num_nodes, 16)


def test_presets_follow_the_paper(graph):
    assert PRESETS["gcn"].arch == "gcn" and PRESETS["gcn"].layers == 3
    assert PRESETS["gat"].arch == "gat" and PRESETS["gat"].layers == 2
    assert PRESETS["gcn"].num_hops == 4 and PRESETS["gat"].num_hops == 3
    _, _, data = graph
    for cfg in PRESETS.values():
        model = build_model(cfg, 12, 2)
        assert len(model.convs) == cfg.layers
        assert model.embed(data.x, data.edge_index).shape == (data.num_nodes, cfg.hidden)


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(arch="gin"), "model.arch='gin'"),
        (dict(layers=5), "model.layers=5"),
        (dict(dropout=1.0), "model.dropout=1.0"),
        (dict(arch="gat", edge_weight="fixed"), "with arch='gat'"),
        (dict(arch="gat", hidden=30, heads=4), "not divisible"),
        (dict(output="mlp"), "model.output='mlp'"),
    ],
)
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(ModelConfig(), **change)


def test_missing_edge_inputs_are_errors(graph):
    _, _, data = graph
    with pytest.raises(ValueError, match="needs num_edges"):
        build_model(small_cfg("gcn", "conv", "learned"), 12, 2)
    fixed = build_model(small_cfg("gcn", "conv", "fixed"), 12, 2)
    with pytest.raises(ValueError, match="needs the batch's edge_weight"):
        fixed(data.x, data.edge_index)
    learned = build_model(small_cfg("gcn", "conv", "learned"), 12, 2, num_edges=data.num_edges)
    with pytest.raises(ValueError, match="needs e_id"):
        learned(data.x, data.edge_index, data.edge_weight)


def test_learned_edge_weights_get_gradients_only_where_used(graph):
    csr, x, _ = graph
    torch.manual_seed(0)
    model = build_model(small_cfg("gcn", "conv", "learned"), 12, 2, num_edges=csr.nnz)
    batch = next(iter(make_neighbor_loader(csr, x, torch.arange(40), [4, 3], 40, False, 0)))
    out = model(batch.x, batch.edge_index, batch.edge_weight, batch.e_id)
    out[: batch.batch_size].sum().backward()
    grad = model.edge_logit.grad
    used = torch.zeros(csr.nnz, dtype=torch.bool)
    used[batch.e_id] = True
    assert bool((grad[~used] == 0).all())
    assert bool((grad[used] != 0).any())
    # The weights also differ from the fixed ones: they come from the parameter.
    w = model._edge_weight(batch.edge_weight, batch.e_id)
    assert bool(((w > 0) & (w < 1)).all()) and not torch.allclose(w, batch.edge_weight)


@pytest.mark.parametrize(
    "arch,edge_weight", [("gcn", "fixed"), ("gcn", "learned"), ("gat", "none")]
)
def test_full_batch_training_reduces_loss(tiny_store, arch, edge_weight):
    csr = tiny_store.csr("ppi")
    n_genes = tiny_store.num_genes
    labels = tiny_store.labels.to_pandas()
    toy = labels[labels.task == "toy_binary"]
    y = torch.from_numpy(toy.label.to_numpy()).long()
    nodes = torch.from_numpy(toy.node.to_numpy())
    x = np.random.default_rng(0).standard_normal((tiny_store.num_nodes, 16)).astype(np.float32)
    data = full_batch(csr, x)
    torch.manual_seed(0)
    model = build_model(small_cfg(arch, "conv", edge_weight, dropout=0.2), 16, 2, num_edges=csr.nnz)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        out = model(data.x, data.edge_index, data.edge_weight, data.e_id)
        loss = F.cross_entropy(out[nodes], y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert nodes.max() < n_genes
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize(
    "arch,output,edge_weight",
    [
        ("gcn", "conv", "fixed"),
        ("gcn", "linear", "learned"),
        ("gcn", "conv", "none"),
        ("gat", "conv", "none"),
    ],
)
def test_sampled_batch_equals_full_graph_on_seeds(arch, output, edge_weight):
    """With fanouts >= the maximum degree, a batch holds each seed's whole receptive field.

    GCN needs one hop more than it has layers: its normalisation uses the degree of each
    source node, and only expanded nodes have all their edges in the batch. GAT's softmax
    runs over the in-edges of targets only, so ``num_hops`` hops suffice.
    """
    # Sparse enough that 4-5 hops reach only part of the graph.
    rng = np.random.default_rng(3)
    n = 400
    csr = csr_from_edges(rng.integers(0, n, 500), rng.integers(0, n, 500), n, rng.random(500))
    x = rng.standard_normal((n, 12)).astype(np.float32)
    data = full_batch(csr, x)
    torch.manual_seed(0)
    cfg = small_cfg(arch, output, edge_weight)
    model = build_model(cfg, 12, 3, num_edges=csr.nnz).eval()
    hops = cfg.num_hops + (arch == "gcn")
    fanout = int(np.diff(csr.indptr).max())
    seeds = torch.tensor([7, 0, 123, 299, 45, 310])
    batch = next(iter(make_neighbor_loader(csr, x, seeds, [fanout] * hops, 6, False, 0)))
    with torch.no_grad():
        full = model(data.x, data.edge_index, data.edge_weight, data.e_id)[seeds]
        sampled = model(batch.x, batch.edge_index, batch.edge_weight, batch.e_id)
    assert batch.edge_index.shape[1] < data.edge_index.shape[1], "the batch must be a subgraph"
    torch.testing.assert_close(sampled[: batch.batch_size], full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "arch,output,edge_weight",
    [("gcn", "conv", "none"), ("gcn", "linear", "fixed"), ("gat", "conv", "none")],
)
def test_trimmed_sampled_batch_equals_untrimmed_at_the_seeds(arch, output, edge_weight):
    """A sampled batch's layers keep only the rows a later layer reads (the seeds and
    their hop-1 nodes, then the seeds): the seeds' outputs and gradients are those of
    propagating over every sampled node."""
    from genen_scale.training.batches import GraphBatches

    rng = np.random.default_rng(5)
    n = 300
    src, dst = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    csr = csr_from_edges(src, dst, n, rng.random(3000))
    x = torch.from_numpy(rng.standard_normal((n, 12)).astype(np.float32))
    cfg = small_cfg(arch, output, edge_weight)
    torch.manual_seed(0)
    model = build_model(cfg, 12, 3, num_edges=csr.nnz).eval()
    batches = GraphBatches(csr, x, [4] * cfg.num_hops, 16, False, torch.device("cpu"), cfg)
    nodes, checked = torch.arange(0, 64), 0
    # The same sample again, for the untrimmed pass over the batch's own features.
    raw = make_neighbor_loader(csr, None, nodes, [4] * cfg.num_hops, 16, False, seed=1)
    for b, r in zip(batches(nodes, seed=1), raw, strict=True):
        assert b.layers is not None and b.layers[0].rows < r.num_nodes and b.layers[-1].rows == 16
        outs = []
        for trimmed in (b.inputs(), {**b.inputs(), "layers": None, "x": x[r.n_id]}):
            model.zero_grad()
            out = model(**trimmed)[b.seed_pos]
            out.square().sum().backward()
            outs.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
        torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-5)
        for g_trim, g_full in zip(outs[0][1], outs[1][1], strict=True):
            torch.testing.assert_close(g_trim, g_full, rtol=1e-4, atol=1e-5)
        checked += 1
    assert checked == 4


@pytest.mark.parametrize("output", ["conv", "linear"])
@pytest.mark.parametrize("edge_weight", ["none", "fixed", "learned"])
def test_sparse_adjacency_equals_edge_index_path(edge_weight, output):
    """One SpMM per layer over D^-1/2 (A + I) D^-1/2 gives GCNConv's outputs and gradients
    (model parameters, learned edge weights and the input), self-loops in the input
    included; the precomputed first-layer propagation A x gives the same again."""
    rng = np.random.default_rng(5)
    n, m = 300, 1500
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    src[:20] = dst[:20]  # some input self-loops: gcn_norm keeps their weight
    csr = csr_from_edges(src, dst, n, rng.random(m))
    x = rng.standard_normal((n, 12)).astype(np.float32)
    data = full_batch(csr, x)
    cfg = small_cfg("gcn", output, edge_weight, dropout=0.3)
    adj = build_adjacency(cfg, data.edge_index, n, data.edge_weight)

    def run(**kw):
        torch.manual_seed(0)
        model = build_model(cfg, 12, 3, num_edges=csr.nnz)
        xx = data.x.clone().requires_grad_()
        out, h = model(
            xx,
            data.edge_index,
            data.edge_weight,
            data.e_id,
            generator=torch.Generator().manual_seed(1),
            embeddings=True,
            **{k: (v(xx) if callable(v) else v) for k, v in kw.items()},
        )
        (out.square().sum() + h.sum()).backward()
        grads = {k: p.grad for k, p in model.named_parameters()}
        return out, h, grads, xx.grad

    ref = run()
    for kw in ({"adj": adj}, {"adj": adj, "ax": lambda xx: propagate_input(adj, cfg, xx)}):
        if "ax" in kw and edge_weight == "learned":
            assert propagate_input(adj, cfg, data.x) is None  # A depends on parameters
            continue
        got = run(**kw)
        torch.testing.assert_close(got[0], ref[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got[1], ref[1], rtol=1e-5, atol=1e-5)
        assert got[2].keys() == ref[2].keys()
        for k in ref[2]:
            torch.testing.assert_close(got[2][k], ref[2][k], rtol=1e-4, atol=1e-5, msg=k)
        torch.testing.assert_close(got[3], ref[3], rtol=1e-4, atol=1e-5)
    if edge_weight == "learned":
        assert ref[2]["edge_logit"].abs().sum() > 0


@pytest.mark.parametrize("output", ["conv", "linear"])
def test_stacked_subset_computes_those_models_alone(graph, output):
    """``StackedGCN(models=[...])``: the chosen models' outputs, as in the full pass, with
    gradients only in their slices (stopped folds drop out of the pass)."""
    from genen_scale.models.stacked import StackedGCN

    csr, x, data = graph
    cfg = small_cfg("gcn", output, "none", dropout=0.0)
    adj = build_adjacency(cfg, data.edge_index, data.num_nodes)
    models = []
    for k in range(4):
        torch.manual_seed(k)
        models.append(build_model(cfg, x.shape[1], 3))
    stack = StackedGCN.from_models(models).eval()
    full, h_full = stack(data.x, adj)
    sub, h_sub = stack(data.x, adj, models=[3, 1])
    torch.testing.assert_close(sub, full[:, [3, 1]])
    torch.testing.assert_close(h_sub, h_full[:, [3, 1]])
    sub.sum().backward()
    for w in stack.weights:
        assert w.grad[[0, 2]].abs().sum() == 0 and w.grad[[1, 3]].abs().sum() > 0


def test_keep_mask_is_bernoulli_and_follows_its_generator():
    from genen_scale.models.gnn import keep_mask

    draw = lambda keep, seed: keep_mask((400, 300), keep, torch.Generator().manual_seed(seed), None)  # noqa: E731
    for keep in (0.5, 0.8, 0.9):
        m = draw(keep, 0)
        assert m.dtype == torch.bool and abs(m.float().mean().item() - keep) < 0.005
        assert abs(m[:, :1].float().mean() - m[:, -1:].float().mean()) < 0.1  # no column bias
    assert torch.equal(draw(0.5, 3), draw(0.5, 3)) and not torch.equal(draw(0.5, 3), draw(0.5, 4))


@pytest.mark.parametrize(
    "arch,output,edge_weight",
    [("gcn", "conv", "none"), ("gcn", "conv", "fixed"), ("gcn", "linear", "none"),
     ("gat", "conv", "none"), ("gat", "linear", "none")],
)  # fmt: skip
def test_receptive_field_equals_the_whole_graph_at_the_seeds(tiny_store, arch, output, edge_weight):
    """A full batch trimmed to the seeds' receptive field, layer by layer, gives the whole
    graph's outputs and parameter gradients at the seeds, and computes fewer rows (on the
    PPI graph the GO nodes are out of every gene's reach)."""
    from genen_scale.models.receptive import receptive_field

    x = np.random.default_rng(0).standard_normal((tiny_store.num_nodes, 12)).astype(np.float32)
    data = full_batch(tiny_store.csr("ppi"), x)
    cfg = small_cfg(arch, output, edge_weight, layers=3, hidden=8)
    torch.manual_seed(0)
    model = build_model(cfg, x.shape[1], 3)
    adj = build_adjacency(cfg, data.edge_index, data.num_nodes, data.edge_weight)
    ax = propagate_input(adj, cfg, data.x)
    genes = tiny_store.num_genes
    seeds = torch.from_numpy(np.random.default_rng(1).choice(genes, 15, replace=False))
    field = receptive_field(
        cfg.num_hops, data.edge_index, data.num_nodes, seeds, adj, ax is not None
    )
    assert torch.equal(field.nodes[:15], seeds) and field.within == sorted(field.within)
    assert field.within[-1] < data.num_nodes, "the tiny graph must leave nodes out of reach"
    assert field.positions(seeds).tolist() == list(range(15))
    assert field.positions(field.nodes[-1:]) is None or field.within[0] == len(field.nodes)

    whole = model(data.x, data.edge_index, data.edge_weight, adj=adj, ax=ax)[seeds]
    whole.square().sum().backward()
    ref = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()
    trimmed = model(
        data.x[field.nodes],
        None,
        data.edge_weight,
        ax=None if ax is None else ax[field.nodes],
        layers=field.layers,
    )
    assert len(trimmed) == 15  # only the seeds' rows come out of the last layer
    torch.testing.assert_close(trimmed, whole, rtol=1e-5, atol=1e-6)
    trimmed.square().sum().backward()
    for k, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref[k], rtol=1e-4, atol=1e-6, msg=k)


def test_stacked_receptive_field_equals_the_whole_graph(graph):
    from genen_scale.models.receptive import receptive_field
    from genen_scale.models.stacked import StackedGCN

    csr, x, data = graph
    cfg = small_cfg("gcn", "conv", "none", layers=2)
    models = []
    for k in range(3):
        torch.manual_seed(k)
        models.append(build_model(cfg, x.shape[1], 3))
    stack = StackedGCN.from_models(models).eval()
    adj = build_adjacency(cfg, data.edge_index, data.num_nodes)
    ax = propagate_input(adj, cfg, data.x)
    seeds = torch.arange(0, data.num_nodes, 7)
    field = receptive_field(cfg.num_hops, data.edge_index, data.num_nodes, seeds, adj, True)
    whole, _ = stack(data.x, adj, ax, models=[2, 0])
    trimmed, _ = stack(
        data.x[field.nodes], None, ax[field.nodes], models=[2, 0], layers=field.layers
    )
    torch.testing.assert_close(trimmed, whole[seeds], rtol=1e-5, atol=1e-6)


def test_propagate_first_picks_the_cheaper_order():
    from genen_scale.models.adjacency import Adjacency, propagate_first

    i = torch.arange(99)
    path = torch.cat([torch.stack([i, i + 1]), torch.stack([i + 1, i])], dim=1)
    adj = Adjacency.build(path, 100).cache()
    assert not propagate_first(adj, 64, 64)  # a tie keeps GCNConv's order
    assert not propagate_first(adj, 256, 2) and propagate_first(adj, 2, 256)
    block = adj.prefix(5, 6)  # few rows kept: transform those rows only
    assert block.shape == (5, 6) and propagate_first(block, 64, 64)
    x = torch.randn(6, 3)
    torch.testing.assert_close(block.matmul(x), adj.matmul(torch.cat([x, torch.zeros(94, 3)]))[:5])
    with pytest.raises(ValueError, match="reach past column"):
        adj.prefix(5, 5)
