import numpy as np
import pytest

from genen_core.store import CSR, GraphStore, StoreBuilder, StoreError, check_csr, csr_from_edges


def test_csr_from_edges_symmetric_dedup_max_weight():
    csr = csr_from_edges([0, 1, 0, 2, 2], [1, 0, 1, 2, 3], 4, [0.2, 0.9, 0.5, 1.0, 0.3])
    check_csr(csr)
    assert csr.indptr.tolist() == [0, 1, 2, 3, 4]
    assert csr.indices.tolist() == [1, 0, 3, 2]
    assert csr.weight.tolist() == pytest.approx([0.9, 0.9, 0.3, 0.3])


def test_check_csr_rejects_asymmetric_and_self_loops():
    one_way = CSR(
        np.array([0, 1, 1], np.int64),
        np.array([1], np.int32),
        np.ones(1, np.float32),
        np.zeros(1, np.int8),
    )
    with pytest.raises(StoreError, match="symmetric"):
        check_csr(one_way)
    loop = CSR(
        np.array([0, 1, 1], np.int64),
        np.array([0], np.int32),
        np.ones(1, np.float32),
        np.zeros(1, np.int8),
    )
    with pytest.raises(StoreError, match="self-loop"):
        check_csr(loop)


def test_tiny_store_round_trip(tiny_store):
    for name in ("ppi", "gene_go", "go_go", "go", "go_ppi"):
        csr = tiny_store.csr(name)
        assert isinstance(csr.indices, np.memmap)
        check_csr(csr, name)
    go_ppi = tiny_store.csr("go_ppi")
    assert go_ppi.nnz == sum(tiny_store.csr(r).nnz for r in ("ppi", "gene_go", "go_go"))
    data = tiny_store.to_pyg("go_ppi")
    assert data.edge_index.shape == (2, go_ppi.nnz)
    assert tiny_store.gene_index["G00003"] == 3


def test_failed_build_leaves_previous_store(tiny_store):
    before = (tiny_store.path / "manifest.json").read_text()
    with pytest.raises(RuntimeError):
        with StoreBuilder(tiny_store.path, force=True) as b:
            b.write_nodes(tiny_store.nodes)
            raise RuntimeError("killed mid-build")
    assert (tiny_store.path / "manifest.json").read_text() == before
    assert not list(tiny_store.path.parent.glob(".store.building-*"))
    GraphStore.open(tiny_store.path).csr("ppi")


def test_existing_store_needs_force(tiny_store):
    with pytest.raises(FileExistsError, match="--force"):
        StoreBuilder(tiny_store.path)


def test_merge_and_check_work_in_row_blocks(monkeypatch):
    """Block boundaries must not change results: tiny blocks against one big block."""
    from genen_core.store import csr as store_module

    rng = np.random.default_rng(1)
    n = 60
    a = csr_from_edges(rng.integers(0, 30, 200), rng.integers(0, 30, 200), n, rng.random(200), 0)
    b = csr_from_edges(rng.integers(0, 60, 80), rng.integers(30, 60, 80), n, None, 1)
    whole = store_module.merge_csr([b, a])  # b first: rows need sorting
    monkeypatch.setattr(store_module, "BLOCK_ENTRIES", 7)
    blocks = list(store_module.row_blocks(whole.indptr))
    assert len(blocks) > 5 and blocks[0][0] == 0 and blocks[-1][1] == n
    assert all(r1 == s0 for (_, r1), (s0, _) in zip(blocks, blocks[1:], strict=False))
    blocked = store_module.merge_csr([b, a])
    for field in ("indptr", "indices", "weight", "etype"):
        assert np.array_equal(getattr(whole, field), getattr(blocked, field)), field
    check_csr(blocked)
    unsorted = CSR(blocked.indptr, blocked.indices[::-1].copy(), blocked.weight, blocked.etype)
    with pytest.raises(StoreError, match="unsorted"):
        check_csr(unsorted, symmetric=False)
