"""Label files in the layouts of ``shared/data/labels`` (LitGene and the older GeneLLM sets).

Every task is read off the latent truth with label noise: solubility (binary: membrane vs
soluble), subcellular location (3 classes), conservation (regression, phastCons-like) and
dosage sensitivity (binary, from conservation and study level). The layouts differ on
purpose, as the real ones do: ``Gene name,StrLabel,Label,Summary`` with quoted texts,
``GeneSymbol,<Column>`` with bare values, and ``phastcons.csv`` with CRLF line ends and
``NA`` for missing values.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ingest.synthetic.genes import Genes

LOCATION_NAMES = ("Cytoplasm", "Nucleus", "Cell membrane")


def _sample(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Sorted-by-draw indices of ``max(2, share * n)`` distinct coding genes."""
    k = int(np.clip(round(share * n), 2, n))
    return rng.choice(n, k, replace=False)


def _noisy(rng: np.random.Generator, labels: np.ndarray, classes: int, noise: float) -> np.ndarray:
    flip = rng.random(len(labels)) < noise
    shift = rng.integers(1, classes, len(labels))
    return np.where(flip, (labels + shift) % classes, labels)


def _write_csv(path: Path, header: list[str], rows: list, lineterminator: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode())


def write_labels(
    rng: np.random.Generator,
    out: Path,
    genes: Genes,
    summaries: list[str],
    shares: dict[str, float],
    noise: float,
) -> dict[str, dict]:
    """Write the label CSVs under ``out`` and return ``{relative path: {rows, kind}}``."""
    c = genes.coding
    written: dict[str, dict] = {}

    # Solubility: membrane genes are insoluble; LitGene codes Membrane 0, Soluble 1.
    idx = _sample(rng, c, shares["binary"])
    soluble = _noisy(rng, (genes.cls[idx] != 2).astype(np.int64), 2, noise)
    str_label = np.where(soluble == 1, "Soluble", "Membrane")
    rows = [
        [genes.symbol[g], s, int(v), summaries[g]]
        for g, s, v in zip(idx, str_label, soluble, strict=True)
    ]
    _write_csv(out / "litgene/solubility.csv", ["Gene name", "StrLabel", "Label", "Summary"], rows)
    written["litgene/solubility.csv"] = {"rows": len(rows), "kind": "binary"}
    # The older set has its own (overlapping) gene list and only the string label.
    keep = rng.random(len(idx)) < 0.9
    rows = [[genes.symbol[g], s] for g, s in zip(idx[keep], str_label[keep], strict=True)]
    _write_csv(out / "old_litgene/solubility.csv", ["GeneSymbol", "Solubility"], rows)
    written["old_litgene/solubility.csv"] = {"rows": len(rows), "kind": "binary"}

    idx = _sample(rng, c, shares["multiclass"])
    loc = _noisy(rng, genes.cls[idx], 3, noise)
    rows = [[genes.symbol[g], LOCATION_NAMES[k]] for g, k in zip(idx, loc, strict=True)]
    _write_csv(
        out / "old_litgene/subcellular_location.csv", ["GeneSymbol", "Subcellular_location"], rows
    )
    written["old_litgene/subcellular_location.csv"] = {"rows": len(rows), "kind": "multiclass"}

    # Conservation covers every gene (non-coding ones too), some missing, CRLF like the original.
    value = np.concatenate([genes.value, rng.beta(1.2, 3.0, len(genes.symbol) - c)])
    value = np.clip(value + rng.normal(0.0, 0.05, len(value)), 0.0, 1.0)
    missing = rng.random(len(value)) < 0.017
    order = rng.permutation(len(value))
    rows = [[genes.symbol[g], "NA" if missing[g] else repr(float(value[g]))] for g in order]
    _write_csv(out / "old_litgene/phastcons.csv", ["GeneSymbol", "Conservation"], rows, "\r\n")
    written["old_litgene/phastcons.csv"] = {"rows": len(rows), "kind": "regression"}

    idx = _sample(rng, c, shares["dosage"])
    score = genes.value[idx] + 0.15 * np.log(genes.study[idx]) + rng.normal(0.0, 0.1, len(idx))
    sensitive = (score >= np.quantile(score, 0.6)).astype(np.int64)
    names = np.where(sensitive == 1, "DosageSensitive", "DosageInsensitive")
    rows = [
        [genes.symbol[g], s, int(v), summaries[g]]
        for g, s, v in zip(idx, names, sensitive, strict=True)
    ]
    _write_csv(
        out / "litgene/DosageSensitivity.csv", ["Gene name", "StrLabel", "Label", "Summary"], rows
    )
    written["litgene/DosageSensitivity.csv"] = {"rows": len(rows), "kind": "binary"}
    return written
