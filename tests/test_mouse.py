"""Another species end to end: mouse (10090) generated files -> ingest -> encode -> train."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from encode_helpers import save_tiny_bert, tiny_cfg

from genen_core.config import load_config
from genen_core.store import GraphStore
from genen_scale.encode import encode_store
from genen_scale.training import TrainConfig, run
from ingest.cli import main as ingest_main
from ingest.generate import PRESETS, GenerateConfig, file_names, generate
from ingest.sources import catalog


def test_mouse_pipeline(tmp_path, capsys):
    raw = tmp_path / "raw"
    generate(raw, GenerateConfig(**{**PRESETS["tiny"], "species": 10090}))
    names = file_names(10090)
    # The generator writes the catalog's own file names (STRING + MGI GAF) for mouse.
    wanted = {k: f.name for k, f in catalog("12", 10090).items() if k not in ("aliases", "obo")}
    assert {k: names[k] for k in wanted} == wanted
    info = pd.read_csv(raw / names["info"], sep="\t", quoting=3)
    assert info["#string_protein_id"].str.startswith("10090.ENSMUSP").all()
    assert info["preferred_name"].str.match(r"^[A-Z][a-z]+\d+$").all()  # MGI case: Abcd1

    # A user's screen keyed by bare Ensembl mouse protein ids, mapped through protein.info.
    rng = np.random.default_rng(0)
    pick = rng.choice(len(info), size=(40, 2))
    proteins = info["#string_protein_id"].str.split(".").str[1].to_numpy()
    screen = pd.DataFrame({"a": proteins[pick[:, 0]], "b": proteins[pick[:, 1]]})
    screen.to_csv(tmp_path / "screen.tsv", sep="\t", index=False)
    symbol = dict(zip(proteins, info["preferred_name"], strict=True))
    pairs = {tuple(sorted((symbol[a], symbol[b]))) for a, b in zip(screen.a, screen.b, strict=True)}
    pairs = {p for p in pairs if p[0] != p[1]}

    store_dir = tmp_path / "store"
    code = ingest_main(
        [
            "--out",
            str(store_dir),
            "--species",
            "10090",
            "--source-dir",
            str(raw),
            "--summaries",
            str(raw / names["summaries"]),
            "--labels",
            str(raw / names["labels"]),
            "--edges",
            f"screen={tmp_path / 'screen.tsv'}",
            "--threads",
            "1",
        ]  # fmt: skip
    )
    assert code == 0, capsys.readouterr().err
    store = GraphStore(store_dir)
    assert store.manifest["species"] == 10090
    assert store.manifest["sources"]["gaf"]["path"].endswith("mgi.gaf.gz")
    assert store.csr("gene_go").nnz > 0
    stats = store.manifest["counts"]["edge_lists"]["screen"]
    assert (stats["id_type"], stats["gene_pairs"]) == ("ensembl_protein", len(pairs))

    encode_store(store, tiny_cfg(save_tiny_bert(tmp_path / "bert")))
    cfg = load_config(
        TrainConfig,
        None,
        [
            "--data.store",
            str(store_dir),
            "--data.features",
            "tiny",
            "--data.task",
            "solubility",
            "--data.graph",
            "ppi+screen",
            "--data.fanouts",
            "[5, 5]",
            "--model.layers",
            "1",
            "--model.hidden",
            "16",
            "--optim.epochs",
            "2",
            "--eval.folds",
            "3",
            "--eval.folds_to_run",
            "[0]",
            "--scaling.num_workers",
            "0",
            "--scaling.threads_per_worker",
            "1",
            "--output_dir",
            str(tmp_path / "out"),
        ],  # fmt: skip
    )
    run_dir, summary = run(cfg)
    history = json.loads((run_dir / "history.json").read_text())
    assert [len(e) for e in history.values()] == [2]
    assert all(np.isfinite(e["loss"]) for e in history["0"])
    gnn = summary[summary.model == cfg.model.arch].iloc[0]
    assert (gnn.graph, gnn.folds) == ("ppi+screen", 1) and 0.0 <= gnn["mean"] <= 1.0
